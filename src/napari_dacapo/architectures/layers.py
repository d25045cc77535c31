"""Building blocks of the CNNectome U-Net.

Their attribute names and the order of layers inside each ``Sequential`` fix the state_dict
keys, so they follow dacapo-ml 0.3.5 exactly (see :mod:`.cnnectome_unet`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

_CONV = {2: nn.Conv2d, 3: nn.Conv3d}
_CONV_TRANSPOSE = {2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}
_BATCH_NORM = {2: nn.BatchNorm2d, 3: nn.BatchNorm3d}
_MAX_POOL = {2: nn.MaxPool2d, 3: nn.MaxPool3d}
_INTERPOLATION = {2: "bilinear", 3: "trilinear"}


def _lookup(table: dict, dims: int, what: str):
    try:
        return table[dims]
    except KeyError:
        raise ValueError(f"{dims}D {what} is not supported: only 2D and 3D networks") from None


def center_crop(x: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    """Crop the trailing spatial axes of ``x`` to ``shape``, centred (floor of half the excess)."""
    dims = len(shape)
    slices = [slice(None)] * (x.dim() - dims)
    for size, target in zip(x.shape[-dims:], shape, strict=True):
        start = (size - target) // 2
        slices.append(slice(start, start + target))
    return x[tuple(slices)]


class ConvPass(nn.Module):
    """A stack of convolutions, each followed by optional batch norm and an activation.

    Layer order (the state_dict indices): conv, [batch norm], [activation], conv, ...
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_sizes: Sequence[Sequence[int]],
        activation: str | None,
        padding: str = "valid",
        batch_norm: bool = True,
    ):
        super().__init__()
        layers: list[nn.Module] = []
        for kernel_size in kernel_sizes:
            kernel_size = tuple(kernel_size)
            self.dims = len(kernel_size)
            conv = _lookup(_CONV, self.dims, "convolution")
            pad = tuple(k // 2 for k in kernel_size) if padding == "same" else 0
            layers.append(conv(in_channels, out_channels, kernel_size, padding=pad))
            if batch_norm:
                layers.append(_BATCH_NORM[self.dims](out_channels))
            if activation is not None:
                layers.append(getattr(nn, activation)())
            in_channels = out_channels
        self.conv_pass = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_pass(x)


class Downsample(nn.Module):
    """Max pooling by an integer factor per axis; refuses sizes it cannot divide."""

    def __init__(self, factor: Sequence[int]):
        super().__init__()
        self.factor = tuple(factor)
        self.dims = len(self.factor)
        self.down = _lookup(_MAX_POOL, self.dims, "pooling")(self.factor, stride=self.factor)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spatial = tuple(x.shape[-self.dims :])
        if any(s % f for s, f in zip(spatial, self.factor, strict=True)):
            raise RuntimeError(
                f"cannot downsample a feature map of spatial shape {spatial} "
                f"by {self.factor}: each size must be a multiple of its factor"
            )
        return self.down(x)


class Upsample(nn.Module):
    """Upsample by transposed convolution, or by copying voxels followed by a 1×…×1 conv.

    With ``crop_factor`` and ``next_conv_kernel_sizes`` the result is cropped so that the
    following convolutions yield a multiple of ``crop_factor`` (translation equivariance).
    Called with a skip tensor, the cropped skip is concatenated in front (channels first).
    """

    def __init__(
        self,
        scale_factor: Sequence[int],
        mode: str = "transposed_conv",
        in_channels: int | None = None,
        out_channels: int | None = None,
        crop_factor: Sequence[int] | None = None,
        next_conv_kernel_sizes: Sequence[Sequence[int]] | None = None,
        activation: str | None = None,
    ):
        super().__init__()
        if (crop_factor is None) != (next_conv_kernel_sizes is None):
            raise ValueError("crop_factor and next_conv_kernel_sizes go together")
        self.scale_factor = tuple(scale_factor)
        self.dims = len(self.scale_factor)
        self.crop_factor = None if crop_factor is None else tuple(crop_factor)
        self.next_conv_kernel_sizes = next_conv_kernel_sizes
        layers: list[nn.Module] = []
        if mode == "transposed_conv":
            transposed = _lookup(_CONV_TRANSPOSE, self.dims, "transposed convolution")
            layers.append(
                transposed(
                    in_channels,
                    out_channels,
                    kernel_size=self.scale_factor,
                    stride=self.scale_factor,
                )
            )
        else:
            layers.append(nn.Upsample(scale_factor=self.scale_factor, mode=mode))
            layers.append(_CONV[self.dims](in_channels, out_channels, kernel_size=(1,) * self.dims))
        if activation is not None:
            layers.append(getattr(nn, activation)())
        self.up = layers[0] if len(layers) == 1 else nn.Sequential(*layers)

    def _crop_to_factor(self, x: torch.Tensor) -> torch.Tensor:
        spatial = x.shape[-self.dims :]
        target = []
        for d, (size, factor) in enumerate(zip(spatial, self.crop_factor, strict=True)):
            conv_crop = sum(k[d] - 1 for k in self.next_conv_kernel_sizes)
            target.append(((size - conv_crop) // factor) * factor + conv_crop)
            if target[-1] != size and target[-1] <= conv_crop:
                raise RuntimeError(
                    f"feature map of shape {tuple(spatial)} is too small to keep translation "
                    f"equivariance with factor {self.crop_factor}"
                )
        return center_crop(x, target)

    def forward(self, g_out: torch.Tensor, f_left: torch.Tensor | None = None) -> torch.Tensor:
        g = self.up(g_out)
        if self.crop_factor is not None:
            g = self._crop_to_factor(g)
        if f_left is None:
            return g
        return torch.cat([center_crop(f_left, g.shape[-self.dims :]), g], dim=1)


class AttentionGate(nn.Module):
    """Additive attention gate on a skip connection (Oktay et al., Attention U-Net).

    ``W_g`` maps the coarse signal, ``W_x`` the skip (then pooled to the coarse grid); their
    sum's ReLU goes through ``psi`` to a one-channel sigmoid map that is upsampled
    (bi/trilinear, aligned corners) and multiplies the skip.
    """

    def __init__(
        self,
        F_g: int,
        F_l: int,
        F_int: int,
        dims: int,
        upsample_factor: Sequence[int],
        batch_norm: bool = True,
    ):
        super().__init__()
        self.dims = dims
        ones = [(1,) * dims, (1,) * dims]
        self.W_g = ConvPass(F_g, F_int, ones, activation=None, padding="same", batch_norm=batch_norm)
        self.W_x = nn.Sequential(
            ConvPass(F_l, F_int, ones, activation=None, padding="same", batch_norm=batch_norm),
            Downsample(upsample_factor),
        )
        self.psi = ConvPass(F_int, 1, ones, activation="Sigmoid", padding="same", batch_norm=batch_norm)
        self.up = nn.Upsample(
            scale_factor=tuple(upsample_factor),
            mode=_lookup(_INTERPOLATION, dims, "attention"),
            align_corners=True,
        )
        self.relu = nn.ReLU(inplace=True)

    def _pad_to(self, small: torch.Tensor, large: torch.Tensor) -> torch.Tensor:
        # torch's pad lists the last axis first; the larger half of odd excess goes first
        pad: list[int] = []
        for d in reversed(range(2, 2 + self.dims)):
            excess = large.shape[d] - small.shape[d]
            pad += [excess - excess // 2, excess // 2]
        return nn.functional.pad(small, pad, mode="constant", value=0.0)

    def forward(self, g: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        g1 = self.W_g(g)
        x1 = self.W_x(x)
        psi = self.psi(self.relu(self._pad_to(g1, x1) + x1))
        return x * self.up(psi)
