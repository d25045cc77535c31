"""What a user wants to know about a network before running it, as plain data."""

from __future__ import annotations

from dataclasses import dataclass

from funlib.geometry import Coordinate

from .architectures import Architecture, ArchitectureConfig, as_architecture
from .tiling.memory import estimate_tile_memory

__all__ = ["ArchitectureSummary", "estimate_tile_memory", "summarize", "summarize_config"]


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
    """Build the network of ``config`` (after ``verify()``) and summarise it."""
    return summarize(as_architecture(config), config.name)
