"""Base class of all architecture configs (DaCapo's ``ArchitectureConfig``)."""

from __future__ import annotations

import importlib
from typing import Any, ClassVar

import attr

__all__ = ["ArchitectureConfig", "lazy_type"]


class lazy_type:
    """A class attribute naming a class by ``"module:Name"`` (relative to this package) and
    importing it on first access: a config module then loads without torch, and
    ``Config.architecture_type is TheNetwork`` still holds once it is looked up."""

    def __init__(self, target: str):
        self.target = target
        self._resolved: type | None = None

    def __get__(self, _instance: Any, _owner: type | None = None) -> type:
        if self._resolved is None:
            module, _, name = self.target.partition(":")
            self._resolved = getattr(importlib.import_module(module, __package__), name)
        return self._resolved


@attr.s
class ArchitectureConfig:
    """A named, serialisable description of a network.

    Each concrete config sets ``architecture_type`` to the class it builds:
    ``config.architecture_type(config)`` returns the network.
    """

    architecture_type: ClassVar[type]

    name: str = attr.ib(
        metadata={
            "help_text": "A unique name for this architecture. This will be saved so "
            "you and others can find and reuse this task. Keep it short "
            "and avoid special characters."
        }
    )

    def verify(self) -> tuple[bool, str]:
        """Check whether this config describes a network that can be built and run."""
        return True, "No validation for this Architecture"
