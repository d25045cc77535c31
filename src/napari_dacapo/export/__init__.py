"""Exporting a network to other tools: :func:`export_bioimageio` writes a bioimage.io model package.

Importing this package loads nothing heavy; the export module needs the ``bioimageio`` extra.
"""

from __future__ import annotations

from .._lazy import lazy_names

__all__ = ["export_bioimageio"]


__getattr__, __dir__ = lazy_names(__name__, {"export_bioimageio": ".bioimageio"})
