"""How fast a run stops when cancelled in the middle of a large tile, on this machine.

    python benchmarks/bench_cancel.py [--network cellmap_unet3d] [--after 3] [--repeat 3]

Predicts one volume of one configured tile with a bundled example network on the CPU, sets the
run's ``Monitor.stop`` ``--after`` seconds into the tile (as the dock's Cancel does) and
prints how long the run took to stop, beside how long the whole tile takes, and how often the
in-tile progress (``Monitor.inside_tile``) moved during the tile.
"""

from __future__ import annotations

import argparse
import threading
import time

import numpy as np

from napari_dacapo.architectures import as_architecture
from napari_dacapo.networks import example_config
from napari_dacapo.tiling import Monitor, PredictionCancelled, predict_steps


def run(network, image, after: float | None) -> tuple[float, float, int]:
    """Seconds until the run ended (cancelled after ``after`` s, or complete), seconds from
    the stop request to the end, and how many distinct in-tile progress values were seen."""
    monitor = Monitor()
    seen: set[float] = set()
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            seen.add(round(monitor.inside_tile, 3))
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    if after is not None:
        threading.Timer(after, monitor.stop.set).start()
    started = time.perf_counter()
    try:
        for _ in predict_steps(network, image, monitor=monitor, device="cpu", tile_growth=0):
            pass
    except PredictionCancelled:
        pass
    ended = time.perf_counter()
    done.set()
    watcher.join()
    return ended - started, (ended - started - after) if after is not None else 0.0, len(seen)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--network", default="cellmap_unet3d")
    parser.add_argument("--after", type=float, default=3.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    network = as_architecture(example_config(args.network)).eval()
    tile = network.input_shape + network.eval_shape_increase
    image = np.random.default_rng(0).random(tuple(tile), dtype=np.float32)
    run(network, image, args.after)  # warm-up: oneDNN's kernels, the allocator
    whole, _, moves = run(network, image, None)
    print(f"{args.network}: one tile of {' × '.join(map(str, tile))} voxels takes {whole:.1f} s on the CPU")
    print(f"  in-tile progress took {moves} distinct values during it")
    latencies = [run(network, image, args.after)[1] for _ in range(args.repeat)]
    print(
        f"  cancel {args.after:.0f} s into the tile: stopped {max(latencies):.2f} s later at the most "
        f"({', '.join(f'{s:.2f}' for s in latencies)})"
    )


if __name__ == "__main__":
    main()
