"""Which part of an image is in view: the region the Preview predicts (no Qt)."""

from __future__ import annotations

import numpy as np
from funlib.geometry import Coordinate, Roi


def visible_roi(viewer, layer, spatial_dims: int, max_size: int = 192) -> Roi | None:
    """The image voxels in view on ``viewer``'s 2D canvas: the current slice (for axes not
    displayed) and the field of view (displayed axes), at most ``max_size`` voxels per
    displayed axis around the view's centre. ``None`` in a 3D view."""
    if viewer.dims.ndisplay != 2:
        return None
    ndim = layer.ndim
    shape = Coordinate(layer.level_shapes[0][-spatial_dims:] if layer.multiscale else layer.data.shape[-spatial_dims:])
    scene = getattr(viewer, "scene", None)
    camera = scene.camera if scene is not None and hasattr(scene, "camera") else viewer.camera
    half = max(viewer.canvas.size) / max(camera.zoom, 1e-9) / 2
    centre = np.asarray(viewer.dims.point, dtype=float)
    displayed = list(viewer.dims.displayed)
    lo_world, hi_world = centre.copy(), centre.copy()
    for axis, c in zip(displayed, camera.center[-len(displayed) :], strict=True):
        lo_world[axis], hi_world[axis] = c - half, c + half
    lo = np.asarray(layer.world_to_data(lo_world))[-spatial_dims:]
    hi = np.asarray(layer.world_to_data(hi_world))[-spatial_dims:]
    shown = {ndim - viewer.dims.ndim + axis for axis in displayed}  # world axes → layer axes
    begin, end = [], []
    for d in range(spatial_dims):
        axis = ndim - spatial_dims + d
        a, b = sorted((lo[d], hi[d]))
        if axis in shown:
            middle = (a + b) / 2
            a, b = max(a, middle - max_size / 2), min(b, middle + max_size / 2)
            begin.append(int(np.floor(a + 0.5)))
            end.append(int(np.floor(b + 0.5)) + 1)
        else:
            index = int(np.round(a))
            begin.append(index)
            end.append(index + 1)
    roi = Roi(Coordinate(begin), Coordinate(end) - Coordinate(begin)).intersect(Roi((0,) * spatial_dims, shape))
    return None if roi.empty else roi
