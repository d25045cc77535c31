"""Reading one tile from a numpy, dask or zarr array, with padding outside the image."""

from __future__ import annotations

from typing import Any

import numpy as np
from funlib.geometry import Roi


def _reflect(index: np.ndarray, size: int) -> np.ndarray:
    """numpy's 'reflect' padding (edge not repeated), for any distance from the image."""
    if size == 1:
        return np.zeros_like(index)
    period = 2 * (size - 1)
    index = np.mod(index, period)
    return np.where(index >= size, period - index, index)


def read_tile(image: Any, roi: Roi, pad: str, channel_axis: bool) -> np.ndarray:
    """The voxels of ``roi`` as float32 (channels first).

    Inside the image the data is read as one slice. Outside, ``pad='reflect'`` mirrors the
    image and ``'zero'``/``'valid'`` read zeros (with 'valid' those voxels never reach a kept
    output).
    """
    spatial = image.shape[1:] if channel_axis else image.shape
    indices, inside = [], []
    for lo, size, extent in zip(roi.begin, roi.shape, spatial, strict=True):
        idx = np.arange(lo, lo + size)
        if pad == "reflect":
            idx = _reflect(idx, extent)
            inside.append(None)
        else:
            inside.append((idx >= 0) & (idx < extent))
            idx = np.clip(idx, 0, extent - 1)
        indices.append(idx)
    box = tuple(slice(int(i.min()), int(i.max()) + 1) for i in indices)
    if channel_axis:
        box = (slice(None),) + box
    block = np.asarray(image[box])
    local = [i - i.min() for i in indices]
    if any(not np.array_equal(i, np.arange(len(i))) for i in local):
        grid = np.ix_(*local)
        block = block[(slice(None),) + grid] if channel_axis else block[grid]
    block = to_float32(block)
    if not channel_axis:
        block = block[np.newaxis]
    masks = [m for m in inside if m is not None]
    if masks and not all(m.all() for m in masks):
        mask = np.ones((), dtype=bool)
        for d, m in enumerate(inside):
            shape = [1] * len(inside)
            shape[d] = -1
            mask = mask & m.reshape(shape)
        block = np.where(mask[np.newaxis], block, np.float32(0))
    return np.ascontiguousarray(block, dtype=np.float32)


def to_float32(data: np.ndarray) -> np.ndarray:
    """Integers are divided by their type's maximum (uint8 EM becomes [0, 1], as DaCapo's raw
    data); floats are kept as they are; booleans become 0 and 1."""
    if data.dtype == np.float32:
        return data
    if data.dtype == bool:
        return data.astype(np.float32)
    if np.issubdtype(data.dtype, np.integer):
        return (data.astype(np.float32) / np.float32(np.iinfo(data.dtype).max)).astype(np.float32)
    return data.astype(np.float32)
