"""Moved: the example configs are in :mod:`napari_dacapo.networks` (where a network comes from)."""

from .networks import example_config, example_config_paths

__all__ = ["example_config", "example_config_paths"]
