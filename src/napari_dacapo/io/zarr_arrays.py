"""zarr datasets with their world placement.

A dataset is named ``CONTAINER.zarr/path/in/container``. Two ways of placing a
dataset in the world are read:

- funlib/daisy attributes on the array: ``voxel_size`` (or ``resolution``), ``offset`` and
  ``axis_names``. ``offset`` is, as in funlib, the world position of the *corner* of voxel 0:
  voxel ``i`` covers ``[offset + i*voxel_size, offset + (i+1)*voxel_size)``.
- OME-NGFF ``multiscales`` (0.4 in the group's attributes, 0.5 under ``"ome"``; validated and
  parsed by :mod:`napari_dacapo.io.ngff` through ome-zarr-models): the dataset names a
  multiscale image group (a level is chosen by voxel size) or one of its levels.
  NGFF's ``scale`` is the voxel size and its ``translation`` the position of voxel 0's
  *centre* (the convention napari follows), so ``offset = translation - scale / 2``.

Outputs are written by :mod:`napari_dacapo.io.zarr_outputs` (OME-Zarr and funlib both).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zarr

from ..placement import Placement
from .ngff import NgffImage, is_ngff_image, read_ngff_image


def split_dataset(spec: str) -> tuple[Path, str]:
    """``"a/b.zarr/raw/s0"`` → (``a/b.zarr``, ``"raw/s0"``)."""
    parts = Path(spec).parts
    for i, part in enumerate(parts):
        if part.endswith((".zarr", ".n5")):
            return Path(*parts[: i + 1]), "/".join(parts[i + 1 :])
    raise ValueError(f"{spec!r}: expected CONTAINER.zarr/DATASET (e.g. volume.zarr/raw)")


@dataclass(frozen=True)
class Dataset:
    """An array with its placement: ``voxel_size`` and ``offset`` (corner of voxel 0) per
    spatial axis."""

    array: Any
    voxel_size: tuple[float, ...]
    offset: tuple[float, ...]
    units: tuple[str, ...] | None = None  # per spatial axis, as the input names them (None: unknown)


def _open_node(container: Path, path: str, spec: str):
    if container.suffix.lower() == ".n5":
        raise ValueError(
            f"{container}: N5 containers cannot be read (zarr-python 3 has no N5 store); "
            "convert it to zarr first, e.g. with tensorstore or zarr-python 2's N5Store"
        )
    if not container.exists():
        raise FileNotFoundError(f"{container}: no such zarr container")
    try:
        return zarr.open(store=str(container), path=path or None, mode="r")
    except Exception:  # zarr raises several types for a missing node
        raise FileNotFoundError(f"{spec}: no array or group '{path}' in {container}") from None


def open_dataset(spec: str, dims: int, voxel_size: Sequence[float] | None = None) -> Dataset:
    """Open a dataset for reading, with its voxel size and offset (ones and zeros if absent).

    ``spec`` may name an OME-NGFF multiscale group: the level whose voxel size equals
    ``voxel_size`` is chosen (the finest when ``voxel_size`` is None).
    """
    container, path = split_dataset(spec)
    node = _open_node(container, path, spec)
    if isinstance(node, zarr.Group):
        if not is_ngff_image(dict(node.attrs)):
            raise ValueError(f"{spec} is a group, not an array, and has no OME-NGFF multiscales: name an array in it")
        return _ngff_dataset(spec, node, dims, voxel_size, None)
    parent_path = path.rsplit("/", 1)[0] if "/" in path else ""
    parent = zarr.open_group(store=str(container), path=parent_path or None, mode="r")
    if is_ngff_image(dict(parent.attrs)):
        level = path.rsplit("/", 1)[-1]
        image = read_ngff_image(parent, f"{container}/{parent_path}" if parent_path else str(container))
        if image.level(level) is not None:
            return _ngff_dataset(spec, parent, dims, voxel_size, level, image)
    return _funlib_dataset(spec, node, dims, voxel_size)


def _funlib_dataset(spec: str, array, dims: int, wanted) -> Dataset:
    attrs = dict(array.attrs)
    size = tuple(float(v) for v in attrs.get("voxel_size", attrs.get("resolution", (1,) * dims)))
    offset = tuple(float(v) for v in attrs.get("offset", (0,) * dims))
    if len(size) != dims or len(offset) != dims:
        raise ValueError(f"{spec}: voxel_size {size} / offset {offset} are not {dims}D")
    if wanted is not None and not _same(size, wanted):
        raise ValueError(f"{spec}: voxel size {size} differs from the requested {tuple(wanted)}")
    units = attrs.get("units")
    units = tuple(str(u) for u in units[-dims:]) if isinstance(units, list) and len(units) >= dims else None
    return Dataset(array, size, offset, units)


def _same(a: Sequence[float], b: Sequence[float]) -> bool:
    return len(a) == len(b) and all(math.isclose(x, y, rel_tol=1e-6) for x, y in zip(a, b, strict=True))


def _ngff_dataset(spec: str, group, dims: int, wanted, level: str | None, image: NgffImage | None = None) -> Dataset:
    image = image or read_ngff_image(group, spec)
    space = image.space_axes
    if len(space) != dims:
        raise ValueError(f"{spec}: the image has {len(space)} space axes, the network is {dims}D")
    others = [i for i in range(len(image.axis_types)) if i not in space]
    if len(others) > 1 or any(image.axis_types[i] != "channel" or i > space[0] for i in others):
        raise ValueError(f"{spec}: axes {list(image.axis_names)}: only (channel,) + space axes are supported")
    if level is not None:
        chosen = image.level(level)
        if wanted is not None and not _same(chosen.voxel_size, wanted):
            raise ValueError(f"{spec}: voxel size {chosen.voxel_size} differs from the requested {tuple(wanted)}")
    elif wanted is None:
        chosen = image.levels[0]
    else:
        chosen = next((item for item in image.levels if _same(item.voxel_size, wanted)), None)
        if chosen is None:
            found = ", ".join(f"{item.path}: {item.voxel_size}" for item in image.levels)
            raise ValueError(f"{spec}: no level has voxel size {tuple(wanted)} (levels {found})")
    array = group[chosen.path]
    if not isinstance(array, zarr.Array):
        raise ValueError(f"{spec}: level {chosen.path!r} is not an array")
    units = image.units if all(image.units) else None
    return Dataset(array, chosen.voxel_size, Placement(chosen.voxel_size, chosen.origin).corner, units)


# written here before outputs had a module of their own
from .zarr_outputs import create_output, mark_complete, open_output, output_corner  # noqa: E402, F401
