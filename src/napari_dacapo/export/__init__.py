"""Exporting a network to other tools: :func:`export_bioimageio` writes a bioimage.io model package.

Importing this package loads nothing heavy; the export module needs the ``bioimageio`` extra.
"""

from __future__ import annotations

from typing import Any

__all__ = ["export_bioimageio"]


def __getattr__(name: str) -> Any:
    if name == "export_bioimageio":
        from .bioimageio import export_bioimageio

        return export_bioimageio
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
