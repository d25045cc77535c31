"""`napari-dacapo predict`: zarr in, zarr out with its placement, clear one-line errors."""

import subprocess
import sys

import numpy as np
import pytest
import zarr

from napari_dacapo import predict
from napari_dacapo.cli import main
from napari_dacapo.networks import demo_model
from napari_dacapo.sample_data import synthetic_em


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "napari_dacapo", *args], capture_output=True, text=True)


def test_demo_run_writes_the_same_result_as_predict_in_process(tmp_path):
    out = tmp_path / "demo.zarr"
    result = run_cli("predict", "--demo", str(out))
    assert result.returncode == 0, result.stderr
    membranes = zarr.open_array(store=str(out), path="membranes/s0", mode="r")
    expected = predict(demo_model(3).load()[1], synthetic_em((64, 128, 128), seed=0).raw, device="cpu")
    np.testing.assert_allclose(membranes[:], expected, rtol=1e-5, atol=1e-5)
    attrs = dict(membranes.attrs)
    assert attrs["voxel_size"] == [8, 8, 8] and attrs["offset"] == [0, 0, 0]
    assert attrs["axis_names"] == ["c^", "z", "y", "x"]
    assert attrs["napari_dacapo"]["complete"] is True


def write_input(path, data, voxel_size, offset):
    root = zarr.open_group(store=str(path), mode="w")
    array = root.create_array("raw", shape=data.shape, chunks=(32,) * data.ndim, dtype=data.dtype)
    array[:] = data
    array.attrs.update({"voxel_size": list(voxel_size), "offset": list(offset)})


def test_valid_output_is_offset_by_half_the_context_in_world_units(tmp_path):
    model = demo_model(2)
    data = synthetic_em((120, 150), seed=3).raw
    write_input(tmp_path / "in.zarr", data, (4, 5), (100, 200))
    code = main(
        [
            "predict",
            str(model.config_path),
            "--weights",
            str(model.weights_path),
            "--input",
            str(tmp_path / "in.zarr/raw"),
            "--output",
            str(tmp_path / "out.zarr/pred"),
            "--pad",
            "valid",
            "--device",
            "cpu",
        ]
    )
    assert code == 0
    out = zarr.open_array(store=str(tmp_path / "out.zarr"), path="pred/s0", mode="r")
    network = model.load()[1]
    np.testing.assert_allclose(out[:], predict(network, data, pad="valid", device="cpu"), rtol=1e-5, atol=1e-5)
    half = network.context / 2  # 40 voxels of context: 20 on each side
    assert out.attrs["offset"] == [100 + 4 * half[0], 200 + 5 * half[1]]
    assert out.attrs["voxel_size"] == [4, 5]


def test_roi_predicts_part_of_the_input_and_places_it(tmp_path, capsys):
    model = demo_model(2)
    data = synthetic_em((120, 150), seed=3).raw
    write_input(tmp_path / "in.zarr", data, (4, 4), (0, 0))
    args = ["predict", str(model.config_path), "--weights", str(model.weights_path), "--device", "cpu"]
    args += ["--input", str(tmp_path / "in.zarr/raw"), "--output", str(tmp_path / "out.zarr/p"), "--roi", "10:70,20:90"]
    assert main(args) == 0
    out = zarr.open_array(store=str(tmp_path / "out.zarr"), path="p/s0", mode="r")
    expected = predict(model.load()[1], data[10:70, 20:90], device="cpu")
    np.testing.assert_allclose(out[:], expected, rtol=1e-5, atol=1e-5)
    assert out.attrs["offset"] == [40, 80]


@pytest.mark.parametrize(
    "setup,args,message",
    [
        ("none", ["--input", "{t}/missing.zarr/raw", "--output", "{t}/o.zarr/p"], "no such zarr container"),
        ("input", ["--input", "{t}/in.zarr/nothing", "--output", "{t}/o.zarr/p"], "no array or group 'nothing'"),
        ("both", ["--input", "{t}/in.zarr/raw", "--output", "{t}/o.zarr/p"], "pass --overwrite"),
        ("input", ["--input", "{t}/in.zarr/raw", "--output", "{t}/o.zarr"], "name a dataset inside"),
        ("input", ["--input", "{t}/in.zarr/raw", "--output", "{t}/o.zarr/p", "--roi", "5:1,0:3"], "--roi"),
    ],
    ids=["missing-container", "missing-dataset", "existing-output", "no-dataset-name", "bad-roi"],
)
def test_bad_input_is_one_line_and_nonzero(tmp_path, setup, args, message):
    model = demo_model(2)
    if setup != "none":
        write_input(tmp_path / "in.zarr", synthetic_em((64, 64), seed=1).raw, (1, 1), (0, 0))
    if setup == "both":  # an output dataset that some other program wrote
        zarr.open_group(store=str(tmp_path / "o.zarr"), mode="w").create_array("p", shape=(4,), dtype="f4")
    args = [a.format(t=tmp_path) for a in args]
    result = run_cli("predict", str(model.config_path), "--weights", str(model.weights_path), *args)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("napari-dacapo: error:") and message in lines[0], result.stderr


def test_a_3d_input_for_a_2d_network_is_refused(tmp_path):
    model = demo_model(2)
    write_input(tmp_path / "in.zarr", np.zeros((40, 40, 40), np.uint8), (1, 1, 1), (0, 0, 0))
    result = run_cli(
        "predict", str(model.config_path), "--input", f"{tmp_path}/in.zarr/raw", "--output", f"{tmp_path}/o.zarr/p"
    )
    assert result.returncode == 1
    assert "voxel_size" in result.stderr or "2D" in result.stderr
