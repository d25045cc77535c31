"""How a prediction plan is cut into blocks for blockwise workers: a pure function.

The plan's tiles write a regular grid of the output that starts at output voxel 0: every tile
writes ``tile_write`` voxels per axis (the last one fewer). A blockwise block is a box of
whole tiles, ``block_write`` voxels per axis (a multiple of ``tile_write``), on the same grid,
and the output is chunked by ``tile_write``. So each block writes whole chunks that no other
block touches: workers never write the same chunk, and a block redone after a crash writes
the same values again.

Block coordinates are output voxels (as daisy ROIs); a block's input, with its context, is
the union of its tiles' ``read_roi``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cached_property

from funlib.geometry import Coordinate, Roi

from ..tiling import PredictionPlan, Tile


@dataclass(frozen=True)
class BlockLayout:
    plan: PredictionPlan
    tile_write: Coordinate  # output voxels one tile writes (and the chunk shape)
    block_write: Coordinate  # output voxels one block writes, a multiple of tile_write

    @classmethod
    def from_plan(cls, plan: PredictionPlan, block_shape=None) -> BlockLayout:
        """Blocks of at least ``block_shape`` output voxels (rounded up to whole tiles; one
        tile per block when None)."""
        dims = plan.grid.dims
        starts = [sorted({t.write_roi.begin[d] for t in plan.tiles}) for d in range(dims)]
        tile_write = Coordinate(s[1] - s[0] if len(s) > 1 else plan.output_shape[d] for d, s in enumerate(starts))
        for d, axis_starts in enumerate(starts):
            if axis_starts != list(range(0, plan.output_shape[d], tile_write[d])):
                raise AssertionError(f"tiles on axis {d} are not on a regular grid from 0: {axis_starts[:4]}…")
        if block_shape is None:
            block_write = tile_write
        else:
            block_shape = Coordinate(block_shape)
            if block_shape.dims != dims or any(b < 1 for b in block_shape):
                raise ValueError(f"block shape {tuple(block_shape)}: expected {dims} positive sizes")
            tiles = Coordinate(-(-b // t) for b, t in zip(block_shape, tile_write, strict=True))
            block_write = tiles * tile_write
        return cls(plan, tile_write, block_write)

    @property
    def total_roi(self) -> Roi:
        return Roi((0,) * self.plan.grid.dims, self.plan.output_shape)

    @property
    def chunk_shape(self) -> Coordinate:
        return Coordinate(min(t, s) for t, s in zip(self.tile_write, self.plan.output_shape, strict=True))

    @property
    def blocks_per_axis(self) -> Coordinate:
        return Coordinate(-(-s // b) for s, b in zip(self.plan.output_shape, self.block_write, strict=True))

    @property
    def num_blocks(self) -> int:
        count = 1
        for n in self.blocks_per_axis:
            count *= n
        return count

    def write_rois(self) -> list[Roi]:
        """Every block's write ROI (clipped to the output), in daisy's order."""
        return [
            Roi(Coordinate(i * b for i, b in zip(index, self.block_write, strict=True)), self.block_write).intersect(
                self.total_roi
            )
            for index in itertools.product(*(range(n) for n in self.blocks_per_axis))
        ]

    @cached_property
    def _tiles_by_index(self) -> dict[tuple[int, ...], Tile]:
        return {t.index: t for t in self.plan.tiles}

    def tiles(self, write_roi: Roi) -> list[Tile]:
        """The plan's tiles that write inside ``write_roi`` (a block's write ROI)."""
        first = Coordinate(b // t for b, t in zip(write_roi.begin, self.tile_write, strict=True))
        last = Coordinate(-(-e // t) for e, t in zip(write_roi.end, self.tile_write, strict=True))
        tiles = []
        for index in itertools.product(*(range(f, e) for f, e in zip(first, last, strict=True))):
            tile = self._tiles_by_index.get(tuple(index))
            if tile is not None and write_roi.contains(tile.write_roi):
                tiles.append(tile)
        return tiles

    def read_roi(self, write_roi: Roi) -> Roi:
        """The input voxels (image coordinates, context included) a block reads."""
        rois = [t.read_roi for t in self.tiles(write_roi)]
        union = rois[0]
        for roi in rois[1:]:
            union = union.union(roi)
        return union
