"""Configs and weights on disk, compatible with DaCapo's files."""

from .checkpoints import (
    ArchitectureWithHead,
    CheckpointError,
    load_weights,
    read_checkpoint,
    save_weights,
)
from .config_files import ConfigError, config_from_dict, config_to_dict, load_config, save_config

__all__ = [
    "ArchitectureWithHead",
    "CheckpointError",
    "ConfigError",
    "config_from_dict",
    "config_to_dict",
    "load_config",
    "load_weights",
    "read_checkpoint",
    "save_config",
    "save_weights",
]
