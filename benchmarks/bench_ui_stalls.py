"""Main-thread stalls while the docks predict: a 10 ms QTimer on napari's GUI thread records
the gaps between its ticks (a gap is the time the GUI could not answer).

xvfb-run -a -s "-screen 0 1280x800x24" python benchmarks/bench_ui_stalls.py [--seconds 20]

Three scenarios, driven through the real docks in a shown napari window at 1280 × 800:

- ``sample``: the 3D sample volume, the demo model, Predict until done (layer added);
- ``cellmap``: a 1 × 128 × 256 × 256 image, ``cellmap_unet3d`` (untrained), Predict for
  ``--seconds`` then Cancel and wait until the run has stopped;
- ``preview``: the sample volume with preview on, the view scrolled one slice every 150 ms
  and panned for ``--seconds``;
- ``scroll``: the same with preview off — napari's own cost of scrolling, the baseline;
- ``add``: napari's own cost of adding a layer like the sample run's output (64 × 128 × 128
  float32, no plugin code): the floor of the sample run's first gap.

Prints per scenario the largest gap, the 99th percentile, how many gaps exceed 50 ms, and the
number of ticks (a gap of 10 ms is no stall).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from napari_dacapo.widgets.preview import viewer_camera


class GapMeter:
    """A 10 ms timer on the GUI thread; ``gaps`` are the intervals between its ticks (ms)."""

    def __init__(self, interval_ms: int = 10):
        from qtpy.QtCore import QTimer

        self.timer = QTimer()
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)
        self.gaps: list[float] = []
        self._last: float | None = None

    def _tick(self) -> None:
        now = time.perf_counter()
        if self._last is not None:
            self.gaps.append((now - self._last) * 1000)
        self._last = now

    def start(self) -> None:
        self.gaps, self._last = [], None
        self.timer.start()

    def stop(self) -> dict:
        self.timer.stop()
        gaps = np.asarray(self.gaps or [0.0])
        return {
            "max_ms": float(gaps.max()),
            "p99_ms": float(np.percentile(gaps, 99)),
            "over_50ms": int((gaps > 50).sum()),
            "ticks": len(gaps),
        }


def spin(seconds: float) -> None:
    from qtpy.QtWidgets import QApplication

    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        QApplication.processEvents()
        time.sleep(0.002)


def spin_until(condition, timeout: float = 600) -> None:
    from qtpy.QtWidgets import QApplication

    end = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > end:
            raise TimeoutError("the run did not finish")
        QApplication.processEvents()
        time.sleep(0.002)


def setup():
    import napari

    viewer = napari.Viewer(title="stall benchmark")
    viewer.window._qt_window.resize(1280, 800)
    _, architecture = viewer.window.add_plugin_dock_widget("napari-dacapo", "DaCapo architecture")
    _, prediction = viewer.window.add_plugin_dock_widget("napari-dacapo", "DaCapo prediction")
    spin(0.5)
    return viewer, architecture, prediction


def open_with_network(viewer, architecture, prediction, network: str, image=None) -> None:
    """A fresh viewer state: ``image`` (default: the 3D sample volume) and ``network`` built in
    the architecture dock and chosen in the prediction dock."""
    viewer.layers.clear()
    if image is None:
        viewer.open_sample("napari-dacapo", "em_volume")
    else:
        viewer.add_image(image, name="image")
    architecture.start_from.value = network
    architecture.build()
    prediction.image.value = viewer.layers[-1] if image is not None else viewer.layers["synthetic EM 3D"]
    prediction.network.value = network


def sample(viewer, architecture, prediction, meter, seconds):
    open_with_network(viewer, architecture, prediction, "demo_membranes_3d")
    spin(0.5)
    meter.start()
    prediction.run()
    spin_until(lambda: prediction.worker is None)
    spin(0.3)  # the layer drawn
    return meter.stop()


def cellmap(viewer, architecture, prediction, meter, seconds):
    image = np.random.default_rng(0).integers(0, 255, (1, 128, 256, 256), dtype=np.uint8)
    open_with_network(viewer, architecture, prediction, "cellmap_unet3d", image)
    spin(0.5)
    meter.start()
    prediction.run()
    spin(seconds)
    prediction.cancel()
    spin_until(lambda: prediction.worker is None)
    return meter.stop()


def scroll(viewer, architecture, prediction, meter, seconds):
    """The baseline: the same scrolling and panning with preview off (napari's own cost)."""
    return preview(viewer, architecture, prediction, meter, seconds, on=False)


def preview(viewer, architecture, prediction, meter, seconds, on=True):
    open_with_network(viewer, architecture, prediction, "demo_membranes_3d")
    camera = viewer_camera(viewer)
    # the whole 128 × 128 plane in view (napari resets the view to the volume)
    prediction.preview.value = on
    spin(2.0)  # the first preview (and its layer) made
    meter.start()
    end = time.perf_counter() + seconds
    step = 0
    while time.perf_counter() < end:
        z = 16 + step % 32
        viewer.dims.current_step = (z, *viewer.dims.current_step[1:])
        if step % 10 == 5:
            center = np.asarray(camera.center)
            center[-1] += 4 * (1 if step % 20 < 10 else -1)
            camera.center = tuple(center)
        step += 1
        spin(0.15)
        if step % 13 == 0:
            spin(0.6)  # the view stops for a moment: the preview updates
    spin_until(lambda: prediction._preview_worker is None or not prediction._preview_worker.is_running, 30)
    spin(0.3)
    result = meter.stop()
    prediction.preview.value = False
    return result


def add(viewer, architecture, prediction, meter, seconds):
    """The baseline of ``sample``: napari adding a layer like its output, nothing else running."""
    open_with_network(viewer, architecture, prediction, "demo_membranes_3d")
    output = np.random.default_rng(0).random((64, 128, 128), dtype=np.float32)
    spin(0.5)
    meter.start()
    spin(0.2)
    viewer.add_image(output, name="output", colormap="green", blending="additive", scale=(8, 8, 8))
    spin(0.5)  # the layer drawn
    return meter.stop()


SCENARIOS = {"sample": sample, "add": add, "cellmap": cellmap, "preview": preview, "scroll": scroll}


def main() -> None:
    import os

    if os.environ.get("BENCH_TORCH_THREADS"):
        import torch

        torch.set_num_threads(int(os.environ["BENCH_TORCH_THREADS"]))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    args = parser.parse_args()
    viewer, architecture, prediction = setup()
    meter = GapMeter()
    print(f"{'scenario':10s} {'max ms':>8s} {'p99 ms':>8s} {'>50 ms':>7s} {'ticks':>7s}  message")
    for name in args.scenarios.split(","):
        result = SCENARIOS[name](viewer, architecture, prediction, meter, args.seconds)
        print(
            f"{name:10s} {result['max_ms']:8.0f} {result['p99_ms']:8.0f} {result['over_50ms']:7d} "
            f"{result['ticks']:7d}  {prediction.message.value[:70]}",
            flush=True,
        )
    from napari.qt.threading import WorkerBase

    WorkerBase.await_workers()  # what napari's app does on quit: no worker outlives the window
    viewer.close()


if __name__ == "__main__":
    main()
