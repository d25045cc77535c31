"""npe2 widgets: the two docks (the napari shell itself is :mod:`napari_dacapo.widgets`)."""

from .widgets.architecture_dock import ArchitectureDock
from .widgets.prediction_dock import PredictionDock

__all__ = ["ArchitectureDock", "PredictionDock"]
