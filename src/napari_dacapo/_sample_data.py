"""npe2 sample data: synthetic EM-like images (see :mod:`napari_dacapo.sample_data`)."""

from __future__ import annotations

from typing import Any

from .sample_data import SAMPLE_VOXEL_SIZE, synthetic_em


def _layers(shape: tuple[int, ...], name: str) -> list[tuple[Any, dict, str]]:
    em = synthetic_em(shape, seed=0)
    scale = (SAMPLE_VOXEL_SIZE,) * len(shape)
    return [
        (em.raw, {"name": name, "scale": scale, "units": "nm", "contrast_limits": (0, 255)}, "image"),
        (em.labels, {"name": f"{name} cells (truth)", "scale": scale, "units": "nm", "visible": False}, "labels"),
    ]


def em_volume() -> list[tuple[Any, dict, str]]:
    """A 64 × 128 × 128 EM-like volume at 8 nm, and its cells."""
    return _layers((64, 128, 128), "synthetic EM 3D")


def em_image() -> list[tuple[Any, dict, str]]:
    """A 256 × 256 EM-like image at 8 nm, and its cells."""
    return _layers((256, 256), "synthetic EM 2D")
