"""What a user wants to know about a network before running it, as plain data.

A CNNectome U-Net config is summarised by arithmetic: its shapes come from its geometry, its
parameters and tile memory from the sums its ``verify()`` works with (``unet_parameters``,
``unet_tile_bytes``), so ``napari-dacapo info CONFIG`` needs no torch. A built network
(:func:`summarize`) is measured with torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from funlib.geometry import Coordinate

if TYPE_CHECKING:
    from .architectures import Architecture, ArchitectureConfig, CNNectomeUNetConfig
    from .tiling.memory import estimate_tile_memory

__all__ = ["ArchitectureSummary", "estimate_tile_memory", "summarize", "summarize_config"]


def __getattr__(name: str) -> Any:
    if name == "estimate_tile_memory":  # re-exported from the tiling engine, which imports torch
        from .tiling.memory import estimate_tile_memory

        return estimate_tile_memory
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True)
class ArchitectureSummary:
    name: str
    dims: int
    num_in_channels: int
    num_out_channels: int
    input_shape: Coordinate
    output_shape: Coordinate
    eval_input_shape: Coordinate
    eval_output_shape: Coordinate
    context: Coordinate
    upsample_factor: Coordinate
    num_parameters: int
    tile_memory_bytes: int

    def lines(self) -> list[str]:
        def shape(c: Coordinate) -> str:
            return " × ".join(str(v) for v in c)

        return [
            f"name:               {self.name}",
            f"dims:               {self.dims}D, {self.num_in_channels} → {self.num_out_channels} channels",
            f"training:           {shape(self.input_shape)} → {shape(self.output_shape)}",
            f"prediction tile:    {shape(self.eval_input_shape)} → {shape(self.eval_output_shape)}",
            f"context:            {shape(self.context)} (input voxels lost to valid convolutions)",
            "output voxel size:  "
            + (
                f"input voxel size / ({shape(self.upsample_factor)})"
                if any(f != 1 for f in self.upsample_factor)
                else "same as the input"
            ),
            f"parameters:         {self.num_parameters:,}",
            f"memory per tile:    ~{self.tile_memory_bytes / 2**20:,.0f} MiB (float32, no grad)",
        ]

    def __str__(self) -> str:
        return "\n".join(self.lines())


def summarize(architecture: Architecture, name: str = "") -> ArchitectureSummary:
    """Shapes, context, output voxel size, parameter count and tile memory of a network."""
    from .tiling.memory import estimate_tile_memory

    eval_input = architecture.input_shape + architecture.eval_shape_increase
    return ArchitectureSummary(
        name=name,
        dims=architecture.dims,
        num_in_channels=architecture.num_in_channels,
        num_out_channels=architecture.num_out_channels,
        input_shape=architecture.input_shape,
        output_shape=architecture.output_shape(architecture.input_shape),
        eval_input_shape=eval_input,
        eval_output_shape=architecture.output_shape(eval_input),
        context=architecture.context,
        upsample_factor=architecture.upsample_factor,
        num_parameters=architecture.num_parameters,
        tile_memory_bytes=estimate_tile_memory(architecture, eval_input),
    )


def summarize_config(config: ArchitectureConfig) -> ArchitectureSummary:
    """The summary of the network ``config`` builds, once it verifies (``ValueError`` with
    the reason if not). A CNNectome U-Net is summarised without building it; another
    network is built."""
    from .architectures import CNNectomeUNetConfig

    if not isinstance(config, CNNectomeUNetConfig):
        from .architectures import as_architecture

        return summarize(as_architecture(config), config.name)
    valid, reason = config.verify()
    if not valid:
        raise ValueError(f"config {config.name!r} does not verify: {reason}")
    return _unet_summary(config)


def _unet_summary(config: CNNectomeUNetConfig) -> ArchitectureSummary:
    """What :func:`summarize` measures on the built network, by the config's arithmetic."""
    from .architectures.cnnectome_unet_config import unet_parameters, unet_tile_bytes

    geometry = config.geometry()
    input_shape = Coordinate(config.input_shape)
    increase = config.eval_shape_increase
    eval_input = input_shape + (Coordinate(increase) if increase is not None else Coordinate((0,) * config.dims))
    output = geometry.output_shape(input_shape)
    return ArchitectureSummary(
        name=config.name,
        dims=config.dims,
        num_in_channels=config.fmaps_in,
        num_out_channels=config.fmaps_out,
        input_shape=input_shape,
        output_shape=output,
        eval_input_shape=eval_input,
        eval_output_shape=geometry.output_shape(eval_input),
        context=input_shape - output / geometry.total_upsample,
        upsample_factor=geometry.total_upsample,
        num_parameters=unet_parameters(config, geometry),
        tile_memory_bytes=unet_tile_bytes(config, geometry, eval_input),
    )
