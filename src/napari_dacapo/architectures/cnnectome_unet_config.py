"""Config of the CNNectome U-Net (DaCapo's ``CNNectomeUNetConfig``), with a real ``verify()``.

``verify()`` also refuses configs that are consistent but absurdly large: more than
:data:`MAX_LEVELS` levels, more than :data:`MAX_PARAMETERS` parameters, or a tile that needs
more than :data:`MAX_TILE_BYTES`. Both figures are worked out by arithmetic
(:func:`unet_parameters`, :func:`unet_tile_bytes`), so nothing is allocated to find out; the
network refuses to be built from such a config too. This module does not need torch.
"""

from __future__ import annotations

from typing import Any

import attr
from funlib.geometry import Coordinate

from .architecture_config import ArchitectureConfig, lazy_type
from .geometry import ShapeError, UNetGeometry
from .short_repr import short_repr, squeeze_numbers
from .unet_size import (  # noqa: F401 (the size arithmetic's names, imported from here before it moved)
    MAX_LEVELS,
    MAX_PARAMETERS,
    MAX_TILE_BYTES,
    _is_int,
    format_bytes,
    format_count,
    size_problems,
    unet_parameters,
    unet_tile_bytes,
)

PADDINGS = ("valid", "same")

_MAX_PROBLEMS_SHOWN = 8


def _coordinate(value: Any) -> Any:
    """Lists/tuples of ints become Coordinates; anything else is left for ``verify()``."""
    if isinstance(value, list | tuple) and value and all(_is_int(v) for v in value):
        return Coordinate(value)
    return value


def _optional_coordinate(value: Any) -> Any:
    return None if value is None else _coordinate(value)


def _coordinates(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [_coordinate(v) for v in value]
    return value


def _optional_coordinates(value: Any) -> Any:
    return None if value is None else _coordinates(value)


def _optional_kernel_lists(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [_coordinates(level) for level in value]
    return value


@attr.s
class CNNectomeUNetConfig(ArchitectureConfig):
    """A U-Net after CNNectome (saalfeldlab), with optional super-resolution stages.

    Fields and defaults are those of dacapo-ml 0.3.5, so DaCapo config files load unchanged.
    """

    architecture_type = lazy_type(".cnnectome_unet:CNNectomeUNet")  # imported on first use (torch)

    input_shape: Coordinate = attr.ib(
        converter=_coordinate,
        metadata={"help_text": "The shape of the data passed into the network during training."},
    )
    fmaps_out: int = attr.ib(metadata={"help_text": "The number of channels produced by your architecture."})
    fmaps_in: int = attr.ib(metadata={"help_text": "The number of channels expected from the raw data."})
    num_fmaps: int = attr.ib(metadata={"help_text": "The number of feature maps in the top level of the UNet."})
    fmap_inc_factor: int = attr.ib(
        metadata={"help_text": "The multiplication factor for the number of feature maps for each level of the UNet."}
    )
    downsample_factors: list[Coordinate] = attr.ib(
        converter=_coordinates,
        metadata={"help_text": "The factors to downsample the feature maps along each axis per layer."},
    )
    kernel_size_down: list[list[Coordinate]] | None = attr.ib(
        default=None,
        converter=_optional_kernel_lists,
        metadata={"help_text": "The size of the convolutional kernels used before downsampling in each layer."},
    )
    kernel_size_up: list[list[Coordinate]] | None = attr.ib(
        default=None,
        converter=_optional_kernel_lists,
        metadata={"help_text": "The size of the convolutional kernels used before upsampling in each layer."},
    )
    _eval_shape_increase: Coordinate | None = attr.ib(
        default=None,
        converter=_optional_coordinate,
        metadata={
            "help_text": "The amount by which to increase the input size when just "
            "prediction rather than training. It is generally possible to significantly "
            "increase the input size since we don't have the memory constraints of the "
            "gradients, the optimizer and the batch size."
        },
    )
    upsample_factors: list[Coordinate] | None = attr.ib(
        default=None,
        converter=_optional_coordinates,
        metadata={"help_text": "The amount by which to upsample the output of the UNet."},
    )
    constant_upsample: bool = attr.ib(
        default=True,
        metadata={"help_text": "Whether to use a transpose convolution or simply copy voxels to upsample."},
    )
    padding: str = attr.ib(
        default="valid",
        metadata={"help_text": "The padding to use in convolution operations."},
    )
    use_attention: bool = attr.ib(
        default=False,
        metadata={"help_text": "Whether to use attention blocks in the UNet. This is supported for 2D and  3D."},
    )
    batch_norm: bool = attr.ib(
        default=False,
        metadata={"help_text": "Whether to use batch normalization."},
    )

    @property
    def eval_shape_increase(self) -> Coordinate | None:
        return self._eval_shape_increase

    @property
    def dims(self) -> int:
        return len(self.input_shape)

    def geometry(self) -> UNetGeometry:
        """Shape parameters with default kernels filled in (two 3×…×3 convs per level)."""
        dims = self.dims
        levels = len(self.downsample_factors) + 1
        default = [Coordinate((3,) * dims)] * 2
        down = self.kernel_size_down if self.kernel_size_down is not None else [default] * levels
        up = self.kernel_size_up if self.kernel_size_up is not None else [default] * (levels - 1)
        return UNetGeometry(
            downsample_factors=tuple(Coordinate(f) for f in self.downsample_factors),
            kernel_size_down=tuple(tuple(Coordinate(k) for k in level) for level in down),
            kernel_size_up=tuple(tuple(Coordinate(k) for k in level) for level in up),
            padding=self.padding,
            upsample_factors=tuple(Coordinate(f) for f in (self.upsample_factors or [])),
        )

    def verify(self) -> tuple[bool, str]:
        """Check the config for consistency, that both input shapes produce output, and that
        the network is not absurdly large (see :func:`size_problems`)."""
        try:
            problems = self._problems()
        except Exception as error:  # a field of a type nothing expects; say so rather than raise
            return False, f"cannot check the config: {short_repr(error, 120)}"
        if problems:
            shown = "; ".join(problems[:_MAX_PROBLEMS_SHOWN])
            more = len(problems) - _MAX_PROBLEMS_SHOWN
            return False, shown + (f" (+{more} more problems)" if more > 0 else "")
        return True, "valid"

    def _problems(self) -> list[str]:
        problems: list[str] = []

        def coordinate_problem(field: str, value: Any, dims: int | None) -> str | None:
            if not isinstance(value, tuple) or not all(_is_int(v) for v in value):
                return f"{field} must be a list of integers, got {short_repr(value)}"
            if any(v < 1 for v in value):
                return f"{field} must be positive, got {short_repr(tuple(value))}"
            if dims is not None and len(value) != dims:
                return f"{field} has {len(value)} dims, input_shape has {dims}"
            return None

        shape_problem = coordinate_problem("input_shape", self.input_shape, None)
        if shape_problem:
            return [shape_problem]
        dims = len(self.input_shape)
        if dims not in (2, 3):
            return [f"input_shape must be 2D or 3D, got {dims:,}D {short_repr(tuple(self.input_shape))}"]

        if not isinstance(self.name, str) or not self.name:
            problems.append("name must be a non-empty string")
        for field in ("fmaps_out", "fmaps_in", "num_fmaps", "fmap_inc_factor"):
            value = getattr(self, field)
            if not _is_int(value) or value < 1:
                problems.append(f"{field} must be a positive integer, got {short_repr(value)}")
        for field in ("constant_upsample", "use_attention", "batch_norm"):
            if not isinstance(getattr(self, field), bool):
                problems.append(f"{field} must be true or false, got {short_repr(getattr(self, field))}")
        if not isinstance(self.padding, str) or self.padding not in PADDINGS:
            problems.append(f"{short_repr(self.padding)} is not a valid choice for 'padding' (valid: 'valid', 'same')")

        if not isinstance(self.downsample_factors, list) or not self.downsample_factors:
            problems.append("downsample_factors must list at least one factor (one per level)")
            return problems
        for field in ("downsample_factors", "upsample_factors"):
            value = getattr(self, field)
            if isinstance(value, list) and len(value) > MAX_LEVELS:
                problems.append(f"{field} lists {len(value):,} levels, more than the {MAX_LEVELS} a network may have")
                return problems
        for i, factor in enumerate(self.downsample_factors):
            problem = coordinate_problem(f"downsample_factors[{i}]", factor, dims)
            if problem:
                problems.append(problem)
        levels = len(self.downsample_factors) + 1
        for field, expected in (("kernel_size_down", levels), ("kernel_size_up", levels - 1)):
            value = getattr(self, field)
            if value is None:
                continue
            if not isinstance(value, list) or len(value) != expected:
                found = len(value) if isinstance(value, list) else short_repr(value)
                problems.append(
                    f"{field} must list {expected} levels (downsample_factors has {levels - 1} entries), got {found}"
                )
                continue
            for i, level in enumerate(value):
                if not isinstance(level, list) or not level:
                    problems.append(f"{field}[{i}] must list at least one kernel size")
                    continue
                for j, kernel in enumerate(level):
                    problem = coordinate_problem(f"{field}[{i}][{j}]", kernel, dims)
                    if problem:
                        problems.append(problem)
        if self._eval_shape_increase is not None:
            increase = self._eval_shape_increase
            if not isinstance(increase, tuple) or not all(_is_int(v) and v >= 0 for v in increase):
                problems.append(f"eval_shape_increase must be non-negative integers, got {short_repr(increase)}")
            elif len(increase) != dims:
                problems.append(f"eval_shape_increase has {len(increase)} dims, input_shape has {dims}")
        if self.upsample_factors is not None:
            if not isinstance(self.upsample_factors, list):
                problems.append(f"upsample_factors must be a list, got {short_repr(self.upsample_factors)}")
            else:
                for i, factor in enumerate(self.upsample_factors):
                    problem = coordinate_problem(f"upsample_factors[{i}]", factor, dims)
                    if problem:
                        problems.append(problem)
        if problems:
            return problems

        geometry = self.geometry()
        shapes = [("input_shape", self.input_shape)]
        if self._eval_shape_increase is not None and any(self._eval_shape_increase):
            shapes.append(("input_shape + eval_shape_increase", self.input_shape + self._eval_shape_increase))
        for label, shape in shapes:
            try:
                geometry.output_shape(shape)
            except ShapeError as error:
                reason = squeeze_numbers(str(error))
                problems.append(f"{label} {short_repr(tuple(shape), 80)} gives no output: {reason}")
        problems.extend(size_problems(self, geometry, shapes))
        return problems
