"""Objects inside one block, from a block of the prediction: connected components of a
threshold, the argmax class, or a mutex watershed of affinities (``mwatershed``).

Every fragment gets a provisional ID that does not depend on how the volume is cut into
blocks: one plus the linear index (in the whole output) of its first voxel in C order.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

__all__ = ["argmax_classes", "first_voxel_ids", "threshold_fragments", "watershed_fragments"]


def first_voxel_ids(local: np.ndarray, origin: Sequence[int], full_shape: Sequence[int]) -> np.ndarray:
    """``local`` (a block's labels, 0 for background) relabelled so each object's ID is one
    plus the linear index, in an array of ``full_shape``, of its first voxel; the block sits
    at ``origin`` in that array. Returns uint64, 0 stays 0."""
    out = np.zeros(local.shape, np.uint64)
    mask = local != 0
    if not mask.any():
        return out
    grid = np.indices(local.shape, sparse=True)
    linear = np.zeros(local.shape, np.uint64)
    stride = 1
    for axis in reversed(range(local.ndim)):
        linear = linear + (grid[axis] + np.uint64(origin[axis])).astype(np.uint64) * np.uint64(stride)
        stride *= int(full_shape[axis])
    values = local[mask]
    positions = linear[mask]
    labels, inverse = np.unique(values, return_inverse=True)
    first = np.full(len(labels), np.iinfo(np.uint64).max, np.uint64)
    np.minimum.at(first, inverse, positions)
    out[mask] = first[inverse] + np.uint64(1)
    return out


def _structure(dims: int) -> np.ndarray:
    return ndimage.generate_binary_structure(dims, 1)


def threshold_fragments(channel: np.ndarray, threshold: float) -> np.ndarray:
    """Face-connected components of ``channel > threshold`` (0: background)."""
    labels, _count = ndimage.label(channel > threshold, structure=_structure(channel.ndim))
    return labels


def argmax_classes(scores: np.ndarray) -> np.ndarray:
    """The index of the highest-scoring channel per voxel (DaCapo's ArgmaxPostProcessor), uint8."""
    return np.argmax(scores, axis=0).astype(np.uint8)


def watershed_fragments(
    affinities: np.ndarray, offsets: Sequence[Sequence[int]], bias: float
) -> tuple[np.ndarray, np.ndarray]:
    """Mutex watershed of ``affinities - bias`` over ``offsets`` (DaCapo's WatershedPostProcessor,
    with fixed rather than randomised strides, so the result is reproducible; DaCapo's
    randomised strides without strides are the same). The edge of channel ``c`` at voxel
    ``x`` joins ``x`` and ``x + offsets[c]``. mwatershed leaves some voxels at 0 (background
    in DaCapo's output); here each is a fragment of its own, which may still join a fragment
    of the next block, and the mask of them is returned: those that join nothing become 0
    again when the blocks are joined (:func:`~napari_dacapo.labels.stitching.drop_lonely`)."""
    import mwatershed

    data = np.asarray(affinities, np.float64) - float(bias)
    labels = mwatershed.agglom(data, offsets=[list(map(int, o)) for o in offsets]).astype(np.int64)
    alone = labels == 0
    if alone.any():
        labels[alone] = labels.max() + 1 + np.arange(int(alone.sum()))
    return labels, alone
