"""napari-dacapo: DaCapo's network architectures in napari."""

from .tiling import PredictionCancelled, PredictOptions, plan_prediction, predict

__version__ = "0.1.0"

__all__ = ["PredictOptions", "PredictionCancelled", "__version__", "plan_prediction", "predict"]
