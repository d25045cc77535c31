"""Base class of all architecture configs (DaCapo's ``ArchitectureConfig``)."""

from __future__ import annotations

from typing import ClassVar

import attr


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
