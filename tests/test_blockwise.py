"""Blockwise runs: several workers, a killed worker, Ctrl-C and resume, uint8, OME-NGFF input,
a launcher, read-only and foreign outputs. Results are compared with in-process `predict`."""

import contextlib
import os
import signal
import subprocess
import sys
import time

import numpy as np
import psutil
import pytest
import zarr

from napari_dacapo import predict
from napari_dacapo.blockwise import run_directory
from napari_dacapo.cli import main
from napari_dacapo.networks import demo_model
from napari_dacapo.sample_data import synthetic_em

MODEL_3D = demo_model(3)
MODEL_2D = demo_model(2)


def write_raw(path, data, **attrs):
    root = zarr.open_group(store=str(path), mode="a")
    array = root.create_array("raw", shape=data.shape, chunks=(50,) * data.ndim, dtype=data.dtype, overwrite=True)
    array[:] = data
    array.attrs.update(attrs)
    return f"{path}/raw"


def command(model, source, output, *options):
    return [
        "predict",
        str(model.config_path),
        "--weights",
        str(model.weights_path),
        "--input",
        source,
        "--output",
        output,
        "--devices",
        "cpu",
        *options,
    ]


def start(args):
    return subprocess.Popen(
        [sys.executable, "-m", "napari_dacapo", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def done_blocks(output) -> int:
    """Blocks daisy has marked done (its tracking store is a zarr array of flags)."""
    with contextlib.suppress(Exception):
        flags = zarr.open_array(store=str(run_directory(output) / "blocks" / "done"), mode="r")
        return int(np.count_nonzero(flags[...]))
    return 0


def wait_for(condition, timeout=120.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise TimeoutError("condition not met")


def assert_close(actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5)


@pytest.fixture(scope="module")
def volume():
    """100³ voxels: 2×2×2 tiles of the 3D demo network, one block each."""
    data = synthetic_em((100, 100, 100), seed=2).raw
    return data, predict(MODEL_3D.load()[1], data, device="cpu")


def test_two_workers_write_what_predict_computes_in_process(tmp_path, volume):
    data, expected = volume
    source = write_raw(tmp_path / "in.zarr", data, voxel_size=[4, 4, 4], offset=[40, 0, 8])
    output = f"{tmp_path}/out.zarr/membranes"
    assert main(command(MODEL_3D, source, output, "--workers", "2")) == 0
    result = zarr.open_array(store=f"{output}/s0", mode="r")
    assert_close(result[:], expected)
    # and bit for bit what one process writes: workers run the forward with its thread count
    alone = f"{tmp_path}/out.zarr/alone"
    assert main(command(MODEL_3D, source, alone, "--workers", "1")) == 0
    np.testing.assert_array_equal(result[:], zarr.open_array(store=f"{alone}/s0", mode="r")[:])
    assert result.chunks[0] == 1  # one chunk per channel and tile: workers never share a chunk
    attrs = dict(result.attrs)
    assert attrs["napari_dacapo"]["complete"] is True and attrs["napari_dacapo"]["blocks"] == 8
    assert attrs["voxel_size"] == [4, 4, 4] and attrs["offset"] == [40, 0, 8]


def command_line(process: psutil.Process) -> str:
    """A process's command line; empty for one that has just ended (a zombie or gone)."""
    try:
        return " ".join(process.cmdline())
    except (psutil.ZombieProcess, psutil.NoSuchProcess, psutil.AccessDenied):
        return ""


def test_a_worker_killed_mid_run_loses_no_block(tmp_path, volume):
    data, expected = volume
    source = write_raw(tmp_path / "in.zarr", data)
    output = f"{tmp_path}/out.zarr/membranes"
    run = start(command(MODEL_3D, source, output, "--workers", "2"))
    parent = psutil.Process(run.pid)

    def busy_workers():
        workers = [p for p in parent.children(recursive=True) if "daisy._subprocess_worker" in command_line(p)]
        return workers if len(workers) == 2 and done_blocks(output) >= 1 else None

    victim = wait_for(busy_workers)[0]
    assert done_blocks(output) < 8
    victim.send_signal(signal.SIGKILL)
    _, stderr = run.communicate(timeout=300)
    assert run.returncode == 0, stderr
    assert_close(zarr.open_array(store=f"{output}/s0", mode="r")[:], expected)
    log = (run_directory(output) / "logs" / "daisy.log").read_text()
    assert "exited with code -9" in log  # daisy saw the worker die and restarted it


def test_ctrl_c_stops_cleanly_and_a_second_run_finishes_only_the_missing_blocks(tmp_path, volume, capsys):
    data, expected = volume
    source = write_raw(tmp_path / "in.zarr", data)
    output = f"{tmp_path}/out.zarr/membranes"
    args = command(MODEL_3D, source, output)
    run = start(args)
    wait_for(lambda: done_blocks(output) >= 2)
    os.killpg(run.pid, signal.SIGINT)
    _, stderr = run.communicate(timeout=60)
    assert run.returncode == 130
    assert "interrupted:" in stderr and "of 8 blocks are done and kept" in stderr, stderr
    kept = done_blocks(output)
    assert 2 <= kept < 8
    assert zarr.open_array(store=f"{output}/s0", mode="r").attrs["napari_dacapo"]["complete"] is False
    assert main(args) == 0
    assert f"{kept} of them done by an earlier run" in capsys.readouterr().out
    result = zarr.open_array(store=f"{output}/s0", mode="r")
    assert result.attrs["napari_dacapo"]["complete"] is True
    np.testing.assert_array_equal(result[:], expected)  # same process layout: bit for bit


def test_an_existing_output_of_another_run_is_refused_and_kept(tmp_path, capsys):
    source = write_raw(tmp_path / "in.zarr", synthetic_em((80, 90), seed=4).raw)
    output = f"{tmp_path}/out.zarr/p"
    assert main(command(MODEL_2D, source, output)) == 0
    before = zarr.open_array(store=f"{output}/s0", mode="r")[:]
    assert main(command(MODEL_2D, source, output, "--pad", "valid")) == 1
    assert "is not the output of this same run: pass --overwrite" in capsys.readouterr().err
    np.testing.assert_array_equal(zarr.open_array(store=f"{output}/s0", mode="r")[:], before)
    assert main(command(MODEL_2D, source, output, "--pad", "valid", "--overwrite")) == 0
    assert zarr.open_array(store=f"{output}/s0", mode="r").shape == (1, 80 - 40, 90 - 40)


def test_uint8_output_stores_the_value_range_in_255_steps(tmp_path):
    data = synthetic_em((80, 90), seed=5).raw
    source = write_raw(tmp_path / "in.zarr", data)
    output = f"{tmp_path}/out.zarr/p"
    assert main(command(MODEL_2D, source, output, "--dtype", "uint8", "--value-range=-0.5,1.5")) == 0
    result = zarr.open_array(store=f"{output}/s0", mode="r")
    assert result.dtype == np.uint8
    assert result.attrs["napari_dacapo"]["value_range"] == [-0.5, 1.5]
    expected = np.clip((predict(MODEL_2D.load()[1], data, device="cpu") + 0.5) / 2 * 255, 0, 255)
    assert np.abs(result[:].astype(np.float32) - expected).max() <= 0.5 + 1e-3


def write_ngff(path, levels, translations):
    """An OME-NGFF 0.4 multiscale image: levels (arrays) with scales and translations."""
    root = zarr.open_group(store=str(path), mode="w", zarr_format=2)
    image = root.create_group("img")
    datasets = []
    for i, ((data, scale), translation) in enumerate(zip(levels, translations, strict=True)):
        array = image.create_array(str(i), shape=data.shape, chunks=(32, 32), dtype=data.dtype)
        array[:] = data
        transforms = [{"type": "scale", "scale": scale}, {"type": "translation", "translation": translation}]
        datasets.append({"path": str(i), "coordinateTransformations": transforms})
    axes = [{"name": "y", "type": "space", "unit": "nanometer"}, {"name": "x", "type": "space", "unit": "nanometer"}]
    image.attrs["multiscales"] = [{"version": "0.4", "axes": axes, "datasets": datasets}]
    return f"{path}/img"


def test_ome_ngff_input_picks_the_level_by_voxel_size(tmp_path):
    fine = synthetic_em((128, 96), seed=6).raw
    coarse = fine[::2, ::2].copy()
    source = write_ngff(tmp_path / "in.zarr", [(fine, [4, 4]), (coarse, [8, 8])], [[0, 0], [2, 2]])
    output = f"{tmp_path}/out.zarr/p"
    assert main(command(MODEL_2D, source, output, "--voxel-size", "8,8")) == 0
    result = zarr.open_array(store=f"{output}/s0", mode="r")
    assert_close(result[:], predict(MODEL_2D.load()[1], coarse, device="cpu"))
    # the NGFF translation is the centre of voxel 0; funlib's offset is its corner
    assert result.attrs["voxel_size"] == [8, 8] and result.attrs["offset"] == [-2, -2]
    assert main(command(MODEL_2D, f"{source}/0", f"{tmp_path}/out.zarr/q")) == 0
    assert zarr.open_array(store=f"{tmp_path}/out.zarr/q/s0", mode="r").attrs["offset"] == [-2, -2]


def test_ome_ngff_without_the_requested_level_lists_the_levels(tmp_path, capsys):
    data = synthetic_em((64, 64), seed=6).raw
    source = write_ngff(tmp_path / "in.zarr", [(data, [4, 4])], [[0, 0]])
    assert main(command(MODEL_2D, source, f"{tmp_path}/out.zarr/p", "--voxel-size", "5,5")) == 1
    error = capsys.readouterr().err
    assert "no level has voxel size (5.0, 5.0)" in error and "0: (4.0, 4.0)" in error


def test_a_launcher_starts_workers_through_the_worker_command(tmp_path):
    data = synthetic_em((80, 90), seed=7).raw
    source = write_raw(tmp_path / "in.zarr", data)
    output = f"{tmp_path}/out.zarr/p"
    # 'env' stands in for srun/bsub: it runs 'python -m napari_dacapo worker OUTPUT …'
    assert main(command(MODEL_2D, source, output, "--launcher", "env NAPARI_DACAPO_VIA=launcher")) == 0
    assert_close(zarr.open_array(store=f"{output}/s0", mode="r")[:], predict(MODEL_2D.load()[1], data, device="cpu"))
    logs = "".join(p.read_text() for p in (run_directory(output) / "logs").rglob("*.err"))
    assert "napari-dacapo worker: 1 block done" in logs


@pytest.fixture
def read_only_folder(tmp_path):
    """A folder nobody may write into: a read-only bind mount as root (chmod does not stop
    root), a folder without write permission otherwise."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    subprocess.run(["mount", "--bind", str(folder), str(folder)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(folder)], check=True)
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_a_read_only_output_is_one_line_and_nonzero(tmp_path, read_only_folder):
    source = write_raw(tmp_path / "in.zarr", synthetic_em((64, 64), seed=1).raw)
    result = subprocess.run(
        [sys.executable, "-m", "napari_dacapo", *command(MODEL_2D, source, f"{read_only_folder}/out.zarr/p")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot write here" in lines[0], result.stderr
    assert not (read_only_folder / "out.zarr").exists()


def test_a_checkpoint_that_does_not_fit_is_refused_before_any_output(tmp_path, capsys):
    source = write_raw(tmp_path / "in.zarr", synthetic_em((64, 64), seed=1).raw)
    args = command(MODEL_2D, source, f"{tmp_path}/out.zarr/p")
    args[3] = str(MODEL_3D.weights_path)
    assert main(args) == 1
    assert "napari-dacapo: error:" in capsys.readouterr().err
    assert not (tmp_path / "out.zarr").exists()
