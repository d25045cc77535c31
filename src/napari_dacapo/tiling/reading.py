"""Reading tiles from a numpy, dask or zarr array: one tile with padding outside the image,
and a reader thread that reads ahead of the forward passes."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from funlib.geometry import Roi

from .tiles import Tile

__all__ = ["is_raw_type", "prefetched_tiles", "raw_to_float32", "read_tile", "to_float32"]


def _reflect(index: np.ndarray, size: int) -> np.ndarray:
    """numpy's 'reflect' padding (edge not repeated), for any distance from the image."""
    if size == 1:
        return np.zeros_like(index)
    period = 2 * (size - 1)
    index = np.mod(index, period)
    return np.where(index >= size, period - index, index)


def read_tile(image: Any, roi: Roi, pad: str, channel_axis: bool, raw: bool = False) -> np.ndarray:
    """The voxels of ``roi`` as float32 (channels first); with ``raw``, integer and boolean
    images keep their type (the device converts them, :func:`raw_to_float32`: uint8 EM
    crosses PCIe as uint8), zeros outside the image then normalising to 0.0 all the same.

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
    keep = raw and is_raw_type(block.dtype)
    if not keep:
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
        block = np.where(mask[np.newaxis], block, block.dtype.type(0))
    return np.ascontiguousarray(block, dtype=block.dtype if keep else np.float32)


def is_raw_type(dtype: np.dtype) -> bool:
    """Whether tiles of this type may cross to the device as they are (then converted there)."""
    return np.dtype(dtype) in (np.dtype(np.bool_), np.uint8, np.int8, np.uint16, np.int16)


def raw_to_float32(x: Any, dtype: np.dtype) -> Any:
    """A torch tensor of raw ``dtype`` tiles as :func:`to_float32` makes them: integers divided
    by their type's maximum in float32 (the same IEEE operation, the same values)."""
    import torch

    x = x.to(torch.float32)
    if np.dtype(dtype) == np.bool_:
        return x
    return x / float(np.float32(np.iinfo(dtype).max))


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


def prefetched_tiles(
    image: Any,
    tiles: Sequence[Tile],
    pad: str,
    channel_axis: bool,
    stop: threading.Event,
    prefetch: int,
    raw: bool = False,
) -> Iterator[tuple[Tile, np.ndarray]]:
    """Each tile with its voxels, read in a background thread up to ``prefetch`` tiles ahead
    of the consumer. A tile with NaN or infinite values raises ``ValueError``; setting
    ``stop`` (or closing the iterator) ends the reader."""
    ready: queue.Queue = queue.Queue(maxsize=max(1, prefetch))
    done = object()

    def reader():
        try:
            for tile in tiles:
                if stop.is_set():
                    return
                voxels = read_tile(image, tile.read_roi, pad, channel_axis, raw)
                if voxels.dtype.kind == "f" and not np.isfinite(voxels).all():
                    raise ValueError(
                        f"the image has NaN or infinite values in {tile.read_roi} "
                        "(voxels outside the image are padding)"
                    )
                ready.put((tile, voxels))
        except BaseException as error:  # handed to the consumer
            ready.put(error)
        finally:
            ready.put(done)

    thread = threading.Thread(target=reader, name="napari-dacapo-reader", daemon=True)
    thread.start()
    try:
        while True:
            item = ready.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a reader waiting on a full queue
            try:
                ready.get_nowait()
            except queue.Empty:
                thread.join(timeout=0.01)
