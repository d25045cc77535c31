"""Tiled prediction (no Qt): the options, the tile planner, memory, reading, the forward
pass, progress, and the engine that runs them; regions (the napari preview) and stacks
(a 2D network on a volume) on top."""

from .devices import available_devices, free_memory, resolve_device
from .forward import inference_memory_format, on_device
from .grid import NetworkGrid
from .inputs import check_image, spatial_shape
from .memory import estimate_tile_memory, smaller_plans
from .options import PAD_MODES, TILE_GROWTH, PredictOptions
from .predict import predict, predict_blocks, predict_steps, predict_tiles
from .progress import Monitor, PredictionCancelled, Step
from .reading import read_tile, to_float32
from .region import RegionPrediction, predict_region
from .stack import leading_axes, predict_stack_steps
from .tiles import Block, PredictionPlan, Tile, plan_blocks, plan_prediction, plan_tiles

__all__ = [
    "PAD_MODES",
    "TILE_GROWTH",
    "Block",
    "Monitor",
    "NetworkGrid",
    "PredictOptions",
    "PredictionCancelled",
    "PredictionPlan",
    "RegionPrediction",
    "Step",
    "Tile",
    "available_devices",
    "check_image",
    "estimate_tile_memory",
    "free_memory",
    "inference_memory_format",
    "leading_axes",
    "on_device",
    "plan_blocks",
    "plan_prediction",
    "plan_tiles",
    "predict",
    "predict_blocks",
    "predict_region",
    "predict_stack_steps",
    "predict_steps",
    "predict_tiles",
    "read_tile",
    "resolve_device",
    "smaller_plans",
    "spatial_shape",
    "to_float32",
]
