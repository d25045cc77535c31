"""npe2 reader: opening a DaCapo config file fills the architecture dock."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .io import ConfigError, load_config


def get_config_reader(path: str | list[str]) -> Callable | None:
    """A reader for a DaCapo architecture config (YAML/JSON with ``__type__``), else None."""
    if isinstance(path, list) or Path(path).suffix.lower() not in (".yaml", ".yml", ".json"):
        return None
    try:
        load_config(path)
    except (ConfigError, OSError, ValueError):
        return None  # some other YAML/JSON file: let other readers have it
    return _open_in_dock


def _open_in_dock(path: str) -> list[tuple]:
    import napari

    viewer = napari.current_viewer()
    if viewer is None:
        raise RuntimeError("no napari viewer to show the architecture dock in")
    _widget, dock = viewer.window.add_plugin_dock_widget("napari-dacapo", "DaCapo architecture")
    dock.load_config(path)
    return [(None,)]  # napari's "handled, no layer" sentinel
