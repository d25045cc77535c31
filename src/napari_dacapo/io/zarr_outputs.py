"""Prediction outputs on disk: an OME-Zarr 0.5 image that funlib tools read too.

``--output OUT.zarr/pred`` is written as

- ``OUT.zarr/pred``: a zarr group with OME-Zarr 0.5 ``multiscales`` metadata (under
  ``"ome"``): axes ``c, z, y, x`` (channel, then space axes with the input's units), and per
  level a ``scale`` (the output voxel size) and a ``translation`` (the centre of voxel 0). So
  ome-zarr-py, napari-ome-zarr, neuroglancer, Fiji/MoBIE and napari-dacapo's reader all put
  the prediction on its input;
- ``OUT.zarr/pred/s0``: the array, with zarr v3 ``dimension_names`` and the funlib
  attributes DaCapo, funlib.persistence and daisy read: ``voxel_size``, ``offset`` (the
  *corner* of voxel 0: centre minus half a voxel), ``axis_names`` (``c^`` marks the channel
  axis), ``units`` and ``types``; the run's state is under ``napari_dacapo``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import zarr

from ..placement import Placement
from .zarr_arrays import split_dataset

__all__ = [
    "LEVEL",
    "create_output",
    "mark_complete",
    "ngff_unit",
    "ome_multiscales",
    "open_output",
    "output_corner",
]

LEVEL = "s0"
"""The full-resolution level of an output image group."""

# OME-Zarr names its units in full (the UDUNITS-2 names); funlib files often abbreviate them
_UNIT_NAMES = {
    "nm": "nanometer",
    "um": "micrometer",
    "µm": "micrometer",
    "μm": "micrometer",
    "micron": "micrometer",
    "mm": "millimeter",
    "cm": "centimeter",
    "m": "meter",
    "pm": "picometer",
    "a": "angstrom",
    "å": "angstrom",
}
_NGFF_SPACE_UNITS = {
    "angstrom",
    "attometer",
    "centimeter",
    "decimeter",
    "exameter",
    "femtometer",
    "foot",
    "gigameter",
    "hectometer",
    "inch",
    "kilometer",
    "megameter",
    "meter",
    "micrometer",
    "mile",
    "millimeter",
    "nanometer",
    "parsec",
    "petameter",
    "picometer",
    "terameter",
    "yard",
    "yoctometer",
    "yottameter",
    "zeptometer",
    "zettameter",
}


def ngff_unit(unit: str | None) -> str | None:
    """The OME-Zarr name of a space unit (``nm`` → ``nanometer``), None if it has none."""
    if not unit:
        return None
    name = _UNIT_NAMES.get(unit.strip().lower(), unit.strip().lower())
    return name if name in _NGFF_SPACE_UNITS else None


def output_corner(plan, input_offset, input_voxel_size) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Output voxel size and funlib offset (corner of voxel 0) of a prediction ``plan`` for an
    input whose voxel 0 has its corner at ``input_offset``."""
    output = plan.placement(Placement.from_corner(input_voxel_size, input_offset))
    return output.voxel_size, output.corner


def ome_multiscales(
    name: str,
    placement: Placement,
    axis_names: Sequence[str],
    units: Sequence[str | None] | None,
    channel_axis: bool = True,
) -> dict[str, Any]:
    """The ``"ome"`` attributes of an image group with one level (:data:`LEVEL`), a channel
    axis (unless not ``channel_axis``) and the space axes of ``placement`` (voxel centres, as
    OME-Zarr places them)."""
    units = list(units) if units is not None else [None] * placement.dims
    axes: list[dict[str, str]] = [{"name": "c", "type": "channel"}] if channel_axis else []
    for axis, unit in zip(axis_names, units, strict=True):
        entry = {"name": axis, "type": "space"}
        if ngff_unit(unit):
            entry["unit"] = ngff_unit(unit)
        axes.append(entry)
    lead = [0.0] if channel_axis else []
    transforms = [
        {"type": "scale", "scale": [*([1.0] if channel_axis else []), *placement.voxel_size]},
        {"type": "translation", "translation": [*lead, *placement.origin]},
    ]
    multiscale = {"name": name, "axes": axes, "datasets": [{"path": LEVEL, "coordinateTransformations": transforms}]}
    return {"version": "0.5", "multiscales": [multiscale]}


def create_output(
    spec: str,
    shape,
    chunks,
    voxel_size,
    offset,
    axis_names,
    overwrite: bool,
    dtype: str = "float32",
    units: Sequence[str | None] | None = None,
    labels: bool = False,
    **details,
) -> Any:
    """Create the output image group and its level array (refusing an existing output unless
    ``overwrite``); the array is marked incomplete until :func:`mark_complete`. ``offset`` is
    funlib's (the corner of voxel 0); ``axis_names`` are funlib's (``c^`` first); ``details``
    go into the array's ``attrs["napari_dacapo"]``. ``labels``: an OME-Zarr label image
    (no channel axis, ``image-label`` metadata; ``axis_names`` without ``c^``). Returns the
    level array."""
    container, path = split_dataset(spec)
    if not path:
        raise ValueError(f"{spec!r}: name a dataset inside the container (e.g. {container}/prediction)")
    try:
        root = zarr.open_group(store=str(container), mode="a")
    except Exception as error:
        raise PermissionError(f"{container}: cannot write here ({error})") from None
    if path in root and not overwrite:
        raise FileExistsError(f"{spec} exists: pass --overwrite to replace it")
    spatial_names = [str(a) for a in (axis_names if labels else axis_names[1:])]
    placement = Placement.from_corner(voxel_size, offset)
    units = list(units) if units is not None else None
    try:
        group = root.create_group(path, overwrite=True)
        ome = ome_multiscales(path.rsplit("/", 1)[-1], placement, spatial_names, units, channel_axis=not labels)
        if labels:
            ome["image-label"] = {}
        group.attrs["ome"] = ome
        array = group.create_array(
            LEVEL,
            shape=tuple(shape),
            chunks=tuple(chunks),
            dtype=dtype,
            dimension_names=[*([] if labels else ["c"]), *spatial_names],
        )
        array.attrs.update(
            {
                "voxel_size": list(voxel_size),
                "offset": list(offset),
                "axis_names": list(axis_names),
                "units": [u or "" for u in units] if units is not None else [""] * placement.dims,
                "types": [*([] if labels else ["channel"]), *(["space"] * placement.dims)],
                "napari_dacapo": {"complete": False, **details},
            }
        )
    except PermissionError as error:
        raise PermissionError(f"{spec}: cannot write here ({error.strerror or error})") from None
    return array


def open_output(spec: str) -> Any | None:
    """An existing output's level array opened for writing (an output image group, or an
    array written before outputs were OME-Zarr images), or None if there is none."""
    container, path = split_dataset(spec)
    if not container.exists():
        return None
    try:
        node = zarr.open(store=str(container), path=path, mode="r+")
    except Exception:
        return None
    if isinstance(node, zarr.Group):
        level = node.get(LEVEL)
        return level if isinstance(level, zarr.Array) else None
    return node if isinstance(node, zarr.Array) else None


def mark_complete(array, **details) -> None:
    state = dict(array.attrs.get("napari_dacapo", {}))
    state.update(details, complete=True)
    array.attrs["napari_dacapo"] = state
