"""A network over an image with more axes than it has: a 2D network on a 3D volume (or a
time series), slice by slice."""

from __future__ import annotations

import itertools
from collections.abc import Generator
from typing import Any

import numpy as np

from ..architectures import Architecture
from .forward import on_device
from .memory import next_smaller_plan, plan_attempts
from .options import PredictOptions, options_from
from .predict import predict_steps
from .progress import Monitor, PredictionCancelled, Step

__all__ = ["leading_axes", "predict_stack_steps"]


def leading_axes(architecture: Architecture, image: Any) -> int:
    """How many leading axes of ``image`` are predicted slice by slice (0: a plain image).

    Only single-channel networks predict stacks: for them an image with more axes than the
    network's dims, beyond a leading channel axis of size 1, is a stack of slices."""
    extra = len(image.shape) - architecture.dims
    if extra < 1 or architecture.num_in_channels != 1 or (extra == 1 and image.shape[0] == 1):
        return 0
    return extra


class _SliceOut:
    """The part of ``out`` that one slice's prediction fills: ``out[:, *index, ...]``."""

    def __init__(self, out: Any, index: tuple[int, ...]):
        self._out, self._index = out, index
        self.shape = (out.shape[0], *out.shape[1 + len(index) :])

    def __setitem__(self, key, value) -> None:
        channels, *spatial = key
        self._out[(channels, *self._index, *spatial)] = value


def predict_stack_steps(
    architecture: Architecture,
    image: Any,
    options: PredictOptions | None = None,
    *,
    out: Any = None,
    monitor: Monitor | None = None,
    **keywords: Any,
) -> Generator[Step, None, Any]:
    """Predict every slice of ``image`` (leading axes ``L``, then the network's spatial axes)
    into ``out`` of shape ``(channels, *L, *output)``; like :func:`predict_steps`, it yields a
    :class:`Step` (counting tiles over all slices) and returns ``out``. Each slice is predicted
    exactly as :func:`napari_dacapo.predict` would predict it alone."""
    options = options_from(options, keywords)
    extra = leading_axes(architecture, image)
    if extra == 0:
        raise ValueError(
            f"a {architecture.dims}D network with {architecture.num_in_channels} input channel(s) does not "
            f"predict an image of shape {tuple(image.shape)} slice by slice"
        )
    leading = tuple(image.shape[:extra])
    options = options.on(options.torch_device)
    spatial = tuple(image.shape[extra:])
    # planned (and checked against free memory) once for all slices
    plans = plan_attempts(architecture, spatial, options)
    plan = next(plans)
    shape = (architecture.num_out_channels, *leading, *plan.output_shape)
    if out is None:
        out = np.zeros(shape, dtype=np.float32)
    elif tuple(out.shape) != shape:
        raise ValueError(f"'out' has shape {tuple(out.shape)}, the prediction needs {shape}")
    per_slice = len(plan.tiles)
    total = per_slice * int(np.prod(leading))
    yield Step(0, total, tuple(plan.grid.tile_shape))
    with on_device(architecture, options.torch_device):  # once for all slices, not once per slice
        for count, index in enumerate(itertools.product(*(range(n) for n in leading))):
            while True:  # a slice whose tiles do not fit is done again with smaller ones
                steps = predict_steps(
                    architecture,
                    image[index],
                    options.but(tile_shape=plan.grid.tile_shape),
                    out=_SliceOut(out, index),
                    monitor=monitor,
                )
                try:
                    for step in steps:
                        if step.done:  # tiles may change (memory): count the slice's share
                            done = count * per_slice + step.done * per_slice // step.total
                            yield Step(done, total, step.tile_shape, step.precision)
                    break
                except MemoryError as error:
                    plan = next_smaller_plan(plans, error, architecture, options.tile_shape)
                except PredictionCancelled as cancelled:  # counted over all slices
                    raise PredictionCancelled(count * per_slice + cancelled.tiles_done, total) from None
                finally:
                    steps.close()
    return out
