"""The napari dock widgets (magicgui). They gather parameters, start workers and add layers;
every computation is a call into the headless core."""

from .architecture_dock import ArchitectureDock
from .prediction_dock import PredictionDock

__all__ = ["ArchitectureDock", "PredictionDock"]
