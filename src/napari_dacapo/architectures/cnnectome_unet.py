"""The CNNectome U-Net, checkpoint-compatible with dacapo-ml 0.3.5.

State-dict names (what a DaCapo checkpoint contains)::

    unet.l_conv.{level}.conv_pass.{i}.*        down-path ConvPass per level
    unet.r_up.0.{level}.up[.{i}].*             upsampling (head 0); ``up.1`` is the 1×…×1 conv
                                               after constant upsampling, ``up.weight`` a
                                               transposed conv (``up.0`` with its activation)
    unet.attention.0.{level}.{W_g|W_x.0|psi}.conv_pass.{i}.*    attention gates
    unet.r_conv.0.{level}.conv_pass.{i}.*      up-path ConvPass per level

Within a ConvPass, ``i`` counts conv, [batch norm], activation layers in that order. With
``upsample_factors`` the module is a ``Sequential``: ``unet.0`` is the U-Net above, then per
factor ``unet.{2k+1}.up.1.*`` (copy-upsample + 1×…×1 conv) and ``unet.{2k+2}.conv_pass.*``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from funlib.geometry import Coordinate
from torch import nn

from .architecture import Architecture
from .layers import AttentionGate, ConvPass, Downsample, Upsample


class CNNectomeUNetModule(nn.Module):
    """A U-Net with one encoder and ``num_heads`` decoders, as in CNNectome/funlib."""

    def __init__(
        self,
        in_channels: int,
        num_fmaps: int,
        fmap_inc_factor: int,
        downsample_factors: Sequence[Sequence[int]],
        kernel_size_down: Sequence[Sequence[Sequence[int]]],
        kernel_size_up: Sequence[Sequence[Sequence[int]]],
        activation: str = "ReLU",
        num_fmaps_out: int | None = None,
        num_heads: int = 1,
        constant_upsample: bool = False,
        padding: str = "valid",
        upsample_channel_contraction: bool | Sequence[bool] = False,
        activation_on_upsample: bool = False,
        use_attention: bool = False,
        batch_norm: bool = True,
    ):
        super().__init__()
        self.num_levels = len(downsample_factors) + 1
        self.num_heads = num_heads
        self.in_channels = in_channels
        self.out_channels = num_fmaps_out if num_fmaps_out else num_fmaps
        self.use_attention = use_attention
        self.dims = len(kernel_size_down[0][0])
        if isinstance(upsample_channel_contraction, bool):
            upsample_channel_contraction = [upsample_channel_contraction] * self.num_levels

        def fmaps(level: int) -> int:
            return num_fmaps * fmap_inc_factor**level

        def up_fmaps(level: int) -> int:  # channels coming out of the upsampling at `level`
            return fmaps(level + (0 if upsample_channel_contraction[level] else 1))

        def right_fmaps(level: int) -> int:  # channels coming out of the right ConvPass
            return num_fmaps_out if (level == 0 and num_fmaps_out) else fmaps(level)

        crop_factors = [
            tuple(math.prod(f[d] for f in downsample_factors[level:]) for d in range(self.dims))
            for level in range(self.num_levels - 1)
        ]
        up_levels = range(self.num_levels - 1)

        self.l_conv = nn.ModuleList(
            ConvPass(
                in_channels if level == 0 else fmaps(level - 1),
                fmaps(level),
                kernel_size_down[level],
                activation=activation,
                padding=padding,
                batch_norm=batch_norm,
            )
            for level in range(self.num_levels)
        )
        self.l_down = nn.ModuleList(Downsample(downsample_factors[level]) for level in up_levels)
        self.r_up = nn.ModuleList(
            nn.ModuleList(
                Upsample(
                    downsample_factors[level],
                    mode="nearest" if constant_upsample else "transposed_conv",
                    in_channels=fmaps(level + 1),
                    out_channels=up_fmaps(level),
                    crop_factor=crop_factors[level],
                    next_conv_kernel_sizes=kernel_size_up[level],
                    activation=activation if activation_on_upsample else None,
                )
                for level in up_levels
            )
            for _ in range(num_heads)
        )
        if use_attention:
            self.attention = nn.ModuleList(
                nn.ModuleList(
                    AttentionGate(
                        F_g=fmaps(level + 1),
                        F_l=fmaps(level),
                        F_int=right_fmaps(level) if level == 0 and num_fmaps_out else up_fmaps(level),
                        dims=self.dims,
                        upsample_factor=downsample_factors[level],
                        batch_norm=batch_norm,
                    )
                    for level in up_levels
                )
                for _ in range(num_heads)
            )
        self.r_conv = nn.ModuleList(
            nn.ModuleList(
                ConvPass(
                    fmaps(level) + up_fmaps(level),
                    right_fmaps(level),
                    kernel_size_up[level],
                    activation=activation,
                    padding=padding,
                    batch_norm=batch_norm,
                )
                for level in up_levels
            )
            for _ in range(num_heads)
        )

    def _level_forward(self, level: int, f_in: torch.Tensor) -> list[torch.Tensor]:
        f_left = self.l_conv[level](f_in)
        if level == self.num_levels - 1:
            return [f_left] * self.num_heads
        g_outs = self._level_forward(level + 1, self.l_down[level](f_left))
        outs = []
        for head, g_out in enumerate(g_outs):
            skip = self.attention[head][level](g_out, f_left) if self.use_attention else f_left
            outs.append(self.r_conv[head][level](self.r_up[head][level](g_out, skip)))
        return outs

    def forward(self, x: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        outs = self._level_forward(0, x)
        return outs[0] if self.num_heads == 1 else outs


class CNNectomeUNet(Architecture):
    """DaCapo's CNNectome U-Net, built from a :class:`CNNectomeUNetConfig`."""

    def __init__(self, architecture_config):
        super().__init__()
        config = architecture_config
        self._input_shape = Coordinate(config.input_shape)
        if self._input_shape.dims not in (2, 3):
            raise ValueError(
                f"CNNectomeUNet supports 2D and 3D inputs; input_shape "
                f"{tuple(self._input_shape)} has {self._input_shape.dims} dims"
            )
        self._eval_shape_increase = config.eval_shape_increase
        self.fmaps_out = config.fmaps_out
        self.fmaps_in = config.fmaps_in
        self.num_fmaps = config.num_fmaps
        self.fmap_inc_factor = config.fmap_inc_factor
        self.downsample_factors = config.downsample_factors
        self.kernel_size_down = config.kernel_size_down
        self.kernel_size_up = config.kernel_size_up
        self.constant_upsample = config.constant_upsample
        self.padding = config.padding
        self.upsample_factors = list(config.upsample_factors or [])
        self.use_attention = config.use_attention
        self.batch_norm = config.batch_norm
        self.geometry = config.geometry()
        self._refuse_absurd_size()
        self.unet = self.module()

    def _refuse_absurd_size(self) -> None:
        """``ValueError`` with the figure, before any layer is allocated, for a network too
        large to build or to run on one tile (the limits of :func:`.size_problems`)."""
        from .cnnectome_unet_config import size_problems

        shapes = [("input_shape", self._input_shape)]
        increase = self._eval_shape_increase
        known = isinstance(increase, tuple | list) and all(isinstance(v, int) and v >= 0 for v in increase)
        if known and len(increase) == self._input_shape.dims and any(increase):
            shapes.append(("input_shape + eval_shape_increase", self._input_shape + Coordinate(increase)))
        problems = size_problems(self, self.geometry, shapes)
        if problems:
            raise ValueError(f"cannot build CNNectomeUNet: {'; '.join(problems)}")

    def module(self) -> nn.Module:
        """Build the torch module (a U-Net, followed by super-resolution stages if any)."""
        geometry = self.geometry
        unet: nn.Module = CNNectomeUNetModule(
            in_channels=self.fmaps_in,
            num_fmaps=self.num_fmaps,
            num_fmaps_out=self.fmaps_out,
            fmap_inc_factor=self.fmap_inc_factor,
            kernel_size_down=geometry.kernel_size_down,
            kernel_size_up=geometry.kernel_size_up,
            downsample_factors=geometry.downsample_factors,
            constant_upsample=self.constant_upsample,
            padding=self.padding,
            activation_on_upsample=True,
            upsample_channel_contraction=[False] + [True] * (geometry.num_levels - 2),
            use_attention=self.use_attention,
            batch_norm=self.batch_norm,
        )
        if self.upsample_factors:
            layers = [unet]
            for factor in geometry.upsample_factors:
                layers.append(
                    Upsample(
                        factor,
                        mode="nearest",
                        in_channels=self.fmaps_out,
                        out_channels=self.fmaps_out,
                        activation="ReLU",
                    )
                )
                layers.append(
                    ConvPass(
                        self.fmaps_out,
                        self.fmaps_out,
                        geometry.kernel_size_up[-1],
                        activation="ReLU",
                        batch_norm=self.batch_norm,
                    )
                )
            unet = nn.Sequential(*layers)
        return unet

    @property
    def eval_shape_increase(self) -> Coordinate:
        if self._eval_shape_increase is None:
            return super().eval_shape_increase
        return Coordinate(self._eval_shape_increase)

    @property
    def input_shape(self) -> Coordinate:
        return self._input_shape

    @property
    def num_in_channels(self) -> int:
        return self.fmaps_in

    @property
    def num_out_channels(self) -> int:
        return self.fmaps_out

    def scale(self, voxel_size: Coordinate) -> Coordinate:
        """Divide the voxel size by each upsample factor (integer division, as DaCapo)."""
        for factor in self.upsample_factors:
            voxel_size = voxel_size / Coordinate(factor)
        return voxel_size

    @property
    def upsample_factor(self) -> Coordinate:
        return self.geometry.total_upsample

    def output_shape(self, input_shape: Coordinate) -> Coordinate:
        return self.geometry.output_shape(input_shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spatial = x.dim() - 2
        if spatial != self.dims:
            raise ValueError(
                f"{self.__class__.__name__} expects (batch, channels, {self.dims} spatial axes), "
                f"got a tensor of shape {tuple(x.shape)}"
            )
        if x.shape[1] != self.fmaps_in:
            raise ValueError(f"expected {self.fmaps_in} input channels, got {x.shape[1]}")
        return self.unet(x)
