"""`napari-dacapo info`: the summary a user sees, from hand-derived numbers."""

import os
import subprocess
import sys

import pytest

from napari_dacapo.architectures import CNNectomeUNetConfig, DummyArchitectureConfig, as_architecture
from napari_dacapo.cli import main
from napari_dacapo.io import config_from_dict
from napari_dacapo.networks import demo_model, demo_models, example_config_paths, resolve_config
from napari_dacapo.summary import summarize, summarize_config


def test_info_on_a_bundled_example(capsys):
    assert main(["info", "cellmap_unet3d"]) == 0
    out = capsys.readouterr().out
    # three (2,2,2) levels, 3-convs: 132 -> 40 and 196 -> 104, context 92
    assert "132 × 132 × 132 → 40 × 40 × 40" in out
    assert "196 × 196 × 196 → 104 × 104 × 104" in out
    assert "context:            92 × 92 × 92" in out


def test_info_on_super_resolution_example(capsys):
    assert main(["info", "superres_unet3d"]) == 0
    assert "input voxel size / (2 × 2 × 2)" in capsys.readouterr().out


def test_info_reports_errors_in_one_line(tmp_path, capsys):
    assert main(["info", str(tmp_path / "absent.yaml")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("napari-dacapo: error:") and "absent.yaml" in err


def test_console_script_runs():
    result = subprocess.run(
        [sys.executable, "-m", "napari_dacapo", "info", "unet2d"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "252 × 252 → 212 × 212" in result.stdout


def test_info_with_weights_measures_the_network_with_its_head(capsys):
    model = demo_model(2)
    assert main(["info", str(model.config_path), "--weights", str(model.weights_path)]) == 0
    out = capsys.readouterr().out
    # the U-Net's 28,104 parameters and the checkpoint's 8 -> 1 channel head (8 weights, 1 bias)
    assert "2D, 1 → 1 channels" in out and "parameters:         28,113" in out


# the summary of a config is arithmetic; it must give what torch measures on the built network
UNET2D = dict(
    __type__="CNNectomeUNetConfig",
    name="variant",
    input_shape=[92, 92],
    fmaps_out=3,
    fmaps_in=2,
    num_fmaps=4,
    fmap_inc_factor=3,
    downsample_factors=[[2, 2]],
)
UNET3D = dict(
    UNET2D,
    input_shape=[20, 76, 76],
    downsample_factors=[[1, 2, 2], [2, 2, 2]],
    kernel_size_down=[[[1, 3, 3], [1, 3, 3]], [[3, 3, 3]], [[3, 3, 3], [3, 3, 3]]],
    kernel_size_up=[[[1, 3, 3], [1, 3, 3]], [[3, 3, 3]]],
)
VARIANTS = {
    "2d": UNET2D,
    "2d-batch-norm": dict(UNET2D, batch_norm=True),
    "2d-transposed-conv": dict(UNET2D, constant_upsample=False),
    "2d-same-padding": dict(UNET2D, padding="same", input_shape=[64, 64]),
    "2d-attention-batch-norm": dict(UNET2D, use_attention=True, batch_norm=True, downsample_factors=[[2, 2], [2, 2]]),
    "3d-anisotropic": dict(UNET3D, _eval_shape_increase=[4, 16, 16]),
    "3d-attention-transposed": dict(UNET3D, use_attention=True, constant_upsample=False),
    "3d-super-resolution": dict(UNET3D, upsample_factors=[[1, 2, 2], [2, 1, 1]], batch_norm=True),
}


def all_configs():
    configs = {name: resolve_config(name) for name in [*example_config_paths(), *demo_models()]}
    configs.update({name: config_from_dict(values) for name, values in VARIANTS.items()})
    return configs


@pytest.mark.parametrize("name", list(all_configs()))
def test_the_summary_of_a_config_is_what_the_built_network_measures(name):
    config = all_configs()[name]
    assert summarize_config(config) == summarize(as_architecture(config), config.name)


def test_the_summary_of_a_config_does_not_build_the_network(monkeypatch):
    def build(_config):
        raise AssertionError("summarize_config built the network")

    monkeypatch.setattr(CNNectomeUNetConfig, "architecture_type", build)
    assert summarize_config(resolve_config("unet2d")).num_parameters > 0


@pytest.mark.parametrize(
    "config",
    [
        DummyArchitectureConfig("dummy", 1, 1),
        config_from_dict(dict(UNET2D, input_shape=[8, 8])),
    ],
    ids=["dummy", "too-small"],
)
def test_a_config_that_does_not_verify_says_why_as_building_it_does(config):
    with pytest.raises(ValueError) as building:
        as_architecture(config)
    with pytest.raises(ValueError, match="does not verify") as summarising:
        summarize_config(config)
    assert str(summarising.value) == str(building.value)


@pytest.mark.parametrize("args", [["info", "unet2d"], ["--help"]], ids=" ".join)
def test_output_piped_into_a_reader_that_has_gone_ends_quietly(args):
    """``napari-dacapo info … | head -1``: no 'Broken pipe' error or traceback."""
    read, write = os.pipe()
    os.close(read)  # the reader has gone before the first line: every write fails
    result = subprocess.run(
        [sys.executable, "-m", "napari_dacapo", *args], stdout=write, stderr=subprocess.PIPE, text=True
    )
    os.close(write)
    assert result.stderr == ""
