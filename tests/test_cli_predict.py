"""`napari-dacapo predict`: zarr in, zarr out with its placement, clear one-line errors."""

import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import zarr

from napari_dacapo import predict
from napari_dacapo.cli import main
from napari_dacapo.networks import demo_model
from napari_dacapo.sample_data import synthetic_em


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "napari_dacapo", *args], capture_output=True, text=True)


def test_demo_run_writes_the_same_result_as_predict_in_process_and_runs_again(tmp_path):
    out = tmp_path / "demo.zarr"
    for _ in range(2):  # the second run recognises the container the first wrote, and rewrites it
        result = run_cli("predict", "--demo", str(out))
        assert result.returncode == 0, result.stderr
    assert zarr.open_group(store=str(out), mode="r").attrs["napari_dacapo_demo"] == 1
    membranes = zarr.open_array(store=str(out), path="membranes/s0", mode="r")
    expected = predict(demo_model(3).load()[1], synthetic_em((64, 128, 128), seed=0).raw, device="cpu")
    np.testing.assert_allclose(membranes[:], expected, rtol=1e-5, atol=1e-5)
    attrs = dict(membranes.attrs)
    assert attrs["voxel_size"] == [8, 8, 8] and attrs["offset"] == [0, 0, 0]
    assert attrs["axis_names"] == ["c^", "z", "y", "x"]
    assert attrs["napari_dacapo"]["complete"] is True


def tree_digest(path: Path) -> str:
    """Names, kinds and bytes of everything under ``path`` (or of the file ``path``)."""
    digest = hashlib.sha256()
    for item in sorted([path, *path.rglob("*")]) if path.is_dir() else [path]:
        digest.update(f"{item.relative_to(path.parent)}|{item.is_dir()}|".encode())
        if item.is_file():
            digest.update(item.read_bytes())
    return digest.hexdigest()


def other_zarr(path: Path, names: tuple[str, ...]) -> None:
    root = zarr.open_group(store=str(path), mode="w")
    for name in names:
        root.create_array(name, shape=(4, 4), dtype="u1")[:] = 7


def folder_with_files(path: Path) -> None:
    (path / "notes").mkdir(parents=True)
    (path / "notes" / "todo.txt").write_text("mine")


@pytest.mark.parametrize(
    "make",
    [
        folder_with_files,
        lambda path: path.write_bytes(b"not a folder"),
        lambda path: other_zarr(path, ("raw",)),
        lambda path: other_zarr(path, ("raw", "membranes")),
        lambda path: other_zarr(path, ()),
    ],
    ids=["folder", "file", "zarr-with-raw", "zarr-like-a-demo", "empty-zarr-group"],
)
def test_demo_refuses_a_path_it_did_not_write_and_leaves_it_untouched(tmp_path, capsys, make):
    out = tmp_path / "demo.zarr"
    make(out)
    before = tree_digest(out)
    assert main(["predict", "--demo", str(out), "--overwrite"]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and str(out) in lines[0] and "choose another path" in lines[0], lines
    assert tree_digest(out) == before


def test_the_worker_command_is_not_listed_but_runs():
    listed = run_cli("--help")
    assert listed.returncode == 0 and "{info,predict," in listed.stdout and "worker" not in listed.stdout
    unknown = run_cli("bogus")
    assert unknown.returncode == 2 and "worker" not in unknown.stderr
    worker = run_cli("worker", "--help")
    assert worker.returncode == 0 and "DAISY_CONTEXT" in worker.stdout


def test_pad_and_batch_size_are_explained():
    text = " ".join(run_cli("predict", "--help").stdout.split())
    for words in ("reflect (default) mirrors the image", "zero adds zeros", "valid does not pad", "auto (default)"):
        assert words in text
    assert "neuroglancer" in text and "OME-Zarr 0.5" in text and "funlib attributes" in text


@pytest.mark.parametrize("value", ["0", "-2", "many"])
def test_a_bad_batch_size_is_refused_by_the_parser(value, capsys):
    with pytest.raises(SystemExit):
        main(["predict", "--demo", "x.zarr", "--batch-size", value])
    assert "expected a positive integer or auto" in capsys.readouterr().err


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


def test_precision_bfloat16_stays_within_its_tolerance_of_float32(tmp_path):
    model = demo_model(2)
    data = synthetic_em((100, 120), seed=3).raw
    write_input(tmp_path / "in.zarr", data, (4, 4), (0, 0))
    args = ["predict", str(model.config_path), "--weights", str(model.weights_path), "--device", "cpu"]
    args += ["--input", str(tmp_path / "in.zarr/raw"), "--output", str(tmp_path / "out.zarr/p")]
    args += ["--precision", "bfloat16"]
    assert main(args) == 0
    out = zarr.open_array(store=str(tmp_path / "out.zarr"), path="p/s0", mode="r")[:]
    exact = predict(model.load()[1], data, device="cpu")
    assert 0 < np.abs(out - exact).max() <= 2e-2 * max(1.0, np.abs(exact).max())


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


@pytest.mark.parametrize(
    "error,code,prefix", [("RunInterrupted", 130, "napari-dacapo: "), ("RunIncomplete", 1, "napari-dacapo: error: ")]
)
def test_an_unfinished_run_is_one_line(tmp_path, monkeypatch, capsys, error, code, prefix):
    import napari_dacapo.blockwise as blockwise

    def run_blockwise(*_args, **_keywords):
        raise getattr(blockwise, error)("2 of 4 blocks done")

    monkeypatch.setattr(blockwise, "run_blockwise", run_blockwise)
    model = demo_model(2)
    args = ["predict", str(model.config_path), "--weights", str(model.weights_path)]
    assert main([*args, "--input", f"{tmp_path}/in.zarr/raw", "--output", f"{tmp_path}/out.zarr/p"]) == code
    assert capsys.readouterr().err == f"{prefix}2 of 4 blocks done\n"
