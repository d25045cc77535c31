"""The options of a prediction run, held once and checked once."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

import torch
from funlib.geometry import Coordinate

from .devices import resolve_device, resolve_precision

__all__ = ["DTYPES", "PAD_MODES", "PRECISIONS", "TILE_GROWTH", "PredictOptions", "options_from"]

PAD_MODES = ("valid", "reflect", "zero")
TILE_GROWTH = 0.25
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
PRECISIONS = ("auto", *DTYPES)
"""What ``dtype`` may be: a compute precision, or ``"auto"`` (bfloat16 where the device has
it natively, else float32; see :func:`~.devices.resolve_precision`)."""


def _choice(value: Any, name: str, valid) -> None:
    if value not in valid:
        raise ValueError(f"{value!r} is not a valid choice for {name!r} (valid: {', '.join(map(repr, valid))})")


@dataclass(frozen=True)
class PredictOptions:
    """How to predict (see :func:`napari_dacapo.predict` for each option).

    Checked when made: a bad value raises a ``ValueError`` that names the option.
    """

    pad: str = "reflect"
    use_eval_shape_increase: bool = True
    device: str | torch.device = "auto"
    batch_size: int | str = "auto"
    dtype: str = "float32"
    tile_shape: Coordinate | None = None
    tile_growth: float = TILE_GROWTH
    prefetch: int = 4
    write_behind: int = 2
    raw_transfer: bool | str = "auto"

    def __post_init__(self) -> None:
        _choice(self.pad, "pad", PAD_MODES)
        _choice(self.dtype, "dtype", PRECISIONS)
        if self.batch_size != "auto" and (
            isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or self.batch_size < 1
        ):
            raise ValueError(f"batch_size must be a positive integer or 'auto', got {self.batch_size!r}")
        for name in ("prefetch", "write_behind"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a whole number 0 or more, got {value!r}")
        _choice(self.raw_transfer, "raw_transfer", (True, False, "auto"))
        if self.tile_growth < 0:
            raise ValueError(f"tile_growth must be 0 or more, got {self.tile_growth}")
        if self.tile_shape is not None:
            object.__setattr__(self, "tile_shape", Coordinate(self.tile_shape))

    @classmethod
    def from_keywords(cls, **keywords: Any) -> PredictOptions:
        """Options from keyword arguments, naming any keyword that is not an option."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(keywords) - known)
        if unknown:
            raise TypeError(f"unknown prediction option(s) {', '.join(unknown)} (valid: {', '.join(sorted(known))})")
        return cls(**keywords)

    @property
    def torch_device(self) -> torch.device:
        return resolve_device(self.device)

    @property
    def torch_dtype(self) -> torch.dtype:
        """The compute precision on :attr:`torch_device` (``"auto"`` resolved)."""
        return DTYPES[resolve_precision(self.dtype, self.torch_device)]

    def on(self, device: torch.device) -> PredictOptions:
        """The same options with ``device`` resolved (done once per run)."""
        return replace(self, device=resolve_device(device))

    def but(self, **changes: Any) -> PredictOptions:
        """A copy with some options changed."""
        return replace(self, **changes)


def options_from(options: PredictOptions | None, keywords: dict[str, Any]) -> PredictOptions:
    """``options`` with ``keywords`` changed (defaults where ``options`` is None): how every
    engine function takes its options, as an object, as keywords, or both."""
    if options is None:
        return PredictOptions.from_keywords(**keywords)
    if not keywords:
        return options
    PredictOptions.from_keywords(**keywords)  # names an unknown keyword
    return options.but(**keywords)
