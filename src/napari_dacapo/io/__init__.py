"""Configs and weights on disk, compatible with DaCapo's files.

Names load on first use (PEP 562): reading a config file does not import torch, which only
checkpoints need.
"""

from __future__ import annotations

import importlib
from typing import Any

_HOMES = {
    "ArchitectureWithHead": "checkpoints",
    "CheckpointError": "checkpoints",
    "load_weights": "checkpoints",
    "read_checkpoint": "checkpoints",
    "save_weights": "checkpoints",
    "ConfigError": "config_files",
    "config_from_dict": "config_files",
    "config_to_dict": "config_files",
    "load_config": "config_files",
    "save_config": "config_files",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOMES))
