"""The napari shell: the dock widgets (magicgui) and all GUI state. The docks gather
parameters, start workers and add layers; every computation is a call into the headless
core. Names are imported on first use, so the Qt-free helpers here (``registry``,
``output_layers``, ``view_region``) do not pull in magicgui or Qt."""

from __future__ import annotations

from importlib import import_module
from typing import Any

__all__ = ["ArchitectureDock", "NetworkRegistry", "PredictionDock", "RegisteredNetwork", "registry"]

_WHERE = {
    "ArchitectureDock": ".architecture_dock",
    "PredictionDock": ".prediction_dock",
    "NetworkRegistry": ".registry",
    "RegisteredNetwork": ".registry",
    "registry": ".registry",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_WHERE[name], __name__), name)


def __dir__() -> list[str]:
    return sorted(__all__)
