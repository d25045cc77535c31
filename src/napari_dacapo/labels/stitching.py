"""Labels that do not depend on how the volume is cut: fragments per block of a fixed grid,
joined across block faces, named canonically.

Why the result is exact:

- The block grid is anchored at the output's voxel 0 and has a fixed shape (not the tiles,
  not the workers), and the prediction is bit-identical however it was tiled, so each
  block's fragments are the same in a preview, an in-napari run and the blockwise CLI.
- Two fragments of face-adjacent blocks join when they touch across the face: for a
  threshold, any two foreground voxels that face each other (so the objects are *exactly* the
  face-connected components of the whole volume's threshold); for affinities, when the mean
  affinity of the nearest-neighbour edges between them across the face is above the bias.
- The joins form a graph; its connected components (scipy) are the objects, and each object's
  ID is the smallest provisional ID in it: one plus the linear index of the object's first
  voxel in the whole output. That depends only on the object's voxels, so a region holds the
  same IDs as the full run wherever its objects are whole inside it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from funlib.geometry import Coordinate, Roi

__all__ = [
    "DEFAULT_BLOCK",
    "LabelRule",
    "block_grid",
    "drop_lonely",
    "face_joins",
    "join_table",
    "relabel",
]

DEFAULT_BLOCK = {2: 256, 3: 64}
"""Label block edge (output voxels) per number of spatial dims."""


@dataclass(frozen=True)
class LabelRule:
    """How a prediction becomes labels: ``kind`` ``"threshold"`` (``channel`` above ``value``),
    ``"watershed"`` (affinities with ``offsets``, bias ``value``) or ``"argmax"``."""

    kind: str
    value: float | None = None
    channel: int = 0
    offsets: tuple[tuple[int, ...], ...] = ()

    @property
    def instances(self) -> bool:
        return self.kind in ("threshold", "watershed")

    def unit_offset(self, axis: int, dims: int) -> tuple[int, int]:
        """The channel of the nearest-neighbour edge along ``axis`` and its sign (+1, -1)."""
        for channel, offset in enumerate(self.offsets):
            for sign in (1, -1):
                if tuple(offset) == tuple(sign if a == axis else 0 for a in range(dims)):
                    return channel, sign
        raise ValueError(
            f"the affinities have no nearest-neighbour offset along axis {axis} (offsets {list(self.offsets)}): "
            "blocks cannot be joined there"
        )


def block_grid(shape: Sequence[int], block: Sequence[int]) -> Iterator[Roi]:
    """The blocks (output voxels) of a grid of ``block`` anchored at 0, clipped to ``shape``."""
    shape, block = Coordinate(shape), Coordinate(block)
    counts = [-(-s // b) for s, b in zip(shape, block, strict=True)]
    total = Roi((0,) * shape.dims, shape)
    for index in np.ndindex(*counts):
        yield Roi(Coordinate(index) * block, block).intersect(total)


def face_joins(
    labels: np.ndarray,
    prediction: np.ndarray | None,
    rule: LabelRule,
    axis: int,
    face: int,
) -> np.ndarray:
    """Pairs of provisional IDs to join across the face between slices ``face - 1`` and
    ``face`` of ``axis`` (``labels``: provisional IDs, ``prediction``: channels first)."""
    lower = np.take(labels, face - 1, axis=axis).ravel()
    upper = np.take(labels, face, axis=axis).ravel()
    both = (lower != 0) & (upper != 0)
    if rule.kind == "threshold":
        pairs = np.stack([lower[both], upper[both]], axis=1)
        return np.unique(pairs, axis=0) if len(pairs) else pairs.reshape(0, 2)
    channel, sign = rule.unit_offset(axis, labels.ndim)
    side = face - 1 if sign > 0 else face  # the edge (x, x + offset) is stored at x
    weights = np.take(prediction[channel], side, axis=axis).ravel()[both].astype(np.float64)
    pairs = np.stack([lower[both], upper[both]], axis=1)
    if not len(pairs):
        return pairs.reshape(0, 2)
    unique, inverse = np.unique(pairs, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    sums = np.bincount(inverse, weights=weights, minlength=len(unique))
    counts = np.bincount(inverse, minlength=len(unique))
    return unique[sums / counts > float(rule.value)]


def join_table(ids: np.ndarray, pairs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For the provisional ``ids`` and the ``pairs`` to join: (sorted ids, final ID of each),
    the final ID being the smallest ID of its connected component."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    ids = np.unique(np.concatenate([ids.ravel(), pairs.ravel()]).astype(np.uint64))
    ids = ids[ids != 0]
    if not len(pairs):
        return ids, ids.copy()
    a = np.searchsorted(ids, pairs[:, 0].astype(np.uint64))
    b = np.searchsorted(ids, pairs[:, 1].astype(np.uint64))
    graph = coo_matrix((np.ones(len(a), np.int8), (a, b)), shape=(len(ids), len(ids)))
    _count, component = connected_components(graph, directed=False)
    smallest = np.full(component.max() + 1, np.iinfo(np.uint64).max, np.uint64)
    np.minimum.at(smallest, component, ids)
    return ids, smallest[component]


def drop_lonely(table: tuple[np.ndarray, np.ndarray], lonely: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``table`` with the ``lonely`` IDs (voxels a block's watershed left unlabelled) sent to
    0 where they joined nothing across a face: mutex watershed's background, as in one piece."""
    ids, final = table
    lonely = np.intersect1d(np.asarray(lonely, np.uint64), ids)
    if not len(lonely):
        return table
    _objects, inverse, members = np.unique(final, return_inverse=True, return_counts=True)
    where = np.searchsorted(ids, lonely)
    alone = members[inverse.ravel()[where]] == 1
    final = final.copy()
    final[where[alone]] = 0
    return ids, final


def relabel(labels: np.ndarray, table: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """``labels`` (provisional IDs) with each ID replaced by its final one (0 stays 0)."""
    ids, final = table
    out = np.zeros(labels.shape, np.uint64)
    mask = labels != 0
    if mask.any() and len(ids):
        out[mask] = final[np.searchsorted(ids, labels[mask].astype(np.uint64))]
    return out
