"""Predict only a region of an image (the napari Preview), on the same grid as a full run.

The region is read with its context into a small array (padded the way the full run pads the
image) and predicted with ``pad='valid'``. The small array starts on the full run's tile grid
(a multiple of the network's downsampling period away from its tile starts), so for a
valid-padding network every predicted voxel equals the full run's voxel at the same place.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
from funlib.geometry import Coordinate, Roi

from ..architectures import Architecture, ShapeError, as_architecture
from ..placement import Placement
from .inputs import model_input, spatial_shape
from .options import PredictOptions, options_from
from .predict import predict
from .reading import read_tile
from .tiles import PredictionPlan, plan_prediction

__all__ = ["RegionPrediction", "predict_region"]


@dataclass(frozen=True)
class RegionPrediction:
    data: np.ndarray  # (channels, *spatial) float32
    output_begin: Coordinate  # index of data voxel 0 in the full run's output
    offset: tuple[Fraction, ...]  # centre of data voxel 0, in input voxels
    upsample: Coordinate  # the network's: output voxels per input voxel, per axis

    def placement(self, image: Placement | None = None) -> Placement:
        """Where the region's voxels sit, for an input placed at ``image`` (as
        :meth:`PredictionPlan.placement`)."""
        image = image if image is not None else Placement.unit(len(self.offset))
        return image.of_output(self.offset, self.upsample)

    def covers(self, roi: Roi) -> bool:
        """Whether every output voxel centred in ``roi`` (input voxels) is in ``data``: the
        grid's centres just outside ``data`` fall outside ``roi`` (or the full run's output
        begins at ``data``). Conservative at the far end of the output."""
        for d, (offset, up) in enumerate(zip(self.offset, self.upsample, strict=True)):
            lo, hi = Fraction(2 * roi.begin[d] - 1, 2), Fraction(2 * roi.end[d] - 1, 2)
            step = Fraction(1, up)
            last = offset + (self.data.shape[d + 1] - 1) * step
            if not (self.output_begin[d] == 0 or offset - step < lo) or last + step < hi:
                return False
        return True


def predict_region(
    architecture,
    image: Any,
    roi: Roi,
    options: PredictOptions | None = None,
    *,
    whole_window: bool = False,
    **keywords: Any,
) -> RegionPrediction:
    """Predict the output voxels whose centres lie in ``roi`` (input voxel coordinates), with
    the full run's ``pad`` and tiles (``use_eval_shape_increase``); the device, batch size and
    dtype options apply too.

    ``whole_window``: return every output voxel the one forward pass computes (inside the full
    run's output), not only those in ``roi``: a valid network's smallest input gives a slab
    of several slices for one slice in view, all equal to the full run's voxels there.

    Returns the voxels, where they sit in the full run's output and their exact position.
    """
    options = options_from(options, keywords)
    architecture = as_architecture(architecture)
    channel_axis, spatial = spatial_shape(architecture, image)
    pad = options.pad
    full = plan_prediction(architecture, spatial, pad, options.use_eval_shape_increase)
    roi = Roi(Coordinate(roi.begin), Coordinate(roi.shape)).intersect(Roi((0,) * spatial.dims, spatial))
    if roi.empty:
        raise ValueError(f"the region {roi} lies outside the image (shape {tuple(spatial)})")
    window = _window(architecture, full, roi)
    read_pad = "zero" if pad == "valid" else pad
    crop = read_tile(model_input(architecture, image), window, read_pad, channel_axis)
    crop = crop if channel_axis or architecture.num_in_channels > 1 else crop[0]
    local = predict(
        architecture,
        _as_read(architecture, crop),
        pad="valid",
        tile_shape=window.shape,
        device=options.device,
        batch_size=options.batch_size,
        dtype=options.dtype,
    )
    local_plan = plan_prediction(architecture, window.shape, "valid", tile_shape=window.shape)
    up = full.grid.upsample
    keep, output_begin, offset = [], [], []
    for d in range(spatial.dims):
        a = up[d]
        # centre of local voxel k: window.begin + local_offset + k / a; full voxel g: full_offset + g / a
        first = (window.begin[d] + local_plan.output_offset[d] - full.output_offset[d]) * a
        if first.denominator != 1:  # cannot happen on the grid; guards the arithmetic above
            raise AssertionError(f"region output is off the full run's grid on axis {d} ({first})")
        first = int(first)
        lo_centre = Fraction(2 * roi.begin[d] - 1, 2)  # voxel roi.begin spans [b - 1/2, b + 1/2)
        hi_centre = Fraction(2 * roi.end[d] - 1, 2)
        k_lo = max(0, -first, _ceil((lo_centre - window.begin[d] - local_plan.output_offset[d]) * a))
        k_hi = min(
            local.shape[d + 1],
            full.output_shape[d] - first,
            _ceil((hi_centre - window.begin[d] - local_plan.output_offset[d]) * a),
        )
        if whole_window:
            k_lo, k_hi = max(0, -first), min(local.shape[d + 1], full.output_shape[d] - first)
        if k_hi <= k_lo:
            raise ValueError(f"no output voxel of the network falls in {roi} (axis {d})")
        keep.append(slice(k_lo, k_hi))
        output_begin.append(first + k_lo)
        offset.append(window.begin[d] + local_plan.output_offset[d] + Fraction(k_lo, a))
    return RegionPrediction(
        data=np.ascontiguousarray(local[(slice(None), *keep)]),
        output_begin=Coordinate(output_begin),
        offset=tuple(offset),
        upsample=Coordinate(up),
    )


def _as_read(architecture: Architecture, crop: np.ndarray) -> Any:
    """``crop`` (already normalised as the model reads it) marked so it is not normalised again."""
    if getattr(architecture, "input_normalisation", None) is None:
        return crop
    from ..runs.normalisation import Normalisation

    return Normalisation(0.0, 1.0, "already normalised").wrap(crop)


def _next_valid(geometry, size: int, axis: int) -> int:
    if geometry is None:
        return size
    for candidate in range(size, size + 4096):
        try:
            geometry.walk_axis(candidate, axis)
            return candidate
        except ValueError:
            continue
    raise ShapeError(f"no valid input size from {size} on axis {axis}")


def _window(architecture, full: PredictionPlan, roi: Roi) -> Roi:
    """The smallest input window, on the full run's tile grid, whose one-tile 'valid'
    prediction covers every output voxel centred in ``roi``."""
    geometry = getattr(architecture, "geometry", None)
    period, up, dims = full.grid.step, full.grid.upsample, roi.dims
    reach = Coordinate(architecture.context) // 2 + full.grid.halo
    begin = roi.begin - reach
    begin = list(begin - ((begin + full.pad_lo) % period))
    size = [roi.end[d] - begin[d] + reach[d] for d in range(dims)]
    for _ in range(256):
        size = [_next_valid(geometry, size[d], d) for d in range(dims)]
        try:
            local = plan_prediction(architecture, Coordinate(size), "valid", tile_shape=Coordinate(size))
        except ShapeError:
            size = [s + 1 for s in size]
            continue
        grown = False
        for d in range(dims):
            first_wanted = Fraction(2 * roi.begin[d] - 1, 2) + Fraction(1, 2 * up[d])
            last_wanted = Fraction(2 * roi.end[d] - 1, 2) - Fraction(1, 2 * up[d])
            first = begin[d] + local.output_offset[d]
            last = first + Fraction(local.output_shape[d] - 1, up[d])
            if first > first_wanted:
                begin[d] -= period[d]
                size[d] += period[d]
                grown = True
            elif last < last_wanted:
                size[d] += 1
                grown = True
        if not grown:
            return Roi(Coordinate(begin), Coordinate(size))
    raise ShapeError(f"could not find an input window that covers {roi}")


def _ceil(value: Fraction) -> int:
    return -((-value.numerator) // value.denominator)
