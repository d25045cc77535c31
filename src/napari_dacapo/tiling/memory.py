"""Memory: what a tile needs, whether a tile fits, and the ever smaller plans to fall back on
when one does not."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Sequence

import torch
from funlib.geometry import Coordinate

from ..architectures import Architecture, ShapeError
from .devices import free_memory
from .grid import NetworkGrid
from .options import PredictOptions
from .tiles import PredictionPlan, fitted_plan, plan_prediction

__all__ = [
    "auto_batch_size",
    "device_tile_shape",
    "estimate_tile_memory",
    "grown_tile_fits",
    "next_smaller_plan",
    "plan_attempts",
    "smaller_plans",
]

log = logging.getLogger(__name__)


def estimate_tile_memory(architecture: Architecture, input_shape: Coordinate) -> int:
    """Rough bytes to run one tile without gradients: weights plus the live activations.

    Runs the network on torch's ``meta`` device (no memory, no compute) and adds up the
    outputs of all layers, counted as float32: an upper bound of what stays alive at once.
    """
    total = 0

    def count(_module, _inputs, output):
        nonlocal total
        if isinstance(output, torch.Tensor):
            total += output.numel() * 4

    leaves = [m for m in architecture.modules() if not list(m.children())]
    hooks = [m.register_forward_hook(count) for m in leaves]
    try:
        meta = torch.empty((1, architecture.num_in_channels, *input_shape), device="meta")
        params = {k: v.to("meta") for k, v in architecture.state_dict().items()}
        with torch.no_grad():
            torch.func.functional_call(architecture, params, (meta,))
    finally:
        for hook in hooks:
            hook.remove()
    weights = sum(p.numel() * p.element_size() for p in architecture.parameters())
    return total + weights + meta.numel() * 4


def grown_tile_fits(
    architecture: Architecture,
    plan: PredictionPlan,
    configured: Coordinate,
    device: torch.device,
    batch_size: int | str,
) -> bool:
    """Whether a tile that the planner grew past the configured one clearly fits in the free
    memory of ``device``: twice its estimated need, as the estimate leaves out the framework's
    own buffers. A CPU that runs out of memory is not an error to catch: the system kills the
    process, napari and all."""
    if all(t <= c for t, c in zip(plan.grid.tile_shape, configured, strict=True)):
        return True
    free = free_memory(device)
    if free is None:
        return False
    tiles = batch_size if isinstance(batch_size, int) else 1
    return 2 * tiles * estimate_tile_memory(architecture, plan.grid.tile_shape) <= free


def auto_batch_size(architecture: Architecture, device: torch.device, plan: PredictionPlan) -> int:
    """Tiles per forward pass for ``batch_size="auto"``: what fits in 60% of the free GPU
    memory (at most 16); 1 elsewhere."""
    if device.type != "cuda":
        return 1
    free, _total = torch.cuda.mem_get_info(device)
    per_tile = estimate_tile_memory(architecture, plan.grid.tile_shape)
    return int(max(1, min(16, (0.6 * free) // max(per_tile, 1))))


DEVICE_SHARE = 0.6
"""The share of a GPU's free memory a tile may take (twice its estimate, as the estimate leaves
out the framework's own buffers)."""


def device_tile_shape(
    architecture: Architecture, spatial: Sequence[int], free: int, use_eval_shape_increase: bool = True
) -> Coordinate | None:
    """The largest valid tile (the configured one grown by whole steps on every axis at once)
    whose estimated need, twice over, fits in :data:`DEVICE_SHARE` of ``free`` bytes, and no
    larger than the image (plus the network's context) needs; None if not even the configured
    tile is larger than that."""
    grid = NetworkGrid.from_architecture(architecture, use_eval_shape_increase)
    budget = DEVICE_SHARE * free
    limit = Coordinate(spatial) + Coordinate(architecture.context) + grid.step
    best = None
    for k in range(1, 64):
        tile = grid.tile_shape + grid.step * k
        if any(t > m for t, m in zip(tile, limit, strict=True)):
            break
        try:
            grid.with_tile_shape(architecture, tile)
        except ShapeError:
            continue
        if 2 * estimate_tile_memory(architecture, tile) > budget:
            break
        best = tile
    return best


def smaller_plans(
    architecture: Architecture, image_shape, pad: str = "reflect", use_eval_shape_increase: bool = True
) -> Iterator[PredictionPlan]:
    """Plans with ever smaller tiles, for when a tile does not fit in memory: the configured
    tile not grown, then tiles of about half the volume of the one before, down to the
    training tile (``input_shape``), which fitted in memory with gradients and all."""
    grid = NetworkGrid.from_architecture(architecture, use_eval_shape_increase)
    image_shape = Coordinate(image_shape)
    floor = Coordinate(architecture.input_shape)
    factor = 0.5 ** (1 / grid.dims)
    while True:
        yield fitted_plan(architecture, grid, image_shape, pad, 0.0)
        tile = Coordinate(
            max(lo, lo + int((t * factor - lo) // s) * s)
            for t, lo, s in zip(grid.tile_shape, floor, grid.step, strict=True)
        )
        if tile == grid.tile_shape:
            return
        try:
            grid = grid.with_tile_shape(architecture, tile)
        except ShapeError:
            return
        if any(t < 1 for t in grid.trusted_output_shape):
            return


def plan_attempts(
    architecture: Architecture, spatial: Sequence[int], options: PredictOptions
) -> Iterator[PredictionPlan]:
    """The plan to run first, then (while its tiles do not fit in memory) plans with ever
    smaller tiles. The first plan's tiles are grown only where the memory of the options'
    device clearly allows; an explicit ``tile_shape`` is the only plan."""
    pad, eval_increase = options.pad, options.use_eval_shape_increase
    plan = plan_prediction(architecture, spatial, pad, eval_increase, options.tile_shape, options.tile_growth)
    if options.tile_shape is not None:
        yield plan
        return
    configured = NetworkGrid.from_architecture(architecture, eval_increase).tile_shape
    device = options.torch_device
    if device.type == "cuda":  # tiles sized for the device: the largest that fits its free memory
        tile = device_tile_shape(architecture, spatial, torch.cuda.mem_get_info(device)[0], eval_increase)
        if tile is not None:
            plan = plan_prediction(architecture, spatial, pad, eval_increase, tile, 0.0)
            log.info("tiles of %s voxels for the free memory of %s", tuple(tile), device)
    elif not grown_tile_fits(architecture, plan, configured, device, options.batch_size):
        plan = plan_prediction(architecture, spatial, pad, eval_increase, tile_growth=0)
    yield plan
    for smaller in smaller_plans(architecture, spatial, pad, eval_increase):
        if math.prod(smaller.grid.tile_shape) < math.prod(plan.grid.tile_shape):
            plan = smaller
            yield plan


def next_smaller_plan(
    plans: Iterator[PredictionPlan], error: MemoryError, architecture: Architecture, tile_shape: Coordinate | None
) -> PredictionPlan:
    """The next plan of :func:`plan_attempts` after ``error``, or the error that nothing fits."""
    plan = next(plans, None)
    if plan is None and tile_shape is None:
        raise MemoryError(
            f"{error}, not even with tiles no larger than the training tile "
            f"{tuple(architecture.input_shape)}: free memory there, or predict on another device"
        ) from None
    if plan is None:
        raise error
    log.warning("%s; starting again with tiles of %s voxels", error, tuple(plan.grid.tile_shape))
    return plan
