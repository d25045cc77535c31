"""Tiled prediction: block planning, tile reading and the prediction engine (no Qt)."""

from .blocks import Block, PredictionPlan, plan_blocks, plan_prediction
from .devices import available_devices, resolve_device
from .grid import NetworkGrid
from .predict import PredictionCancelled, check_image, predict
from .reading import read_tile, to_float32

__all__ = [
    "Block",
    "NetworkGrid",
    "PredictionCancelled",
    "PredictionPlan",
    "available_devices",
    "check_image",
    "plan_blocks",
    "plan_prediction",
    "predict",
    "read_tile",
    "resolve_device",
    "to_float32",
]
