"""Tiled prediction: block planning, tile reading and the prediction engine (no Qt)."""

from .blocks import Block, PredictionPlan, plan_blocks, plan_prediction
from .devices import available_devices, resolve_device
from .grid import NetworkGrid
from .predict import PredictionCancelled, Step, check_image, predict, predict_blocks, predict_steps
from .reading import read_tile, to_float32
from .stack import leading_axes, predict_stack_steps

__all__ = [
    "Block",
    "NetworkGrid",
    "PredictionCancelled",
    "PredictionPlan",
    "Step",
    "available_devices",
    "check_image",
    "leading_axes",
    "plan_blocks",
    "plan_prediction",
    "predict",
    "predict_blocks",
    "predict_stack_steps",
    "predict_steps",
    "read_tile",
    "resolve_device",
    "to_float32",
]
