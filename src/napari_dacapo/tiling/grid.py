"""How a network's output grid relates to its input: what the block planner needs to know.

All values are per spatial axis. A tile of ``tile_shape`` input voxels starting at input
position ``p`` (a multiple of ``step``) gives ``tile_output_shape`` output voxels; output voxel
``j`` of that tile is global output voxel ``upsample * p + j`` and has its centre at input
position ``first_centre + (upsample * p + j) / upsample``. ``halo`` output-side voxels of each
tile border (in input voxels) are untrusted: non-zero only for same-padding networks, whose
borders see zero padding.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction

from funlib.geometry import Coordinate

from ..architectures import Architecture, ShapeError, UNetGeometry


def _unet_geometry(architecture: Architecture) -> UNetGeometry | None:
    geometry = getattr(architecture, "geometry", None)
    return geometry if isinstance(geometry, UNetGeometry) else None


def _receptive_radius(geometry: UNetGeometry, attention: bool) -> Coordinate:
    """Upper bound of how far (input voxels) an output voxel sees, for same-padding nets."""
    radius = []
    for axis in range(geometry.dims):
        total, scale = 0, 1
        for level in range(geometry.num_levels):
            total += scale * sum(k[axis] // 2 for k in geometry.kernel_size_down[level])
            if level < geometry.num_levels - 1:
                f = geometry.downsample_factors[level][axis]
                total += scale * sum(k[axis] // 2 for k in geometry.kernel_size_up[level])
                total += scale * (f - 1)  # where the pooling windows fall
                if attention:  # the gate's interpolation reaches one coarse voxel further
                    total += scale * f
                scale *= f
        if geometry.head_kernel is not None:  # at the output's resolution: at most as far in input voxels
            total += geometry.head_kernel[axis] // 2
        radius.append(total + 1)
    return Coordinate(radius)


@dataclass(frozen=True)
class NetworkGrid:
    tile_shape: Coordinate
    tile_output_shape: Coordinate
    step: Coordinate
    upsample: Coordinate
    first_centre: tuple[Fraction, ...]
    halo: Coordinate

    @property
    def dims(self) -> int:
        return len(self.tile_shape)

    @property
    def trusted_output_shape(self) -> Coordinate:
        """Output voxels per tile that are kept (the tile output less the halo)."""
        return self.tile_output_shape - self.upsample * self.halo * 2

    @property
    def lost_output(self) -> Coordinate:
        """Output voxels a whole image loses: ``upsample * size - output size``."""
        return self.upsample * self.tile_shape - self.trusted_output_shape

    def with_tile_shape(self, architecture: Architecture, tile_shape: Coordinate) -> NetworkGrid:
        """The same grid with another (valid) tile shape."""
        tile_shape = Coordinate(tile_shape)
        output = _output_shape(architecture, tile_shape)
        return replace(
            self,
            tile_shape=tile_shape,
            tile_output_shape=output,
            first_centre=_first_centre(architecture, tile_shape, output),
        )

    @classmethod
    def from_architecture(
        cls,
        architecture: Architecture,
        use_eval_shape_increase: bool = True,
        tile_shape: Coordinate | None = None,
    ) -> NetworkGrid:
        if tile_shape is None:
            tile_shape = architecture.input_shape
            if use_eval_shape_increase:
                tile_shape = tile_shape + architecture.eval_shape_increase
        tile_shape = Coordinate(tile_shape)
        geometry = _unet_geometry(architecture)
        dims = architecture.dims
        if geometry is not None:
            step = geometry.total_downsample
            network = getattr(architecture, "architecture", architecture)  # a run's model
            attention = bool(getattr(network, "use_attention", False))
            halo = _receptive_radius(geometry, attention) if geometry.padding == "same" else Coordinate((0,) * dims)
        else:
            step = Coordinate((1,) * dims)
            halo = Coordinate((0,) * dims)
        output = _output_shape(architecture, tile_shape)
        grid = cls(
            tile_shape=tile_shape,
            tile_output_shape=output,
            step=step,
            upsample=Coordinate(architecture.upsample_factor),
            first_centre=_first_centre(architecture, tile_shape, output),
            halo=halo,
        )
        if any(t < 1 for t in grid.trusted_output_shape):
            raise ShapeError(
                f"tile shape {tuple(tile_shape)} is too small for this network: a "
                f"same-padding border of {tuple(halo)} voxels leaves nothing; use a larger "
                "eval_shape_increase"
            )
        return grid


def _output_shape(architecture: Architecture, tile_shape: Coordinate) -> Coordinate:
    try:
        return architecture.output_shape(tile_shape)
    except ShapeError as error:
        raise ShapeError(f"tile shape {tuple(tile_shape)} does not fit the network: {error}") from None
    except RuntimeError as error:
        raise ShapeError(f"tile shape {tuple(tile_shape)} does not fit the network: {error}") from None


def _first_centre(architecture, tile_shape, output) -> tuple[Fraction, ...]:
    geometry = _unet_geometry(architecture)
    if geometry is not None:
        return geometry.output_offset(tile_shape)
    # generic networks: assume the output is centred on the input
    upsample = Coordinate(architecture.upsample_factor)
    return tuple(
        (Fraction(t) - Fraction(o, a)) / 2 + Fraction(1, 2 * a) - Fraction(1, 2)
        for t, o, a in zip(tile_shape, output, upsample, strict=True)
    )


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


__all__ = ["NetworkGrid", "ceil_div"]
