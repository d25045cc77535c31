"""Moved: the demo models are in :mod:`napari_dacapo.networks` (where a network comes from)."""

from .networks import DemoModel, demo_model, demo_models

__all__ = ["DemoModel", "demo_model", "demo_models"]
