"""Blockwise runs: one worker against two, and the peak memory of each worker, side by side.

    python benchmarks/bench_workers.py [--tiles 2,4] [--devices cpu]

For each N in --tiles, a synthetic EM volume of 2 × N × N full tiles of the 3D demo model (so
every run uses the same tile shape) is written to a zarr store; the benchmark then runs
``napari-dacapo predict`` with the 3D demo model, in one process (--workers 1) and with two
daisy workers (--workers 2), and prints the wall time, the throughput, the speed-up of two
workers over one, and the peak RSS of every process that predicts (the driver for one worker,
each worker process for two), sampled every 50 ms with psutil. Memory per worker should not
grow with the volume: a worker holds its tiles, not the volume.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import zarr

from napari_dacapo.networks import demo_model
from napari_dacapo.sample_data import synthetic_em


def write_volume(path: Path, shape: tuple[int, ...]) -> str:
    raw = synthetic_em(shape, seed=1).raw
    root = zarr.open_group(store=str(path), mode="w")
    array = root.create_array("raw", shape=raw.shape, chunks=(64, 64, 64), dtype="uint8")
    array[:] = raw
    return f"{path}/raw"


def run(source: str, output: str, workers: int, devices: str) -> tuple[float, dict[str, float]]:
    """Wall seconds and the peak RSS (MiB) of each predicting process."""
    model = demo_model(3)
    command = [sys.executable, "-m", "napari_dacapo", "predict", str(model.config_path)]
    command += ["--weights", str(model.weights_path), "--input", source, "--output", output]
    command += ["--workers", str(workers), "--devices", devices, "--overwrite"]
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    driver = psutil.Process(process.pid)
    peaks: dict[str, float] = {}
    while process.poll() is None:
        try:
            tree = [driver, *driver.children(recursive=True)]
        except psutil.NoSuchProcess:
            break
        for proc in tree:
            try:
                name = "driver" if proc.pid == process.pid else f"worker {proc.pid}"
                if proc.pid != process.pid and "daisy._subprocess_worker" not in " ".join(proc.cmdline()):
                    continue
                peaks[name] = max(peaks.get(name, 0.0), proc.memory_info().rss / 2**20)
            except psutil.NoSuchProcess:
                pass
        time.sleep(0.05)
    seconds = time.perf_counter() - start
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed with {process.returncode}")
    return seconds, peaks


def full_tile_write() -> int:
    """Output voxels per axis that one full tile of the 3D demo model writes."""
    from napari_dacapo import plan_prediction

    plan = plan_prediction(demo_model(3).load()[1], (1000, 1000, 1000), "reflect", tile_growth=0)  # as blockwise
    return int(plan.tiles[0].write_roi.shape[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiles", default="2,4", help="volumes of 2×N×N tiles, for each N")
    parser.add_argument("--devices", default="cpu")
    args = parser.parse_args()
    print(f"CPU cores: {psutil.cpu_count()}, devices: {args.devices}")
    print(f"{'volume':>16} {'workers':>7} {'wall s':>7} {'Mvox/s':>7} {'speed-up':>8}  peak RSS per process (MiB)")
    with tempfile.TemporaryDirectory() as folder:
        tile = full_tile_write()
        for size in (int(n) * tile for n in args.tiles.split(",")):
            shape = (2 * tile, size, size)
            source = write_volume(Path(folder) / f"v{size}.zarr", shape)
            voxels = shape[0] * shape[1] * shape[2]
            single = None
            for workers in (1, 2):
                seconds, peaks = run(source, f"{folder}/v{size}.zarr/out{workers}", workers, args.devices)
                single = single or seconds
                rss = "driver" if workers == 1 else "workers"
                values = [peaks.get("driver", 0.0)] if workers == 1 else [v for k, v in peaks.items() if k != "driver"]
                print(
                    f"{'×'.join(map(str, shape)):>16} {workers:>7} {seconds:>7.1f} {voxels / seconds / 1e6:>7.2f} "
                    f"{single / seconds:>7.2f}×  {rss}: {', '.join(f'{v:.0f}' for v in sorted(values))}"
                    + (f" (driver {peaks.get('driver', 0.0):.0f})" if workers == 2 else "")
                )


if __name__ == "__main__":
    main()
