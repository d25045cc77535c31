"""Shape arithmetic of a CNNectome U-Net, without torch.

Every operation of the network acts on each spatial axis independently, so the shape of the
output (and where its first voxel sits in the input) follows from walking one axis at a time
through the same levels the network has. :class:`UNetGeometry` does that walk; the network,
``verify()`` and the tiling engine all ask it instead of running the network.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from funlib.geometry import Coordinate


class ShapeError(ValueError):
    """An input shape the network cannot process, with the reason."""


@dataclass(frozen=True)
class AxisResult:
    """Result of walking one axis: output size, centre of output voxel 0 in input voxels,
    and output voxel spacing in input voxels."""

    size: int
    first_centre: Fraction
    spacing: Fraction


@dataclass(frozen=True)
class UNetGeometry:
    """The shape-relevant parameters of a CNNectome U-Net (kernel sizes already resolved)."""

    downsample_factors: tuple[Coordinate, ...]
    kernel_size_down: tuple[tuple[Coordinate, ...], ...]
    kernel_size_up: tuple[tuple[Coordinate, ...], ...]
    padding: str = "valid"
    upsample_factors: tuple[Coordinate, ...] = ()
    head_kernel: Coordinate | None = None
    """A DaCapo task's prediction head with a kernel larger than 1 (unpadded, at the output's
    resolution); None for the 1×…×1 heads and for a bare network."""

    def with_head(self, kernel: Sequence[int] | None) -> UNetGeometry:
        """The same network followed by an unpadded head convolution of ``kernel``."""
        from dataclasses import replace

        if kernel is None or all(k == 1 for k in kernel):
            return replace(self, head_kernel=None)
        return replace(self, head_kernel=Coordinate(kernel))

    @property
    def dims(self) -> int:
        return len(self.kernel_size_down[0][0])

    @property
    def num_levels(self) -> int:
        return len(self.downsample_factors) + 1

    @property
    def total_downsample(self) -> Coordinate:
        """Product of the downsample factors: the period of the network's output grid."""
        total = Coordinate((1,) * self.dims)
        for factor in self.downsample_factors:
            total = total * Coordinate(factor)
        return total

    @property
    def total_upsample(self) -> Coordinate:
        """Product of the super-resolution ``upsample_factors`` (output voxels per input voxel)."""
        total = Coordinate((1,) * self.dims)
        for factor in self.upsample_factors:
            total = total * Coordinate(factor)
        return total

    # -- walking one axis -------------------------------------------------------------

    def _crop_factors(self, axis: int) -> list[int]:
        factors = [f[axis] for f in self.downsample_factors]
        return [math.prod(factors[level:]) for level in range(len(factors))]

    def _conv(self, size, centre, spacing, kernels, axis, padding, where):
        for k in kernels:
            k = k[axis]
            pad = k // 2 if padding == "same" else 0
            size = size + 2 * pad - (k - 1)
            centre = centre + (Fraction(k - 1, 2) - pad) * spacing
            if size < 1:
                raise ShapeError(f"the feature map vanishes in {where} (axis {axis})")
        return size, centre

    def _level(self, level, size, centre, spacing, axis):
        size, centre = self._conv(
            size,
            centre,
            spacing,
            self.kernel_size_down[level],
            axis,
            self.padding,
            f"the down-path convolutions of level {level}",
        )
        if level == self.num_levels - 1:
            return size, centre, spacing
        f = self.downsample_factors[level][axis]
        if size % f != 0:
            raise ShapeError(
                f"a feature map of size {size} cannot be downsampled by {f} at level {level} (axis {axis})"
            )
        left_size = size
        low_size, low_centre, low_spacing = self._level(
            level + 1, size // f, centre + Fraction(f - 1, 2) * spacing, spacing * f, axis
        )
        # upsampling (transposed conv or nearest): each low voxel becomes f voxels
        size = low_size * f
        centre = low_centre - Fraction(f - 1, 2) * spacing
        # crop to the translation-equivariance factor, as dacapo-ml does in every mode
        crop_factor = self._crop_factors(axis)[level]
        conv_crop = sum(k[axis] - 1 for k in self.kernel_size_up[level])
        target = ((size - conv_crop) // crop_factor) * crop_factor + conv_crop
        if target != size:
            if target <= conv_crop:
                raise ShapeError(
                    f"a feature map of size {size} at level {level} (axis {axis}) is too "
                    f"small to keep translation equivariance with factor {crop_factor}"
                )
            centre = centre + ((size - target) // 2) * spacing
            size = target
        if left_size < size:
            raise ShapeError(
                f"the skip connection of level {level} (size {left_size}) is smaller than "
                f"the upsampled map (size {size}) on axis {axis}"
            )
        size, centre = self._conv(
            size,
            centre,
            spacing,
            self.kernel_size_up[level],
            axis,
            self.padding,
            f"the up-path convolutions of level {level}",
        )
        return size, centre, spacing

    def walk_axis(self, size: int, axis: int) -> AxisResult:
        """Walk one axis of length ``size`` through the network."""
        if size < 1:
            raise ShapeError(f"input size {size} on axis {axis} is not positive")
        size, centre, spacing = self._level(0, size, Fraction(0), Fraction(1), axis)
        for factor in self.upsample_factors:
            u = factor[axis]
            size = size * u
            spacing = spacing / u
            centre = centre - Fraction(u - 1, 2) * spacing
            size, centre = self._conv(
                size,
                centre,
                spacing,
                self.kernel_size_up[-1],
                axis,
                "valid",
                "the convolutions after super-resolution upsampling",
            )
        if self.head_kernel is not None:
            size, centre = self._conv(
                size, centre, spacing, (self.head_kernel,), axis, "valid", "the prediction head's convolution"
            )
        return AxisResult(size, centre, spacing)

    # -- whole shapes -----------------------------------------------------------------

    def output_shape(self, input_shape: Sequence[int]) -> Coordinate:
        """Spatial output shape for ``input_shape``; :class:`ShapeError` if it cannot run."""
        input_shape = Coordinate(input_shape)
        if input_shape.dims != self.dims:
            raise ShapeError(
                f"input shape {tuple(input_shape)} has {input_shape.dims} dims, the network has {self.dims}"
            )
        return Coordinate(self.walk_axis(s, a).size for a, s in enumerate(input_shape))

    def output_offset(self, input_shape: Sequence[int]) -> tuple[Fraction, ...]:
        """Centre of output voxel 0, in input voxels (input voxel ``i`` has its centre at ``i``)."""
        return tuple(self.walk_axis(s, a).first_centre for a, s in enumerate(input_shape))

    def is_valid_input(self, input_shape: Sequence[int]) -> bool:
        try:
            self.output_shape(input_shape)
        except ShapeError:
            return False
        return True
