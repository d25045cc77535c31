"""The abstract network every napari-dacapo model derives from (DaCapo's ``Architecture``)."""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from funlib.geometry import Coordinate


class Architecture(torch.nn.Module, ABC):
    """A torch module that knows its spatial input shape and channel counts.

    Shapes and voxel sizes are :class:`funlib.geometry.Coordinate` values without batch or
    channel axes.
    """

    @property
    @abstractmethod
    def input_shape(self) -> Coordinate:
        """Spatial input shape used in training."""

    @property
    def eval_shape_increase(self) -> Coordinate:
        """How much larger than ``input_shape`` an input may be at prediction time."""
        return Coordinate((0,) * self.input_shape.dims)

    @property
    @abstractmethod
    def num_in_channels(self) -> int:
        """Number of channels the network reads."""

    @property
    @abstractmethod
    def num_out_channels(self) -> int:
        """Number of channels the network writes."""

    @property
    def dims(self) -> int:
        """Number of spatial dimensions."""
        return self.input_shape.dims

    def scale(self, input_voxel_size: Coordinate) -> Coordinate:
        """Voxel size of the output for an input of ``input_voxel_size``."""
        return input_voxel_size

    # --- beyond DaCapo: what a user of the widget wants to see -------------------------

    @property
    def eval_input_shape(self) -> Coordinate:
        """Input shape used at prediction time: ``input_shape + eval_shape_increase``."""
        return self.input_shape + self.eval_shape_increase

    def output_shape(self, input_shape: Coordinate) -> Coordinate:
        """Spatial output shape for a spatial input shape.

        The generic implementation runs the network once on zeros; subclasses with a known
        geometry override it with arithmetic.
        """
        input_shape = Coordinate(input_shape)
        parameter = next(self.parameters(), None)
        device = parameter.device if parameter is not None else torch.device("cpu")
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                x = torch.zeros((1, self.num_in_channels, *input_shape), device=device)
                y = self(x)
        finally:
            self.train(was_training)
        return Coordinate(y.shape[2:])

    @property
    def context(self) -> Coordinate:
        """Input voxels lost to valid convolutions: ``input_shape - output_shape(input_shape)``.

        For networks that upsample (``scale`` shrinks the voxel size), the output shape is
        first expressed in input voxels.
        """
        factor = self.upsample_factor
        return self.input_shape - self.output_shape(self.input_shape) / factor

    @property
    def upsample_factor(self) -> Coordinate:
        """Output voxels per input voxel along each axis (1 unless the network upsamples)."""
        return Coordinate((1,) * self.dims)

    @property
    def num_parameters(self) -> int:
        """Number of trainable and non-trainable parameters."""
        return sum(p.numel() for p in self.parameters())
