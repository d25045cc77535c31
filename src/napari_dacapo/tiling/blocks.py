"""Moved: the tile planner is :mod:`napari_dacapo.tiling.tiles` (a *block* is now a box of
tiles, as in daisy); ever smaller plans are in :mod:`napari_dacapo.tiling.memory`."""

from . import tiles
from .memory import smaller_plans
from .tiles import PAD_MODES, TILE_GROWTH, Block, PredictionPlan, Tile, plan_blocks, plan_prediction, plan_tiles  # noqa: F401

__all__ = [*tiles.__all__, "smaller_plans"]
