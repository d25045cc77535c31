"""zarr datasets with their world placement (funlib/daisy attributes: voxel_size, offset, axis_names).

A dataset is named ``CONTAINER.zarr/path/in/container``. ``offset`` is, as in funlib, the world
position of the corner of voxel 0 (voxel ``i`` covers ``[offset + i*voxel_size,
offset + (i+1)*voxel_size)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zarr

_CONTAINERS = (".zarr", ".n5", ".zarr/", ".n5/")


def split_dataset(spec: str) -> tuple[Path, str]:
    """``"a/b.zarr/raw/s0"`` → (``a/b.zarr``, ``"raw/s0"``)."""
    parts = Path(spec).parts
    for i, part in enumerate(parts):
        if part.endswith((".zarr", ".n5")):
            return Path(*parts[: i + 1]), "/".join(parts[i + 1 :])
    raise ValueError(f"{spec!r}: expected CONTAINER.zarr/DATASET (e.g. volume.zarr/raw)")


@dataclass(frozen=True)
class Dataset:
    array: Any
    voxel_size: tuple[float, ...]
    offset: tuple[float, ...]


def open_dataset(spec: str, dims: int) -> Dataset:
    """Open a dataset for reading, with its voxel size and offset (ones and zeros if absent)."""
    container, path = split_dataset(spec)
    if not container.exists():
        raise FileNotFoundError(f"{container}: no such zarr container")
    try:
        array = zarr.open_array(store=str(container), path=path or None, mode="r")
    except Exception as error:  # zarr raises several types for a missing node
        raise FileNotFoundError(f"{spec}: no array '{path}' in {container} ({type(error).__name__})") from None
    attrs = dict(array.attrs)
    voxel_size = tuple(float(v) for v in attrs.get("voxel_size", attrs.get("resolution", (1,) * dims)))
    offset = tuple(float(v) for v in attrs.get("offset", (0,) * dims))
    if len(voxel_size) != dims or len(offset) != dims:
        raise ValueError(f"{spec}: voxel_size {voxel_size} / offset {offset} are not {dims}D")
    return Dataset(array, voxel_size, offset)


def output_corner(plan, input_offset, input_voxel_size) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Output voxel size and funlib offset (corner of voxel 0) of a prediction ``plan`` for an
    input whose voxel 0 has its corner at ``input_offset``."""
    centre = tuple(o + v / 2 for o, v in zip(input_offset, input_voxel_size, strict=True))
    size, first = plan.output_placement(input_voxel_size, centre)
    return size, tuple(c - s / 2 for c, s in zip(first, size, strict=True))


def create_output(
    spec: str, shape, chunks, voxel_size, offset, axis_names, overwrite: bool, dtype: str = "float32"
) -> Any:
    """Create the output array (refusing an existing one unless ``overwrite``); it is marked
    incomplete until :func:`mark_complete`."""
    container, path = split_dataset(spec)
    if not path:
        raise ValueError(f"{spec!r}: name a dataset inside the container (e.g. {container}/prediction)")
    try:
        root = zarr.open_group(store=str(container), mode="a")
    except Exception as error:
        raise PermissionError(f"{container}: cannot write here ({error})") from None
    if path in root and not overwrite:
        raise FileExistsError(f"{spec} exists: pass --overwrite to replace it")
    array = root.create_array(path, shape=tuple(shape), chunks=tuple(chunks), dtype=dtype, overwrite=True)
    array.attrs.update(
        {
            "voxel_size": list(voxel_size),
            "offset": list(offset),
            "axis_names": list(axis_names),
            "napari_dacapo": {"complete": False},
        }
    )
    return array


def mark_complete(array, **details) -> None:
    array.attrs["napari_dacapo"] = {"complete": True, **details}
