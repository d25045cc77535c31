"""A one-convolution network for tests (DaCapo's ``DummyArchitecture``)."""

from __future__ import annotations

import torch
from funlib.geometry import Coordinate

from .architecture import Architecture


class DummyArchitecture(Architecture):
    """A single 3×3×3 convolution with a fixed input shape of (40, 20, 20)."""

    def __init__(self, architecture_config):
        super().__init__()
        self.channels_in = architecture_config.num_in_channels
        self.channels_out = architecture_config.num_out_channels
        self.conv = torch.nn.Conv3d(self.channels_in, self.channels_out, kernel_size=3)

    @property
    def input_shape(self) -> Coordinate:
        return Coordinate(40, 20, 20)

    @property
    def num_in_channels(self) -> int:
        return self.channels_in

    @property
    def num_out_channels(self) -> int:
        return self.channels_out

    def output_shape(self, input_shape: Coordinate) -> Coordinate:
        return Coordinate(input_shape) - Coordinate((2, 2, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)
