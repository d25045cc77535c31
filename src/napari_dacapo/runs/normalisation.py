"""The input normalisation a run was trained with, read from its datasplit's raw array.

DaCapo trains and validates on raw data read through the datasplit's array configs:
``IntensitiesArrayConfig(min, max)`` maps raw values by ``(x - min) / (max - min)`` (no
clipping); a plain ``ZarrArrayConfig`` gives the raw values unchanged (0…255 for uint8 EM);
a ``SimpleDataSplitConfig`` divides uint8 by 255 and uint16 by 65535. ``dacapo.predict``
ignores the datasplit and always divides by the type's maximum — which is what napari-dacapo
does for a bare network. A run's prediction uses the datasplit's normalisation by default (the
network was trained on it); ``"dtype"`` chooses the type's maximum instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import RunError

__all__ = ["NORMALISATIONS", "Normalisation", "NormalisedImage", "raw_normalisation"]

NORMALISATIONS = ("datasplit", "dtype")


@dataclass(frozen=True)
class Normalisation:
    """``(x - low) / (high - low)`` on raw values (``low=0, high=1``: raw values as they are),
    or, with ``low`` None, integers divided by their type's maximum (the engine's default)."""

    low: float | None = None
    high: float | None = None
    source: str = "the image type's maximum"

    def __post_init__(self) -> None:
        if (self.low is None) != (self.high is None):
            raise RunError("a normalisation needs both min and max, or neither")
        if self.low is not None and not (np.isfinite(self.low) and np.isfinite(self.high) and self.high != self.low):
            raise RunError(f"normalisation min {self.low} and max {self.high}: expected two different finite numbers")

    @property
    def by_dtype(self) -> bool:
        return self.low is None

    def describe(self) -> str:
        if self.by_dtype:
            return "integers ÷ their type's maximum (uint8 ÷ 255), floats as they are"
        if (self.low, self.high) == (0.0, 1.0):
            return f"raw values as they are ({self.source})"
        return f"(x − {self.low:g}) / ({self.high:g} − {self.low:g}) ({self.source})"

    def apply(self, data: np.ndarray) -> np.ndarray:
        """``data`` (raw values) normalised, as float32 (computed in float64, as DaCapo does)."""
        if self.by_dtype:
            from ..tiling.reading import to_float32

            return to_float32(np.asarray(data))
        data = np.asarray(data)
        if data.dtype == np.float32 and (self.low, self.high) == (0.0, 1.0):
            return data
        return ((data.astype(np.float64) - self.low) / (self.high - self.low)).astype(np.float32)

    def wrap(self, image: Any) -> Any:
        """``image`` as the engine should read it: itself for the default, else a lazy view
        whose every read is normalised."""
        return image if self.by_dtype else NormalisedImage(image, self)


class NormalisedImage:
    """A read-only view of an array (numpy, dask, zarr) whose reads come back normalised:
    only the voxels read are converted, so a huge zarr volume stays on disk."""

    def __init__(self, image: Any, normalisation: Normalisation):
        self.image = image
        self.normalisation = normalisation
        self.shape = tuple(image.shape)
        self.ndim = len(self.shape)
        self.dtype = np.dtype(np.float32)

    def __getitem__(self, key: Any) -> np.ndarray:
        return self.normalisation.apply(np.asarray(self.image[key]))

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        data = self[...]
        return data if dtype is None else data.astype(dtype)


_PASS_THROUGH = {
    "CropArrayConfig": "source_array_config",
    "ResampledArrayConfig": "source_array_config",
    "MissingAnnotationsMaskConfig": "source_array_config",
}
_RAW = ("ZarrArrayConfig", "TiffArrayConfig", "DVIDArrayConfig")


def _array_normalisation(document: Any, where: str, depth: int = 0) -> Normalisation:
    if depth > 32:
        raise RunError(f"{where}: array configs nested too deeply")
    if not isinstance(document, dict):
        raise RunError(f"{where}: expected an array config, got {type(document).__name__}")
    kind = document.get("__type__")
    name = document.get("name", "?")
    if kind == "IntensitiesArrayConfig":
        inner = _array_normalisation(document.get("source_array_config"), where, depth + 1)
        low, high = document.get("min"), document.get("max")
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (low, high)):
            raise RunError(f"{where}: IntensitiesArrayConfig {name!r} needs numbers min and max, got {low!r}, {high!r}")
        if not inner.by_dtype and (inner.low, inner.high) != (0.0, 1.0):
            raise RunError(f"{where}: IntensitiesArrayConfig {name!r} wraps another normalisation: not supported")
        return Normalisation(float(low), float(high), f"IntensitiesArrayConfig {name!r}")
    if kind in _PASS_THROUGH:
        return _array_normalisation(document.get(_PASS_THROUGH[kind]), where, depth + 1)
    if kind == "ConcatArrayConfig":
        sources = document.get("source_array_configs")
        if not isinstance(sources, dict) or not sources:
            raise RunError(f"{where}: ConcatArrayConfig {name!r} has no source_array_configs")
        found = {_array_normalisation(v, where, depth + 1) for v in sources.values()}
        if len({(n.low, n.high) for n in found}) != 1:
            raise RunError(f"{where}: ConcatArrayConfig {name!r} normalises its channels differently: not supported")
        return found.pop()
    if kind in _RAW:
        return Normalisation(0.0, 1.0, f"{kind} {name!r}, not rescaled")
    if kind == "DummyArrayConfig":
        return Normalisation()
    supported = ", ".join(("IntensitiesArrayConfig", *_PASS_THROUGH, "ConcatArrayConfig", *_RAW))
    raise RunError(
        f"{where}: raw array config type {kind!r} is not supported (supported: {supported}); "
        "choose the normalisation 'dtype' to predict anyway"
    )


def raw_normalisation(datasplit: Any, where: str = "datasplit_config") -> Normalisation:
    """The normalisation of the raw data a run trained on, from its datasplit config."""
    if not isinstance(datasplit, dict):
        raise RunError(f"{where}: expected a datasplit config, got {type(datasplit).__name__}")
    kind = datasplit.get("__type__")
    if kind == "SimpleDataSplitConfig":
        return Normalisation(source="SimpleDataSplitConfig: uint8 ÷ 255, uint16 ÷ 65535")
    if kind == "DummyDataSplitConfig":
        return Normalisation(source="DummyDataSplitConfig")
    datasets = datasplit.get("train_configs") if kind == "TrainValidateDataSplitConfig" else None
    if not isinstance(datasets, list) or not datasets:
        raise RunError(
            f"{where}: datasplit type {kind!r} is not supported or has no train_configs "
            "(supported: TrainValidateDataSplitConfig, SimpleDataSplitConfig, DummyDataSplitConfig)"
        )
    found = set()
    for index, dataset in enumerate(datasets):
        raw = dataset.get("raw_config") if isinstance(dataset, dict) else None
        if raw is None:
            raise RunError(f"{where}: train_configs[{index}] has no raw_config")
        found.add(_array_normalisation(raw, f"{where}: train_configs[{index}].raw_config"))
    if len({(n.low, n.high) for n in found}) != 1:
        raise RunError(f"{where}: the training datasets normalise their raw data differently")
    return min(found, key=lambda n: n.source)
