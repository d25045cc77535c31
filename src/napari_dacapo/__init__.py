"""napari-dacapo: DaCapo's network architectures in napari.

The public names are imported on first use (PEP 562), so ``import napari_dacapo``, the
command line's ``--help`` and napari's plugin discovery do not load torch, zarr or napari.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._lazy import lazy_names

if TYPE_CHECKING:
    from .tiling import PredictionCancelled, PredictOptions, plan_prediction, predict

__all__ = ["PredictOptions", "PredictionCancelled", "__version__", "plan_prediction", "predict"]

_MODULES = {
    "PredictOptions": ".tiling",
    "PredictionCancelled": ".tiling",
    "plan_prediction": ".tiling",
    "predict": ".tiling",
}


def _version() -> str:
    """The installed distribution's version (set from the git tag at build time)."""
    from importlib import metadata

    try:
        return metadata.version("napari-dacapo")
    except metadata.PackageNotFoundError:  # imported from a source tree that is not installed
        return "0+unknown"


_lazy_getattr, _lazy_dir = lazy_names(__name__, _MODULES)


def __dir__() -> list[str]:
    return sorted({*_lazy_dir(), "__version__"})


def __getattr__(name: str) -> Any:
    if name == "__version__":
        globals()[name] = value = _version()
        return value
    return _lazy_getattr(name)
