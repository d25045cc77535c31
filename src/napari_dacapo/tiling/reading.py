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

__all__ = ["prefetched_tiles", "read_tile", "to_float32"]


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


def prefetched_tiles(
    image: Any, tiles: Sequence[Tile], pad: str, channel_axis: bool, stop: threading.Event, prefetch: int
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
                voxels = read_tile(image, tile.read_roi, pad, channel_axis)
                if not np.isfinite(voxels).all():
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
