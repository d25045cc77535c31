"""The example configs shipped with the package."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from .architectures import ArchitectureConfig


def example_config_paths() -> dict[str, Path]:
    """Bundled example configs by name (file stem)."""
    folder = resources.files("napari_dacapo") / "configs"
    return {
        Path(entry.name).stem: Path(str(entry))
        for entry in folder.iterdir()
        if entry.name.endswith((".yaml", ".yml", ".json"))
    }


def example_config(name: str) -> ArchitectureConfig:
    """Load a bundled example config by name, e.g. ``"cellmap_unet3d"``."""
    from .io import load_config

    paths = example_config_paths()
    if name not in paths:
        raise KeyError(f"no example config {name!r} (available: {', '.join(sorted(paths))})")
    return load_config(paths[name])
