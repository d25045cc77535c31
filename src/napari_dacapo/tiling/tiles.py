"""The tile planner: a pure function from an image shape and a network grid to tiles.

A tile is one forward pass: a ``read_roi`` (input voxels to feed the network, in image
coordinates; it may reach outside the image, where padding or zeros are read), a ``crop_roi``
(the part of the network's output that is kept, in tile-output coordinates) and a
``write_roi`` (where that part goes, in coordinates of the result array). Tiles start on
multiples of the network's downsampling period, so every tile computes exactly what one
forward pass over the whole (padded) image would compute there: there are no seams.
(A *block*, as in daisy and :mod:`napari_dacapo.blockwise`, is a box of whole tiles.)
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from fractions import Fraction

from funlib.geometry import Coordinate, Roi

from ..architectures import Architecture, ShapeError
from ..placement import Placement
from .grid import NetworkGrid, ceil_div
from .options import PAD_MODES, TILE_GROWTH

__all__ = [
    "PAD_MODES",
    "TILE_GROWTH",
    "Block",
    "PredictionPlan",
    "Tile",
    "plan_blocks",
    "plan_prediction",
    "plan_tiles",
]


@dataclass(frozen=True)
class Tile:
    """One forward pass of the network: what it reads, what of its output is kept, and where
    that goes."""

    index: tuple[int, ...]
    read_roi: Roi  # input voxels, image coordinates (may extend past the image)
    write_roi: Roi  # output voxels, result-array coordinates
    crop_roi: Roi  # the part of the tile's output that goes to write_roi (tile coordinates)


Block = Tile
"""The name :class:`Tile` had before blockwise runs called a box of tiles a block."""


@dataclass(frozen=True)
class _Axis:
    pad_lo: int
    first: int  # global output index of result voxel 0
    length: int
    offset: Fraction  # centre of result voxel 0, image voxels
    starts: tuple[int, ...]  # tile starts (padded coordinates)
    writes: tuple[tuple[int, int], ...]  # global output ranges per tile


@dataclass(frozen=True)
class PredictionPlan:
    image_shape: Coordinate
    grid: NetworkGrid
    pad: str
    pad_lo: Coordinate
    output_shape: Coordinate
    output_offset: tuple[Fraction, ...]  # centre of output voxel 0, input voxels
    tiles: tuple[Tile, ...]

    @property
    def blocks(self) -> tuple[Tile, ...]:
        """The tiles (their name before blockwise runs called a box of tiles a block)."""
        return self.tiles

    @property
    def tiles_per_axis(self) -> Coordinate:
        return Coordinate(max(t.index[d] for t in self.tiles) + 1 for d in range(self.grid.dims))

    def placement(self, image: Placement | None = None) -> Placement:
        """Where the output sits, for an input placed at ``image`` (array indices if None)."""
        image = image if image is not None else Placement.unit(self.grid.dims)
        return image.of_output(self.output_offset, self.grid.upsample)

    def output_placement(self, voxel_size=None, offset=None) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """World voxel size and world position of output voxel 0's centre.

        ``voxel_size`` and ``offset`` are the input's (offset: the centre of input voxel 0).
        """
        return self.placement(Placement.of(voxel_size, offset, self.grid.dims)).as_tuple()


def _plan_axis(size: int, grid: NetworkGrid, axis: int, pad: str) -> _Axis:
    a, h, F = grid.upsample[axis], grid.halo[axis], grid.step[axis]
    tile, out = grid.tile_shape[axis], grid.tile_output_shape[axis]
    lost = a * tile - out  # output voxels one tile loses to valid convolutions and crops
    centre = grid.first_centre[axis]
    if pad == "valid":
        pad_lo, first = 0, a * h
        length = a * size - lost - 2 * a * h
        if length < 1:
            raise ShapeError(
                f"the image ({size} voxels on axis {axis}) is smaller than the network's "
                f"context ({ceil_div(lost + 2 * a * h, a)} voxels): nothing is left with "
                "pad='valid'; use pad='reflect' or 'zero'"
            )
    else:
        # output voxel g has its centre at centre + g / a - pad_lo (image voxels); the first
        # of the a sub-voxels of image voxel 0 has its centre at -1/2 + 1/(2a)
        shift = a * centre + Fraction(a - 1, 2)
        pad_lo = max(0, ceil_div((a * h + shift).numerator, (a * h + shift).denominator * a))
        first = int((a * pad_lo - shift) // 1)
        while first < a * h:
            pad_lo += 1
            first += a
        length = a * size
    trusted = out - 2 * a * h
    per_tile = (trusted // (a * F)) * F  # input voxels between tile starts
    if per_tile < 1:
        raise ShapeError(
            f"tiles of {tile} voxels on axis {axis} yield {trusted} output voxels, fewer than "
            f"the network's grid period {F}: use a larger eval_shape_increase"
        )
    start = ((first - a * h) // (a * F)) * F
    starts, writes = [], []
    while a * start + a * h < first + length:
        lo = max(a * start + a * h, first)
        hi = min(a * start + a * h + a * per_tile, first + length)
        if hi > lo:
            starts.append(start)
            writes.append((lo, hi))
        start += per_tile
    offset = centre + Fraction(first, a) - pad_lo
    return _Axis(pad_lo, first, length, offset, tuple(starts), tuple(writes))


def _assemble(image_shape: Coordinate, grid: NetworkGrid, pad: str, axes: list[_Axis]) -> PredictionPlan:
    tiles = []
    for index in itertools.product(*(range(len(ax.starts)) for ax in axes)):
        read_lo, write_lo, crop_lo, shape = [], [], [], []
        for ax, i, a in zip(axes, index, grid.upsample, strict=True):
            start = ax.starts[i]
            lo, hi = ax.writes[i]
            read_lo.append(start - ax.pad_lo)
            write_lo.append(lo - ax.first)
            crop_lo.append(lo - a * start)
            shape.append(hi - lo)
        tiles.append(
            Tile(
                index=tuple(index),
                read_roi=Roi(Coordinate(read_lo), grid.tile_shape),
                write_roi=Roi(Coordinate(write_lo), Coordinate(shape)),
                crop_roi=Roi(Coordinate(crop_lo), Coordinate(shape)),
            )
        )
    return PredictionPlan(
        image_shape=image_shape,
        grid=grid,
        pad=pad,
        pad_lo=Coordinate(ax.pad_lo for ax in axes),
        output_shape=Coordinate(ax.length for ax in axes),
        output_offset=tuple(ax.offset for ax in axes),
        tiles=tuple(tiles),
    )


def plan_tiles(image_shape, grid: NetworkGrid, pad: str = "reflect") -> PredictionPlan:
    """Tiles of ``grid`` that cover the output of an image of ``image_shape`` exactly once."""
    image_shape = _checked(image_shape, grid, pad)
    axes = [_plan_axis(s, grid, d, pad) for d, s in enumerate(image_shape)]
    return _assemble(image_shape, grid, pad, axes)


def _checked(image_shape, grid: NetworkGrid, pad: str) -> Coordinate:
    if pad not in PAD_MODES:
        raise ValueError(f"{pad!r} is not a valid choice for 'pad' (valid: 'valid', 'reflect', 'zero')")
    image_shape = Coordinate(image_shape)
    if image_shape.dims != grid.dims:
        raise ValueError(f"image has {image_shape.dims} spatial dims, the network {grid.dims}")
    return image_shape


plan_blocks = plan_tiles  # its name before tiles and blocks were told apart


def plan_prediction(
    architecture: Architecture,
    image_shape,
    pad: str = "reflect",
    use_eval_shape_increase: bool = True,
    tile_shape=None,
    tile_growth: float = TILE_GROWTH,
) -> PredictionPlan:
    """Plan the tiles for ``architecture`` on an image.

    The tile is ``input_shape + eval_shape_increase`` (or ``input_shape``). Along each axis:

    - it may grow by up to ``tile_growth`` of its size (in steps of the network's grid
      period) where that saves a row of tiles: 256 voxels need three 164-voxel tiles of a
      network with 40 voxels of context, but only two of 168;
    - then it is shrunk as long as the number of tiles stays the same, so the last tile does
      not compute far past the image.

    Every tile computes the same voxels whatever its size, so the result does not depend on
    the tile (for a valid-padding network, exactly). An explicit ``tile_shape`` is used as
    it is.
    """
    grid = NetworkGrid.from_architecture(architecture, use_eval_shape_increase, tile_shape)
    image_shape = Coordinate(image_shape)
    if tile_shape is not None:
        return plan_tiles(image_shape, grid, pad)
    return fitted_plan(architecture, grid, image_shape, pad, tile_growth)


def fitted_plan(
    architecture: Architecture, grid: NetworkGrid, image_shape: Coordinate, pad: str, tile_growth: float
) -> PredictionPlan:
    """The plan with ``grid``'s tile, grown or shrunk per axis to need as few tiles, and
    compute as little past the image, as it can."""
    image_shape = _checked(image_shape, grid, pad)
    if tile_growth < 0:
        raise ValueError(f"tile_growth must be 0 or more, got {tile_growth}")
    shape = Coordinate(
        _best_tile(architecture, grid, image_shape[axis], axis, pad, tile_growth) for axis in range(grid.dims)
    )
    if shape != grid.tile_shape:
        grid = grid.with_tile_shape(architecture, shape)
    return plan_tiles(image_shape, grid, pad)


def _best_tile(architecture, grid: NetworkGrid, size: int, axis: int, pad: str, growth: float) -> int:
    """The smallest tile along ``axis`` that needs no more tiles than the largest one allowed
    (the configured tile, grown by up to ``growth``)."""

    def planned(tile: int) -> _Axis | None:
        if tile == grid.tile_shape[axis]:
            return _plan_axis(size, grid, axis, pad)
        shape = list(grid.tile_shape)
        shape[axis] = tile
        try:
            other = grid.with_tile_shape(architecture, Coordinate(shape))
            if other.trusted_output_shape[axis] < 1:
                return None
            return _plan_axis(size, other, axis, pad)
        except ShapeError:
            return None

    configured = grid.tile_shape[axis]
    step = grid.step[axis]
    reference = planned(configured)
    best, best_count = configured, len(reference.starts)
    limit = configured + int(configured * growth)
    for tile in range(configured + step, limit + 1, step):
        axis_plan = planned(tile)
        if axis_plan is None:
            break
        if len(axis_plan.starts) < best_count and _same_output(axis_plan, reference):
            best, best_count = tile, len(axis_plan.starts)
    for _ in range(_MAX_SHRINK_STEPS):
        tile = best - step
        if tile < 1:
            break
        axis_plan = planned(tile)
        if axis_plan is None or len(axis_plan.starts) > best_count or not _same_output(axis_plan, reference):
            break
        best = tile
    return best


def _same_output(a: _Axis, b: _Axis) -> bool:
    return a.length == b.length and a.offset == b.offset


_MAX_SHRINK_STEPS = 256
