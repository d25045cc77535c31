"""Take the README screenshot: both docks and the demo prediction over the sample volume.

xvfb-run -a python scripts/screenshot.py docs/screenshot.png
xvfb-run -a -s "-screen 0 1280x800x24" python scripts/screenshot.py docs/screenshot_1280x800.png 1280x800
"""

from __future__ import annotations

import sys
import time

import napari
from qtpy.QtWidgets import QApplication


def wait_for(condition, timeout: float = 120.0) -> None:
    start = time.perf_counter()
    while not condition():
        QApplication.processEvents()
        time.sleep(0.02)
        if time.perf_counter() - start > timeout:
            raise TimeoutError("the prediction did not finish")


def main(path: str = "docs/screenshot.png", size: str = "1700x1000") -> None:
    width, height = (int(v) for v in size.split("x"))
    viewer = napari.Viewer(title="napari DaCapo")
    viewer.window.resize(width, height)
    viewer.open_sample("napari-dacapo", "em_volume")
    _, architecture = viewer.window.add_plugin_dock_widget("napari-dacapo", "DaCapo architecture")
    _, prediction = viewer.window.add_plugin_dock_widget("napari-dacapo", "DaCapo prediction")
    architecture.start_from.value = "demo_membranes_3d"
    prediction.image.value = viewer.layers["synthetic EM 3D"]
    prediction.network.value = "demo_membranes_3d"
    prediction.run()
    wait_for(lambda: prediction.worker is None)
    viewer.dims.current_step = (32, 64, 64)
    viewer.layers.selection.active = viewer.layers["synthetic EM 3D · demo_membranes_3d"]
    viewer.layers["synthetic EM 3D · demo_membranes_3d"].contrast_limits = (0, 1)
    for _ in range(5):
        QApplication.processEvents()
    viewer.reset_view()
    QApplication.processEvents()
    viewer.screenshot(path, canvas_only=False)
    print(f"wrote {path}; {prediction.message.value}")
    viewer.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
