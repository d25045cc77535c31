"""The napari shell: the dock widgets (magicgui) and all GUI state. The docks gather
parameters, start workers and add layers; every computation is a call into the headless
core. Names are imported on first use, so the Qt-free helpers here (``registry``,
``output_layers``, ``view_region``) do not pull in magicgui or Qt."""

from __future__ import annotations

from .._lazy import lazy_names

__all__ = ["ArchitectureDock", "NetworkRegistry", "PredictionDock", "RegisteredNetwork", "registry"]

_WHERE = {
    "ArchitectureDock": ".architecture_dock",
    "PredictionDock": ".prediction_dock",
    "NetworkRegistry": ".registry",
    "RegisteredNetwork": ".registry",
    "registry": ".registry",
}


__getattr__, __dir__ = lazy_names(__name__, _WHERE)
