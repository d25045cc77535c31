"""`napari-dacapo info RUN` and `predict RUN --iteration N --labels`: a DaCapo run on the
command line, with labels whose IDs equal those of the whole prediction labelled in memory."""

import shutil

import numpy as np
import pytest
import zarr
from conftest import DACAPO

from napari_dacapo import predict
from napari_dacapo.cli import main
from napari_dacapo.labels import label_rule, segment
from napari_dacapo.runs import open_run

STORE = DACAPO / "runs" / "store"


def raw_zarr(path, shape=(120, 100), seed=0):
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    raw = (ndimage.gaussian_filter(rng.normal(size=shape), 2) * 400 + 120).clip(0, 255).astype(np.uint8)
    root = zarr.open_group(store=str(path), mode="w")
    array = root.create_array("raw", shape=raw.shape, chunks=(64, 64), dtype="uint8")
    array[:] = raw
    array.attrs.update({"voxel_size": [4, 4], "offset": [0, 0], "axis_names": ["y", "x"]})
    return raw


def test_info_names_the_task_channels_normalisation_and_iterations(capsys):
    assert main(["info", str(STORE), "--run", "distance"]) == 0
    text = capsys.readouterr().out
    assert "task: DistanceTaskConfig; head 2 channels, kernel 1; activation none" in text
    assert "channels: mito, er" in text
    assert "input normalisation: (x − 20) / (220 − 20)" in text
    assert "iterations: 100, 200; best: 100 (by mito__dice)" in text


@pytest.mark.parametrize("name, option", [("affinities", "--bias"), ("distance", "--threshold")])
def test_predict_a_run_with_labels_equal_to_the_in_memory_ones(tmp_path, capsys, name, option):
    raw = raw_zarr(tmp_path / "in.zarr")
    model = open_run(STORE, name).model(100)
    expected = predict(model, raw, device="cpu")
    value = float(np.median(expected[0]))  # objects on both sides of it
    option = [option, repr(value)]
    out = f"{tmp_path}/out.zarr/pred"
    args = ["predict", str(STORE), "--run", name, "--iteration", "100", "--input", f"{tmp_path}/in.zarr/raw"]
    args += ["--output", out, "--block-shape", "36,36", "--labels", "--label-block", "16,24", *option]
    assert main(args) == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert f"run {name}, iteration 100" in printed and "labels by" in printed
    prediction = zarr.open_array(store=f"{tmp_path}/out.zarr", path="pred/s0", mode="r")[:]
    np.testing.assert_allclose(prediction, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())
    rule = label_rule(model.post_processor, value)
    labels = zarr.open_array(store=f"{tmp_path}/out.zarr", path="pred_labels/s0", mode="r")
    in_memory = segment(prediction, rule, block=(16, 24))
    np.testing.assert_array_equal(labels[:], in_memory)
    assert len(np.unique(in_memory)) > 3
    assert labels.attrs["napari_dacapo"]["complete"] is True
    assert labels.attrs["voxel_size"] == [4, 4] and labels.attrs["axis_names"] == ["y", "x"]


def test_labels_made_by_two_workers_are_the_in_process_ones(tmp_path, capsys):
    from napari_dacapo.blockwise.labels import write_labels

    raw_zarr(tmp_path / "in.zarr")
    args = ["predict", str(STORE), "--run", "affinities", "--input", f"{tmp_path}/in.zarr/raw"]
    assert main([*args, "--output", f"{tmp_path}/out.zarr/pred", "--labels", "--label-block", "16,16"]) == 0
    one = zarr.open_array(store=f"{tmp_path}/out.zarr", path="pred_labels/s0", mode="r")[:]
    rule = label_rule(open_run(STORE, "affinities").task.post_processor, 0.5)
    report = write_labels(f"{tmp_path}/out.zarr/pred", f"{tmp_path}/out.zarr/two", rule, block=(16, 16), workers=2)
    two = zarr.open_array(store=f"{tmp_path}/out.zarr", path="two/s0", mode="r")[:]
    np.testing.assert_array_equal(two, one)
    assert report.objects == len(np.unique(one[one != 0]))


def test_labels_resume_where_an_interrupted_run_stopped(tmp_path, capsys, monkeypatch):
    import napari_dacapo.blockwise.labels as blockwise_labels

    raw_zarr(tmp_path / "in.zarr")

    def run(container):
        args = ["predict", str(STORE), "--run", "affinities", "--input", f"{tmp_path}/in.zarr/raw"]
        return main([*args, "--output", f"{container}/pred", "--labels", "--label-block", "16,16"])

    assert run(tmp_path / "whole.zarr") == 0
    first = zarr.open_array(store=f"{tmp_path}/whole.zarr", path="pred_labels/s0", mode="r")[:]
    real, calls = blockwise_labels.relabel, []

    def stop_half_way(labels, table):
        calls.append(1)
        if len(calls) > 20:
            raise KeyboardInterrupt
        return real(labels, table)

    monkeypatch.setattr(blockwise_labels, "relabel", stop_half_way)
    assert run(tmp_path / "stopped.zarr") == 130  # interrupted while writing the final IDs
    monkeypatch.setattr(blockwise_labels, "relabel", real)
    capsys.readouterr()
    assert run(tmp_path / "stopped.zarr") == 0
    assert "done by an earlier run" in capsys.readouterr().out
    again = zarr.open_array(store=f"{tmp_path}/stopped.zarr", path="pred_labels/s0", mode="r")
    np.testing.assert_array_equal(again[:], first)
    assert again.attrs["napari_dacapo"]["complete"] is True


def test_bad_run_arguments_are_one_line(tmp_path, capsys):
    raw_zarr(tmp_path / "in.zarr")
    common = ["--input", f"{tmp_path}/in.zarr/raw", "--output", f"{tmp_path}/out.zarr/pred"]
    assert main(["predict", str(STORE), "--run", "distance", "--iteration", "7", *common]) == 1
    assert "no checkpoint for iteration 7 (saved: 100, 200)" in capsys.readouterr().err
    assert main(["predict", str(STORE), "--run", "affinities", "--labels", "--bias", "2", *common]) == 1
    assert "bias 2 is out of range: choose 0 to 1" in capsys.readouterr().err
    assert not (tmp_path / "out.zarr").exists()  # refused before anything was written
    assert main(["predict", str(STORE), "--run", "dummy", "--labels", *common]) == 1
    assert "its Dummy task has no post-processor, so no --labels" in capsys.readouterr().err
    assert main(["predict", "demo_membranes_2d", "--labels", *common]) == 1
    assert "--labels and --iteration need a DaCapo run" in capsys.readouterr().err
    store = tmp_path / "store"
    shutil.copytree(STORE, store, symlinks=True)
    shutil.rmtree(store / "one_hot" / "checkpoints")
    assert main(["predict", str(store), "--run", "one_hot", *common]) == 1
    assert "run 'one_hot' has no checkpoints" in capsys.readouterr().err
