"""Which images a network accepts: axes, channels, and the spatial shape it predicts over."""

from __future__ import annotations

from typing import Any

from funlib.geometry import Coordinate

from ..architectures import Architecture

__all__ = ["check_image", "model_input", "spatial_shape"]


def check_image(architecture: Architecture, image: Any) -> bool:
    """Validate the image's axes against the network; return whether it has a channel axis."""
    shape = tuple(image.shape)
    dims, channels = architecture.dims, architecture.num_in_channels
    if 0 in shape:
        raise ValueError(f"the image is empty (shape {shape})")
    if channels == 1 and len(shape) == dims + 1 and shape[0] == 1:
        return True
    if channels == 1:
        if len(shape) != dims:
            raise ValueError(
                f"the network is {dims}D with one input channel: expected an image with {dims} axes, got shape {shape}"
            )
        return False
    if len(shape) != dims + 1:
        raise ValueError(
            f"the network is {dims}D with {channels} input channels: expected an image of "
            f"shape (channels, {', '.join('…' * dims)}), got shape {shape}"
        )
    if shape[0] != channels:
        raise ValueError(f"the network reads {channels} channels, the image has {shape[0]} (shape {shape})")
    return True


def spatial_shape(architecture: Architecture, image: Any) -> tuple[bool, Coordinate]:
    """Whether the (checked) image has a channel axis, and its spatial shape."""
    channel_axis = check_image(architecture, image)
    return channel_axis, Coordinate(image.shape[1:] if channel_axis else image.shape)


def model_input(architecture: Architecture, image: Any) -> Any:
    """``image`` as ``architecture`` reads it: a DaCapo run's model normalises its input the
    way its training data was (``input_normalisation``); other networks read it as it is."""
    normalisation = getattr(architecture, "input_normalisation", None)
    if normalisation is None or getattr(image, "normalisation", None) is not None:
        return image
    return normalisation.wrap(image)
