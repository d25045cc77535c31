"""Opening a run: the network, a lazy view of the input, the plan, the block layout and the
output, the same way in the driver and in every worker."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from funlib.geometry import Coordinate, Roi

from ..architectures import Architecture
from ..io.zarr_arrays import Dataset, open_dataset
from ..io.zarr_outputs import output_corner
from ..networks import build_network, resolve_config
from ..placement import Placement
from ..tiling import PredictionPlan, check_image, plan_prediction
from .layout import BlockLayout
from .spec import RunSpec


@dataclass(frozen=True)
class PreparedRun:
    spec: RunSpec
    network: Architecture
    source: Dataset
    image: Any  # lazy (dask) view of the input ROI
    input_offset: tuple[float, ...]  # corner of the ROI's voxel 0, world units
    plan: PredictionPlan
    layout: BlockLayout

    @property
    def output_shape(self) -> tuple[int, ...]:
        return (self.network.num_out_channels, *self.plan.output_shape)

    @property
    def output_placement(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """Output voxel size and offset (corner of voxel 0), world units."""
        return output_corner(self.plan, self.input_offset, self.source.voxel_size)

    @property
    def axis_names(self) -> list[str]:
        return ["c^", *("zyx"[-self.network.dims :])]


def prepare(spec: RunSpec) -> PreparedRun:
    """Everything a run needs, checked: clear errors for a missing dataset, wrong dims or
    channels, a ROI outside the input, a config or checkpoint that does not fit."""
    import dask.array as da

    network = _network(spec)
    dims = network.dims
    source = open_dataset(spec.input, dims, spec.voxel_size)
    channel_axis = check_image(network, source.array)
    image = da.from_zarr(source.array)
    offset = source.offset
    if spec.roi is not None:
        if len(spec.roi) != dims:
            raise ValueError(f"the ROI has {len(spec.roi)} ranges, the network is {dims}D")
        spatial = image.shape[1:] if channel_axis else image.shape
        roi = Roi(Coordinate(lo for lo, _ in spec.roi), Coordinate(hi - lo for lo, hi in spec.roi))
        clipped = roi.intersect(Roi((0,) * dims, Coordinate(spatial)))
        if clipped.empty:
            raise ValueError(f"the ROI {roi} lies outside the input (shape {tuple(spatial)})")
        box = clipped.to_slices()
        image = image[(slice(None), *box) if channel_axis else box]
        offset = Placement.from_corner(source.voxel_size, offset).at(clipped.begin).corner
    spatial = image.shape[1:] if channel_axis else image.shape
    # the configured tile, never grown: a worker's memory is known in advance, and the
    # layout (and so the output's chunks) of a run to resume does not depend on the planner
    plan = plan_prediction(network, spatial, spec.pad, tile_growth=0)
    layout = BlockLayout.from_plan(plan, spec.block_shape)
    return PreparedRun(spec, network, source, image, offset, plan, layout)


def _network(spec: RunSpec) -> Architecture:
    if not spec.dacapo_run:
        return build_network(resolve_config(spec.config), spec.weights)
    from ..runs import open_run

    return open_run(spec.config).model(normalisation=spec.normalisation, checkpoint=spec.weights)


class OutputWriter:
    """Writes float32 predictions into the output array, quantised to uint8 if it is one."""

    def __init__(self, array: Any, value_range: tuple[float, float]):
        self.array = array
        self.shape = tuple(array.shape)
        self._lo, self._hi = value_range
        self._quantise = np.dtype(array.dtype) == np.uint8

    def __setitem__(self, key, value: np.ndarray) -> None:
        if self._quantise:
            scaled = (np.asarray(value, dtype=np.float32) - self._lo) * (255.0 / (self._hi - self._lo))
            value = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
        self.array[key] = value


def dequantise(data: np.ndarray, value_range: tuple[float, float]) -> np.ndarray:
    """uint8 output back to float32 values (the inverse of the quantisation, to ±half a step)."""
    lo, hi = value_range
    return data.astype(np.float32) * np.float32((hi - lo) / 255.0) + np.float32(lo)
