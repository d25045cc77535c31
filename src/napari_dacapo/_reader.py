"""npe2 readers: a DaCapo config file fills the architecture dock; zarr datasets with funlib
placement attributes (what ``napari-dacapo predict`` writes) open as layers at their place in
the world."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from .io import ConfigError, load_config
from .io.zarr_arrays import split_dataset
from .io.zarr_outputs import LEVEL
from .placement import Placement

__all__ = ["get_config_reader", "get_package_reader", "get_run_reader", "get_zarr_reader", "zarr_layers"]


def get_config_reader(path: str | list[str]) -> Callable | None:
    """A reader for a DaCapo architecture config (YAML/JSON with ``__type__``), else None."""
    if isinstance(path, list) or Path(path).suffix.lower() not in (".yaml", ".yml", ".json"):
        return None
    try:
        load_config(path)
    except (ConfigError, OSError, ValueError):
        return None  # some other YAML/JSON file: let other readers have it
    return _open_in_dock


def get_run_reader(path: str | list[str]) -> Callable | None:
    """A reader for a DaCapo file store or run folder (dropped on napari), else None."""
    from .runs import is_run_source

    if isinstance(path, list) or not Path(path).is_dir() or not is_run_source(path):
        return None
    return _open_in_dock


def get_package_reader(path: str | list[str]) -> Callable | None:
    """A reader for a bioimage.io package (.zip) that napari-dacapo exported, else None."""
    from .export.importing import is_dacapo_package

    if isinstance(path, list) or Path(path).suffix.lower() != ".zip" or not is_dacapo_package(path):
        return None
    return _open_in_dock


def _open_in_dock(path: str) -> list[tuple]:
    """Show the architecture dock with the config (or the whole run) at ``path``."""
    import napari

    from .runs import is_run_source

    viewer = napari.current_viewer()
    if viewer is None:
        raise RuntimeError("no napari viewer to show the architecture dock in")
    _widget, dock = viewer.window.add_plugin_dock_widget("napari-dacapo", "DaCapo architecture")
    if is_run_source(path):
        dock.choose_run(path)
    elif Path(path).suffix.lower() == ".zip":
        dock.open_package(path)
    else:
        dock.load_config(path)
    return [(None,)]  # napari's "handled, no layer" sentinel


def get_zarr_reader(path: str | list[str]) -> Callable | None:
    """A reader for ``X.zarr`` (every placed array in it) or ``X.zarr/dataset``, else None."""
    if isinstance(path, list):
        return None
    try:
        layers = zarr_layers(path)
    except (ValueError, OSError):
        return None
    return (lambda _path: zarr_layers(_path)) if layers else None


def _placed_arrays(container: Path, path: str) -> list[tuple[str, Any]]:
    import zarr

    def walk(node, name: str) -> list[tuple[str, Any]]:
        if isinstance(node, zarr.Array):
            return [(name, node)] if "voxel_size" in node.attrs or "resolution" in node.attrs else []
        found = []
        for child, member in node.members():
            found += walk(member, f"{name}/{child}" if name else child)
        return found

    return walk(zarr.open(store=str(container), path=path or None, mode="r"), path)


def zarr_layers(path: str) -> list[tuple]:
    """Layer data tuples (lazy dask data): ``scale`` is the voxel size and ``translate`` the
    centre of voxel 0 (``offset + voxel_size / 2``); a ``c^`` first axis becomes one layer
    per channel. An unfinished prediction is named "… (incomplete)"."""
    import dask.array as da

    container, inner = split_dataset(path)
    if not container.is_dir():
        return []
    try:
        arrays = _placed_arrays(container, inner)
    except Exception:
        return []
    layers = []
    for name, array in sorted(arrays, key=lambda item: item[0]):
        attrs = dict(array.attrs)
        voxel_size = [float(v) for v in attrs.get("voxel_size", attrs.get("resolution"))]
        dims = len(voxel_size)
        offset = [float(v) for v in attrs.get("offset", [0] * dims)]
        placement = Placement.from_corner(voxel_size, offset)
        state = attrs.get("napari_dacapo", {})
        stored = f"{container}/{name}"
        if name.endswith(f"/{LEVEL}"):  # the full-resolution level of an output image
            name = name[: -len(LEVEL) - 1]
        label = name + (" (incomplete)" if state.get("complete") is False else "")
        kwargs: dict[str, Any] = {
            "name": label,
            "scale": list(placement.voxel_size),
            "translate": list(placement.origin),
            "metadata": {"zarr": stored, **attrs},
        }
        kind = "image"
        if "image-label" in _ome(container, name) or "rule" in state:  # labels that napari-dacapo wrote
            kind = "labels"
        elif array.ndim == dims + 1:
            kwargs["channel_axis"] = 0
            kwargs["name"] = [f"{label} [{c}]" for c in range(array.shape[0])] if array.shape[0] > 1 else label
        elif array.ndim != dims:
            continue
        if "napari_dacapo" in attrs and kind == "image":
            kwargs["colormap"] = "green"
            kwargs["blending"] = "additive"
        layers.append((da.from_zarr(array), kwargs, kind))
    return layers


def _ome(container: Path, name: str) -> dict:
    """The ``ome`` attributes of the image group holding level array ``name`` (empty if none)."""
    import zarr

    group = name.rsplit("/", 1)[0] if "/" in name else ""
    try:
        return dict(zarr.open_group(store=str(container), path=group or None, mode="r").attrs.get("ome", {}))
    except Exception:
        return {}
