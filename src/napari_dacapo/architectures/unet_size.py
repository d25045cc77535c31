"""Size of a CNNectome U-Net by arithmetic: its parameter count and the memory one tile needs.

:func:`unet_parameters` and :func:`unet_tile_bytes` walk the layers ``CNNectomeUNet.module()``
builds, so the parameter count matches the built network exactly and the tile memory is what
the tiling engine's ``estimate_tile_memory`` measures on it (within a few percent), without
building anything or importing torch. :func:`size_problems` holds a network to
:data:`MAX_LEVELS`, :data:`MAX_PARAMETERS` and :data:`MAX_TILE_BYTES`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from .geometry import UNetGeometry
from .short_repr import short_repr

MAX_LEVELS = 32
"""Most ``downsample_factors`` (and ``upsample_factors``) a config may list. Halving 32 times
needs an input of 2^32 voxels per axis; real U-Nets have 2 to 6 levels."""

MAX_PARAMETERS = 2**31
"""Most parameters a network may have: 8 GiB of float32 weights. DaCapo's U-Nets have 0.1 to
~100 million (cellmap_unet3d: 5.4 million)."""

MAX_TILE_BYTES = 2**40
"""Most memory one tile may need (float32 activations of all layers plus the weights, batch 1):
1 TiB, more than any GPU or most machines have. cellmap_unet3d needs ~3.2 GiB per tile."""

_BYTES_PER_VALUE = 4  # float32


def format_bytes(count: int) -> str:
    """``3.2 GiB``; ``2^400 bytes`` (rounded down) from 1024 YiB on."""
    if count < 1024:
        return f"{count} bytes"
    if count.bit_length() > 90:  # 1024 YiB and more
        return f"2^{count.bit_length() - 1} bytes"
    units = ("KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")
    index = min(len(units), (count.bit_length() - 1) // 10)
    return f"{count / 2 ** (10 * index):,.1f} {units[index - 1]}"


def format_count(count: int) -> str:
    """``5,360,736``; ``3.9e+33``; ``2^4000`` (rounded down)."""
    if count < 10**12:
        return f"{count:,}"
    if count.bit_length() < 1000:
        return f"{float(count):.1e}"
    return f"2^{count.bit_length() - 1}"


def _shape_text(shape: Sequence[int]) -> str:
    if all(v.bit_length() < 64 for v in shape):
        return " × ".join(str(v) for v in shape)
    return short_repr(tuple(shape))


# -- size by arithmetic: what CNNectomeUNet.module() builds, layer by layer -----------------


def _fmaps(spec: Any, level: int) -> int:
    return spec.num_fmaps * spec.fmap_inc_factor**level


def _up_fmaps(spec: Any, level: int) -> int:
    """Channels out of the upsampling at ``level`` (no channel contraction at level 0)."""
    return _fmaps(spec, level + 1 if level == 0 else level)


def _right_fmaps(spec: Any, level: int) -> int:
    return spec.fmaps_out if level == 0 and spec.fmaps_out else _fmaps(spec, level)


def _conv_pass_parameters(c_in: int, c_out: int, kernels: Sequence[Sequence[int]], batch_norm: bool) -> int:
    total = 0
    for kernel in kernels:
        total += c_in * c_out * math.prod(kernel) + c_out + (2 * c_out if batch_norm else 0)
        c_in = c_out
    return total


def _attention_parameters(spec: Any, level: int, dims: int) -> int:
    f_int = _right_fmaps(spec, 0) if level == 0 else _up_fmaps(spec, level)
    ones = [(1,) * dims] * 2
    bn = spec.batch_norm
    return (
        _conv_pass_parameters(_fmaps(spec, level + 1), f_int, ones, bn)
        + _conv_pass_parameters(_fmaps(spec, level), f_int, ones, bn)
        + _conv_pass_parameters(f_int, 1, ones, bn)
    )


def unet_parameters(spec: Any, geometry: UNetGeometry) -> int:
    """The exact parameter count of the network that ``spec`` (a config or the network) builds."""
    bn, dims = spec.batch_norm, geometry.dims
    total = 0
    for level in range(geometry.num_levels):
        c_in = spec.fmaps_in if level == 0 else _fmaps(spec, level - 1)
        total += _conv_pass_parameters(c_in, _fmaps(spec, level), geometry.kernel_size_down[level], bn)
    for level in range(geometry.num_levels - 1):
        c_low, c_up = _fmaps(spec, level + 1), _up_fmaps(spec, level)
        kernel = 1 if spec.constant_upsample else math.prod(geometry.downsample_factors[level])
        total += c_low * c_up * kernel + c_up
        if spec.use_attention:
            total += _attention_parameters(spec, level, dims)
        c_right = _fmaps(spec, level) + c_up
        total += _conv_pass_parameters(c_right, _right_fmaps(spec, level), geometry.kernel_size_up[level], bn)
    out = spec.fmaps_out
    for _factor in geometry.upsample_factors:
        total += out * out + out + _conv_pass_parameters(out, out, geometry.kernel_size_up[-1], bn)
    return total


class _TileWalk:
    """One tile through the network in arithmetic: the values each leaf layer outputs, with
    the sizes the layers give (clamped at 1, so a shape that does not run still has a figure)."""

    def __init__(self, spec: Any, geometry: UNetGeometry):
        self.spec = spec
        self.geometry = geometry
        self.values = 0
        self.layers_per_conv = 3 if spec.batch_norm else 2  # conv, [batch norm], activation

    def out(self, channels: int, size: Sequence[int]) -> None:
        self.values += channels * math.prod(size)

    def conv_pass(self, channels: int, kernels: Sequence[Sequence[int]], size: list[int], padding: str) -> list[int]:
        for kernel in kernels:
            pads = [k // 2 if padding == "same" else 0 for k in kernel]
            size = [max(1, s + 2 * p - (k - 1)) for s, k, p in zip(size, kernel, pads, strict=True)]
            self.out(channels * self.layers_per_conv, size)
        return size

    def level(self, level: int, size: list[int]) -> list[int]:
        spec, geometry = self.spec, self.geometry
        left = self.conv_pass(_fmaps(spec, level), geometry.kernel_size_down[level], size, geometry.padding)
        if level == geometry.num_levels - 1:
            return left
        factor = geometry.downsample_factors[level]
        pooled = [max(1, s // f) for s, f in zip(left, factor, strict=True)]
        self.out(_fmaps(spec, level), pooled)  # max pooling
        below = self.level(level + 1, pooled)
        if spec.use_attention:
            self.attention(level, below, left, pooled)
        up = [s * f for s, f in zip(below, factor, strict=True)]
        c_up = _up_fmaps(spec, level)
        self.out(_fmaps(spec, level + 1) if spec.constant_upsample else 0, up)  # copying voxels
        self.out(2 * c_up, up)  # the (transposed) convolution and its ReLU
        kernels = geometry.kernel_size_up[level]
        crop_factors = [math.prod(f[axis] for f in geometry.downsample_factors[level:]) for axis in range(len(up))]
        cropped = []
        for axis, (s, crop_factor) in enumerate(zip(up, crop_factors, strict=True)):
            conv_crop = sum(k[axis] - 1 for k in kernels)
            target = ((s - conv_crop) // crop_factor) * crop_factor + conv_crop
            cropped.append(target if target > conv_crop else s)
        return self.conv_pass(_right_fmaps(spec, level), kernels, cropped, geometry.padding)

    def attention(self, level: int, below: list[int], left: list[int], pooled: list[int]) -> None:
        f_int = _right_fmaps(self.spec, 0) if level == 0 else _up_fmaps(self.spec, level)
        per_conv = self.layers_per_conv - 1  # no activation in W_g and W_x
        self.out(2 * per_conv * f_int, below)  # W_g on the coarse signal
        self.out(2 * per_conv * f_int, left)  # W_x on the skip
        self.out(2 * f_int, pooled)  # W_x's pooling, the ReLU of the sum
        self.out(2 * self.layers_per_conv, pooled)  # psi: one channel, sigmoid
        self.out(1, [s * f for s, f in zip(pooled, self.geometry.downsample_factors[level], strict=True)])

    def network(self, shape: Sequence[int]) -> int:
        self.out(self.spec.fmaps_in, shape)  # the input
        size = self.level(0, list(shape))
        out = self.spec.fmaps_out
        for factor in self.geometry.upsample_factors:
            size = [s * f for s, f in zip(size, factor, strict=True)]
            self.out(3 * out, size)  # copying voxels, 1×…×1 conv, ReLU
            size = self.conv_pass(out, self.geometry.kernel_size_up[-1], size, "valid")
        return self.values


def unet_tile_bytes(spec: Any, geometry: UNetGeometry, shape: Sequence[int]) -> int:
    """Bytes to run one tile of ``shape`` (batch 1, no gradients) by arithmetic: the input,
    the float32 outputs of all leaf layers and the weights, which is what the tiling engine's
    ``estimate_tile_memory`` measures on the built network."""
    return _BYTES_PER_VALUE * (_TileWalk(spec, geometry).network(shape) + unet_parameters(spec, geometry))


def _all_positive_ints(values: Sequence[Any]) -> bool:
    return all(_is_int(v) and v >= 1 for v in values)


def _sizes_known(spec: Any, geometry: UNetGeometry, shapes: Sequence[Sequence[int]]) -> bool:
    """Whether every size :func:`size_problems` works with is a positive integer of the right dims."""
    channels = (spec.fmaps_in, spec.num_fmaps, spec.fmap_inc_factor, spec.fmaps_out)
    if not _all_positive_ints(channels) or not geometry.kernel_size_down or not geometry.kernel_size_down[0]:
        return False
    if len(geometry.kernel_size_down) != geometry.num_levels or len(geometry.kernel_size_up) != geometry.num_levels - 1:
        return False
    kernels = [k for level in (*geometry.kernel_size_down, *geometry.kernel_size_up) for k in level]
    factors = [*geometry.downsample_factors, *geometry.upsample_factors]
    dims = geometry.dims
    return all(len(c) == dims and _all_positive_ints(c) for c in (*kernels, *factors, *shapes))


def size_problems(spec: Any, geometry: UNetGeometry, shapes: Sequence[tuple[str, Sequence[int]]]) -> list[str]:
    """Why the network of ``spec`` (a config or the network) is too large to build, or to run
    on tiles of ``shapes`` (labelled): :data:`MAX_LEVELS`, :data:`MAX_PARAMETERS` and
    :data:`MAX_TILE_BYTES`. Nothing where the sizes are not all positive integers of the right
    dims (``verify()`` says what is wrong with those)."""
    levels = (("downsample_factors", geometry.downsample_factors), ("upsample_factors", geometry.upsample_factors))
    for field, factors in levels:
        if len(factors) > MAX_LEVELS:
            return [f"{field} lists {len(factors):,} levels, more than the {MAX_LEVELS} a network may have"]
    if not _sizes_known(spec, geometry, [shape for _label, shape in shapes]):
        return []
    parameters = unet_parameters(spec, geometry)
    if parameters > MAX_PARAMETERS:
        return [
            f"the network would have ~{format_count(parameters)} parameters "
            f"(~{format_bytes(_BYTES_PER_VALUE * parameters)} of float32 weights), more than the limit of "
            f"{format_count(MAX_PARAMETERS)} (check num_fmaps, fmap_inc_factor, fmaps_in, fmaps_out, kernel sizes)"
        ]
    for label, shape in shapes:
        need = unet_tile_bytes(spec, geometry, shape)
        if need > MAX_TILE_BYTES:
            return [
                f"a tile of {label} {_shape_text(shape)} needs ~{format_bytes(need)} "
                f"(float32, batch 1, estimated), more than the limit of {format_bytes(MAX_TILE_BYTES)}"
            ]
    return []


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
