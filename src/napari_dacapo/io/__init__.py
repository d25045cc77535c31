"""Configs and weights on disk, compatible with DaCapo's files.

Names load on first use (PEP 562): reading a config file does not import torch, which only
checkpoints need.
"""

from __future__ import annotations

from .._lazy import lazy_names

_HOMES = {
    "ArchitectureWithHead": ".checkpoints",
    "CheckpointError": ".checkpoints",
    "load_weights": ".checkpoints",
    "read_checkpoint": ".checkpoints",
    "save_weights": ".checkpoints",
    "ConfigError": ".config_files",
    "config_from_dict": ".config_files",
    "config_to_dict": ".config_files",
    "load_config": ".config_files",
    "save_config": ".config_files",
}

__all__ = sorted(_HOMES)


__getattr__, __dir__ = lazy_names(__name__, _HOMES)
