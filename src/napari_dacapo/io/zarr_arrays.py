"""zarr datasets with their world placement.

A dataset is named ``CONTAINER.zarr/path/in/container``. Two ways of placing a
dataset in the world are read:

- funlib/daisy attributes on the array: ``voxel_size`` (or ``resolution``), ``offset`` and
  ``axis_names``. ``offset`` is, as in funlib, the world position of the *corner* of voxel 0:
  voxel ``i`` covers ``[offset + i*voxel_size, offset + (i+1)*voxel_size)``.
- OME-NGFF ``multiscales`` (0.4 in the group's attributes, 0.5 under ``"ome"``): the dataset
  names a multiscale image group (a level is chosen by voxel size) or one of its levels.
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


def _multiscales(attrs: dict) -> list | None:
    if "ome" in attrs and isinstance(attrs["ome"], dict):
        return attrs["ome"].get("multiscales")
    return attrs.get("multiscales")


def open_dataset(spec: str, dims: int, voxel_size: Sequence[float] | None = None) -> Dataset:
    """Open a dataset for reading, with its voxel size and offset (ones and zeros if absent).

    ``spec`` may name an OME-NGFF multiscale group: the level whose voxel size equals
    ``voxel_size`` is chosen (the finest when ``voxel_size`` is None).
    """
    container, path = split_dataset(spec)
    node = _open_node(container, path, spec)
    if isinstance(node, zarr.Group):
        multiscales = _multiscales(dict(node.attrs))
        if not multiscales:
            raise ValueError(f"{spec} is a group, not an array, and has no OME-NGFF multiscales: name an array in it")
        return _open_ngff_level(spec, node, multiscales[0], dims, voxel_size, None)
    parent_path = path.rsplit("/", 1)[0] if "/" in path else ""
    parent = zarr.open_group(store=str(container), path=parent_path or None, mode="r")
    multiscales = _multiscales(dict(parent.attrs))
    if multiscales:
        level = path.rsplit("/", 1)[-1]
        if any(d.get("path") == level for d in multiscales[0].get("datasets", [])):
            return _open_ngff_level(spec, parent, multiscales[0], dims, voxel_size, level)
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


def _transforms(items: list[dict], ndim: int) -> tuple[list[float], list[float]]:
    scale, translation = [1.0] * ndim, [0.0] * ndim
    for item in items or []:
        if item.get("type") == "scale":
            scale = [s * float(v) for s, v in zip(scale, item["scale"], strict=True)]
        elif item.get("type") == "translation":
            translation = [t + float(v) for t, v in zip(translation, item["translation"], strict=True)]
    return scale, translation


def _open_ngff_level(spec: str, group, multiscale: dict, dims: int, wanted, level: str | None) -> Dataset:
    axes = multiscale.get("axes") or [{"name": n, "type": "space"} for n in "zyx"[-dims:]]
    types = [a.get("type", "space") if isinstance(a, dict) else "space" for a in axes]
    spatial = [i for i, t in enumerate(types) if t == "space"]
    if len(spatial) != dims:
        raise ValueError(f"{spec}: the image has {len(spatial)} space axes, the network is {dims}D")
    extra = [i for i, t in enumerate(types) if t != "space"]
    if any(types[i] != "channel" for i in extra) or len(extra) > 1 or (extra and extra[0] > spatial[0]):
        raise ValueError(f"{spec}: axes {[a.get('name') for a in axes]}: only (channel,) + space axes are supported")
    outer = multiscale.get("coordinateTransformations", [])
    levels = []
    for dataset in multiscale.get("datasets", []):
        scale, translation = _transforms(dataset.get("coordinateTransformations", []), len(axes))
        o_scale, o_translation = _transforms(outer, len(axes))
        scale = [s * o for s, o in zip(scale, o_scale, strict=True)]
        translation = [t * o + u for t, o, u in zip(translation, o_scale, o_translation, strict=True)]
        levels.append((dataset["path"], [scale[i] for i in spatial], [translation[i] for i in spatial]))
    units = [axes[i].get("unit") if isinstance(axes[i], dict) else None for i in spatial]
    if not levels:
        raise ValueError(f"{spec}: the OME-NGFF multiscales list no datasets")
    if level is not None:
        chosen = next(item for item in levels if item[0] == level)
        if wanted is not None and not _same(chosen[1], wanted):
            raise ValueError(f"{spec}: voxel size {tuple(chosen[1])} differs from the requested {tuple(wanted)}")
    elif wanted is None:
        chosen = levels[0]
    else:
        matches = [item for item in levels if _same(item[1], wanted)]
        if not matches:
            found = ", ".join(f"{p}: {tuple(s)}" for p, s, _ in levels)
            raise ValueError(f"{spec}: no level has voxel size {tuple(wanted)} (levels {found})")
        chosen = matches[0]
    path, size, translation = chosen
    array = group[path]
    if not isinstance(array, zarr.Array):
        raise ValueError(f"{spec}: level {path!r} is not an array")
    known = tuple(str(u) for u in units) if all(units) else None
    return Dataset(array, tuple(size), Placement(size, translation).corner, known)


# written here before outputs had a module of their own
from .zarr_outputs import create_output, mark_complete, open_output, output_corner  # noqa: E402, F401
