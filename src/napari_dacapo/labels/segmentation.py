"""Labels of a whole prediction in memory (napari, the Python API), made block by block on
the same grid and with the same joins as the blockwise command line (:mod:`.stitching`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from funlib.geometry import Coordinate

from .fragments import argmax_classes, first_voxel_ids, threshold_fragments, watershed_fragments
from .stitching import (
    DEFAULT_BLOCK,
    LabelRule,
    block_grid,
    drop_lonely,
    face_joins,
    join_table,
    relabel,
)

__all__ = ["block_labels", "label_rule", "segment"]


def label_rule(post_processor, value: float | None = None, channel: int = 0) -> LabelRule:
    """The :class:`LabelRule` of a task's post-processor, with its parameter (default: the
    task's) checked against its range."""
    kind = post_processor.kind
    if kind == "none":
        raise ValueError("this task has no post-processor: it makes no labels")
    if kind == "argmax":
        return LabelRule("argmax")
    number = post_processor.check(post_processor.default if value is None else value)
    return LabelRule(kind, number, int(channel), tuple(post_processor.offsets))


def block_labels(
    prediction: np.ndarray, rule: LabelRule, origin: Sequence[int], full_shape: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """One block's labels — provisional IDs for instances (see :func:`first_voxel_ids`),
    classes for argmax — and the provisional IDs of voxels the watershed left alone.
    ``prediction`` is the block's channels-first prediction."""
    none = np.zeros(0, np.uint64)
    if rule.kind == "argmax":
        return argmax_classes(prediction), none
    if rule.kind == "threshold":
        if not 0 <= rule.channel < prediction.shape[0]:
            raise ValueError(f"channel {rule.channel}: the prediction has {prediction.shape[0]} channels")
        return first_voxel_ids(threshold_fragments(prediction[rule.channel], rule.value), origin, full_shape), none
    if prediction.shape[0] < len(rule.offsets):
        raise ValueError(f"{len(rule.offsets)} offsets, but the prediction has {prediction.shape[0]} channels")
    local, alone = watershed_fragments(prediction[: len(rule.offsets)], rule.offsets, rule.value)
    labels = first_voxel_ids(local, origin, full_shape)
    return labels, np.unique(labels[alone])


def segment(
    prediction: np.ndarray,
    rule: LabelRule,
    *,
    block: Sequence[int] | None = None,
    origin: Sequence[int] | None = None,
    full_shape: Sequence[int] | None = None,
) -> np.ndarray:
    """Labels of ``prediction`` (channels first). ``block``: the label block (default
    :data:`DEFAULT_BLOCK`); ``origin``/``full_shape``: where this prediction sits in the full
    output (a preview region), so IDs and blocks are the full run's. uint64 instances, or
    uint8 classes for argmax."""
    prediction = np.asarray(prediction)
    spatial = Coordinate(prediction.shape[1:])
    dims = spatial.dims
    origin = Coordinate(origin if origin is not None else (0,) * dims)
    full_shape = Coordinate(full_shape if full_shape is not None else spatial)
    block = Coordinate(block if block is not None else (DEFAULT_BLOCK[dims],) * dims)
    if rule.kind == "argmax":
        return argmax_classes(prediction)
    labels = np.zeros(tuple(spatial), np.uint64)
    # the full run's blocks that this region overlaps, clipped to the region
    blocks, lonely = [], [np.zeros(0, np.uint64)]
    for roi in block_grid(full_shape, block):
        local = roi.intersect(type(roi)(origin, spatial))
        if local.empty:
            continue
        box = (local - origin).to_slices()
        labels[box], alone = block_labels(prediction[(slice(None), *box)], rule, local.begin, full_shape)
        lonely.append(alone)
        blocks.append(local - origin)
    pairs = [np.zeros((0, 2), np.uint64)]
    for axis in range(dims):
        # every block boundary inside the region is a whole plane of the regular grid
        for face in sorted({roi.begin[axis] for roi in blocks} - {0}):
            pairs.append(face_joins(labels, prediction, rule, axis, face))
    table = join_table(labels, np.concatenate(pairs).astype(np.uint64))
    table = drop_lonely(table, np.concatenate(lonely))
    return relabel(labels, table)
