"""Synthetic EM-like images: cells with dark membranes, dark organelles, blur and noise.

Generated, not shipped: a seed gives the same image on every machine. The generator also
returns the cell labels and the membrane mask it drew, which is what the demo model is
trained to find (see ``scripts/train_demo_model.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from funlib.geometry import Coordinate
from scipy import ndimage

#: World voxel size (nm) that the sample layers are shown with.
SAMPLE_VOXEL_SIZE = 8


@dataclass(frozen=True)
class SyntheticEM:
    raw: np.ndarray  # uint8 image
    labels: np.ndarray  # uint32 cell ids (0: none)
    membranes: np.ndarray  # bool, the drawn membranes (the demo model's target)


def _smooth_noise(rng: np.random.Generator, shape: Coordinate, sigma: float) -> np.ndarray:
    noise = ndimage.gaussian_filter(rng.standard_normal(tuple(shape)).astype(np.float32), sigma)
    return noise / (noise.std() + 1e-8)


def _voronoi_cells(rng: np.random.Generator, shape: Coordinate, cell_size: float) -> np.ndarray:
    """Cells as a warped Voronoi tessellation of random seeds (ids 1..n)."""
    n_seeds = max(2, int(np.prod(shape) / cell_size**shape.dims))
    seeds = np.ones(tuple(shape), dtype=bool)
    points = tuple(rng.integers(0, s, n_seeds) for s in shape)
    seeds[points] = False
    _, nearest = ndimage.distance_transform_edt(seeds, return_indices=True)
    ids = np.zeros(tuple(shape), dtype=np.uint32)
    ids[points] = np.arange(1, n_seeds + 1, dtype=np.uint32)
    cells = ids[tuple(nearest)]
    # warp the straight Voronoi walls into curved membranes
    grid = np.indices(tuple(shape), dtype=np.float32)
    warp = [grid[d] + 0.2 * cell_size * _smooth_noise(rng, shape, cell_size / 2) for d in range(shape.dims)]
    return ndimage.map_coordinates(cells, warp, order=0, mode="nearest").astype(np.uint32)


def _membranes(cells: np.ndarray) -> np.ndarray:
    boundary = np.zeros(cells.shape, dtype=bool)
    for axis in range(cells.ndim):
        lo = [slice(None)] * cells.ndim
        hi = [slice(None)] * cells.ndim
        lo[axis], hi[axis] = slice(None, -1), slice(1, None)
        differs = cells[tuple(lo)] != cells[tuple(hi)]
        boundary[tuple(lo)] |= differs
        boundary[tuple(hi)] |= differs
    return boundary


def _organelles(rng: np.random.Generator, shape: Coordinate, membranes: np.ndarray, size: float) -> np.ndarray:
    """Dark round blobs (vesicles, mitochondria) placed away from the membranes."""
    count = max(1, int(np.prod(shape) / (5 * size) ** shape.dims))
    centres = np.zeros(tuple(shape), dtype=bool)
    away = ndimage.distance_transform_edt(~membranes) > size
    candidates = np.flatnonzero(away)
    if candidates.size:
        centres.flat[rng.choice(candidates, min(count, candidates.size), replace=False)] = True
    return ndimage.distance_transform_edt(~centres) < size * 0.6


def synthetic_em(shape=(64, 128, 128), seed: int = 0, cell_size: float = 24.0) -> SyntheticEM:
    """A 2D or 3D EM-like image of ``shape``: bright cells, dark 2-voxel membranes, organelles.

    Intensities: cytoplasm around 170-200, membranes around 50, organelles around 100, with
    Gaussian blur (sigma 1) and noise; uint8. Deterministic for a given ``seed``.
    """
    shape = Coordinate(shape)
    if shape.dims not in (2, 3):
        raise ValueError(f"shape must be 2D or 3D, got {tuple(shape)}")
    rng = np.random.default_rng(seed)
    cells = _voronoi_cells(rng, shape, cell_size)
    membranes = _membranes(cells)
    organelles = _organelles(rng, shape, membranes, size=cell_size / 6)
    cell_tone = rng.uniform(0.65, 0.8, int(cells.max()) + 1).astype(np.float32)
    image = cell_tone[cells] + 0.04 * _smooth_noise(rng, shape, 2.0)
    image[organelles] = 0.4
    image[membranes] = 0.2
    image = ndimage.gaussian_filter(image, 1.0)
    image += 0.05 * rng.standard_normal(tuple(shape)).astype(np.float32)
    raw = np.clip(image * 255, 0, 255).astype(np.uint8)
    return SyntheticEM(raw=raw, labels=cells, membranes=membranes)
