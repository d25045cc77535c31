"""bioimage.io export: the package passes bioimageio.core's test, declares the network's sizes,
reproduces our engine, and bad input is refused with one line."""

from __future__ import annotations

import warnings
from pathlib import Path

import bioimageio.core  # noqa: F401  (the testing extra has it: a missing install fails, never skips)
import numpy as np
import pytest

from napari_dacapo.architectures import CNNectomeUNetConfig
from napari_dacapo.cli import main
from napari_dacapo.export import export_bioimageio
from napari_dacapo.export.sizes import axis_sizes
from napari_dacapo.networks import build_network, demo_models, resolve_config

DEMO = "demo_membranes_2d"


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bioimageio") / "demo.zip"
    return export_bioimageio(DEMO, out, authors="A. Author; B. Author")


def _demo_network():
    return build_network(resolve_config(DEMO), demo_models()[DEMO].weights_path).eval()


def test_test_model_passes(package: Path) -> None:
    from bioimageio.core import test_model

    summary = test_model(package)
    failed = [d.name for d in summary.details if d.status != "passed"]
    assert summary.status == "passed", failed


def test_declared_sizes_are_the_networks(package: Path) -> None:
    from bioimageio.spec import load_model_description

    model = load_model_description(package)
    network = _demo_network()
    inputs, outputs = model.inputs[0].axes, model.outputs[0].axes
    assert [str(a.id) for a in inputs] == ["batch", "channel", "y", "x"]
    for n in range(4):
        shape = tuple(a.size.get_size(n) for a in inputs[2:])
        declared_out = tuple(o.size.get_size(o, i, n=n) for i, o in zip(inputs[2:], outputs[2:], strict=True))
        assert declared_out == tuple(network.output_shape(shape)), (n, shape)
    assert tuple(inputs[2].size.get_size(n) for n in range(2)) == (44, 48)


def test_tiny_config_sizes() -> None:
    config = CNNectomeUNetConfig(
        name="tiny",
        input_shape=(60, 70),
        fmaps_out=2,
        fmaps_in=1,
        num_fmaps=2,
        fmap_inc_factor=2,
        downsample_factors=[(2, 3)],
    )
    network = build_network(config)
    sizes = axis_sizes(network)
    assert [s.step for s in sizes] == [2, 3]
    for axis, s in enumerate(sizes):
        assert s.min <= network.input_shape[axis] and (network.input_shape[axis] - s.min) % s.step == 0
        below = list(network.input_shape)
        below[axis] = s.min - s.step
        with pytest.raises(ValueError):
            network.output_shape(tuple(below))
    for n in range(4):
        shape = tuple(s.input_size(n) for s in sizes)
        assert tuple(network.output_shape(shape)) == tuple(s.output_size(v) for s, v in zip(sizes, shape, strict=True))


def test_prediction_equals_our_engine(package: Path) -> None:
    from bioimageio.core import predict as bioimageio_predict
    from bioimageio.spec import load_model_description

    from napari_dacapo import predict
    from napari_dacapo.sample_data import synthetic_em

    image = np.asarray(synthetic_em((220, 220), seed=1).raw, dtype=np.uint8)
    ours = predict(_demo_network(), image, pad="valid", device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sample = bioimageio_predict(model=load_model_description(package), inputs={"raw": image[None, None]})
    theirs = sample.members["prediction"].data.values[0]
    assert theirs.shape == ours.shape
    assert np.abs(theirs - ours).max() < 1e-5


def test_cli_writes_a_valid_package_and_refuses_an_existing_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], package: Path
) -> None:
    from bioimageio.spec import load_description

    out = tmp_path / "cli.zip"
    assert main(["export-bioimageio", DEMO, str(out), "--authors", "A; B", "--cite", "10.1101/2024.02.20.579150"]) == 0
    assert load_description(out, perform_io_checks=False).type == "model"
    before = out.read_bytes()
    capsys.readouterr()
    assert main(["export-bioimageio", DEMO, str(out), "--authors", "A"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("napari-dacapo: error:") and "--overwrite" in err and len(err.strip().splitlines()) == 1
    assert out.read_bytes() == before


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        ([DEMO, "OUT"], "authors"),
        ([DEMO, "OUT", "--authors", "A", "--weights", "WRONG"], "does not fit"),
        (["BADCONFIG", "OUT", "--authors", "A"], "BADCONFIG"),
    ],
)
def test_cli_bad_input_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], arguments, words) -> None:
    wrong = tmp_path / "wrong.pt"
    import torch

    torch.save({"nothing.weight": torch.zeros(1)}, wrong)
    bad = tmp_path / "bad.yaml"
    bad.write_text("__type__: CNNectomeUNetConfig\nname: bad\ninput_shape: [7, 7]\n", encoding="utf-8")
    replace = {"OUT": str(tmp_path / "out.zip"), "WRONG": str(wrong), "BADCONFIG": str(bad)}
    assert main(["export-bioimageio", *(replace.get(a, a) for a in arguments)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("napari-dacapo: error:") and len(err.splitlines()) == 1, err
    assert words.replace("BADCONFIG", "bad.yaml") in err
    assert not (tmp_path / "out.zip").exists()


@pytest.mark.parametrize("run", ["affinities", "one_hot"])
def test_a_dacapo_run_exports_with_its_normalisation_head_and_activation(tmp_path: Path, run: str) -> None:
    from bioimageio.core import predict as bioimageio_predict
    from bioimageio.core import test_model
    from bioimageio.spec import load_model_description
    from conftest import DACAPO

    from napari_dacapo import predict
    from napari_dacapo.runs import open_run

    source = DACAPO / "runs" / "store" / run
    package = export_bioimageio(source, tmp_path / f"{run}.zip", authors="A. Author")
    summary = test_model(package)
    assert summary.status == "passed", [d.name for d in summary.details if d.status != "passed"]
    description = load_model_description(package)
    assert description.name == run
    scaling = description.inputs[0].preprocessing[1].kwargs  # (x - 20) / (220 - 20)
    assert (scaling.gain, scaling.offset) == pytest.approx((1 / 200, -20 / 200))
    image = np.random.default_rng(0).integers(0, 256, (76, 84), dtype=np.uint8)
    ours = predict(open_run(source).model(), image, pad="valid", device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sample = bioimageio_predict(model=description, inputs={"raw": image[None, None]})
    theirs = sample.members["prediction"].data.values[0]
    assert theirs.shape == ours.shape  # the one-hot head's 3 × 3 kernel included
    assert np.abs(theirs - ours).max() <= 1e-5 * max(1.0, float(np.abs(ours).max()))
    if run == "affinities":
        assert 0 <= theirs.min() and theirs.max() <= 1  # the sigmoid is part of the model


def test_a_package_we_exported_opens_again_and_predicts_exactly_the_same(package: Path, tmp_path: Path) -> None:
    from napari_dacapo import predict
    from napari_dacapo.export import is_dacapo_package, open_package
    from napari_dacapo.sample_data import synthetic_em

    assert is_dacapo_package(package)
    opened = open_package(package)
    image = np.asarray(synthetic_em((140, 150), seed=2).raw, dtype=np.uint8)
    ours = predict(_demo_network(), image, device="cpu")
    np.testing.assert_array_equal(predict(opened.network, image, device="cpu"), ours)
    assert opened.config.name == resolve_config(DEMO).name


def test_a_run_package_opens_with_its_normalisation_head_and_channel_names(tmp_path: Path) -> None:
    from conftest import DACAPO

    from napari_dacapo import predict
    from napari_dacapo.export import open_package
    from napari_dacapo.runs import open_run

    source = DACAPO / "runs" / "store" / "affinities"
    package = export_bioimageio(source, tmp_path / "affinities.zip", authors="A. Author")
    opened = open_package(package)
    assert opened.channel_names == ("aff_1_0", "aff_0_1", "aff_3_0")
    image = np.random.default_rng(3).integers(0, 256, (80, 90), dtype=np.uint8)
    expected = predict(open_run(source).model(), image, device="cpu")
    np.testing.assert_array_equal(predict(opened.network, image, device="cpu"), expected)


def test_foreign_or_damaged_packages_are_refused_with_one_line(package: Path, tmp_path: Path) -> None:
    import zipfile

    from napari_dacapo.export import PackageError, is_dacapo_package, open_package

    foreign = tmp_path / "foreign.zip"
    with zipfile.ZipFile(package) as src, zipfile.ZipFile(foreign, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "rdf.yaml":
                data = data.replace(b"napari_dacapo.export.model", b"someone_else.models")
            dst.writestr(item, data)
    assert not is_dacapo_package(foreign)
    with pytest.raises(PackageError, match="napari-dacapo did not export; run it with bioimageio.core"):
        open_package(foreign)
    damaged = tmp_path / "damaged.zip"
    with zipfile.ZipFile(package) as src, zipfile.ZipFile(damaged, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            dst.writestr(item, data[:-10] + b"0123456789" if item.filename == "weights.pt" else data)
    with pytest.raises(PackageError, match="does not match its sha256"):
        open_package(damaged)
    (tmp_path / "notes.zip").write_bytes(b"not a zip")
    with pytest.raises(PackageError, match="not a bioimage.io package"):
        open_package(tmp_path / "notes.zip")


def test_the_halo_variant_works_with_bioimageio_cores_own_blocking(tmp_path: Path) -> None:
    from bioimageio.core import predict as bioimageio_predict
    from bioimageio.core import test_model
    from bioimageio.spec import load_model_description

    from napari_dacapo import predict
    from napari_dacapo.export import open_package
    from napari_dacapo.sample_data import synthetic_em

    package = export_bioimageio(DEMO, tmp_path / "halo.zip", authors="A. Author", halo=True)
    assert test_model(package).status == "passed"
    description = load_model_description(package)
    image = np.asarray(synthetic_em((300, 304), seed=1).raw, dtype=np.uint8)  # valid sizes: 44 + 4n
    network = _demo_network()
    zero = predict(network, image, pad="zero", device="cpu")
    valid = predict(network, image, pad="valid", device="cpu")
    for blocksize in (0, 5, 20):  # blocks of 44, 64 and 124 voxels per axis
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sample = bioimageio_predict(
                model=description, inputs={"raw": image[None, None]}, blocksize_parameter=blocksize
            )
        theirs = sample.members["prediction"].data.values[0]
        assert theirs.shape == zero.shape
        assert np.abs(theirs - zero).max() < 1e-5  # the whole image, as predict(pad="zero")
        assert np.abs(theirs[:, 20:-20, 20:-20] - valid).max() < 1e-5  # its interior: the valid prediction
    np.testing.assert_array_equal(
        predict(open_package(package).network, image, device="cpu"), predict(network, image, device="cpu")
    )


def test_the_halo_variant_refuses_a_super_resolution_network(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="super-resolution"):
        export_bioimageio("superres_unet3d", tmp_path / "s.zip", authors="A", halo=True)
