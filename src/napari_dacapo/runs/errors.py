"""The one error a DaCapo run raises when it cannot be opened or used as asked."""

from __future__ import annotations

__all__ = ["RunError"]


class RunError(ValueError):
    """A run that cannot be opened, a checkpoint that is missing or does not fit, a task or
    array type that is not supported, a parameter out of range: one line, naming the cause."""
