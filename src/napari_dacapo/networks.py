"""Where a network comes from: the bundled example configs, the bundled demo models (trained
weights included), a DaCapo config file, and building one of them with its weights.

This module imports torch only to build a network (``build_network``, ``DemoModel.load``).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .architectures import Architecture, ArchitectureConfig

__all__ = [
    "DemoModel",
    "build_network",
    "demo_model",
    "demo_models",
    "example_config",
    "example_config_paths",
    "resolve_config",
]


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


@dataclass(frozen=True)
class DemoModel:
    """A bundled demo model: a small U-Net that finds membranes in the synthetic sample data.

    Trained by ``scripts/train_demo_model.py`` (reproducible, a few minutes on a CPU); each is
    a DaCapo config file plus a DaCapo-layout run checkpoint in ``napari_dacapo/demo_models``.
    """

    name: str
    config_path: Path
    weights_path: Path

    def load(self) -> tuple[ArchitectureConfig, Architecture]:
        """The config and the network with its trained weights (and prediction head)."""
        from .io import load_config

        config = load_config(self.config_path)
        return config, build_network(config, self.weights_path)


def demo_models() -> dict[str, DemoModel]:
    """Bundled demo models by name: ``demo_membranes_3d``, ``demo_membranes_2d``."""
    folder = Path(str(resources.files("napari_dacapo") / "demo_models"))
    return {
        path.stem: DemoModel(path.stem, path, path.with_suffix(".pt"))
        for path in sorted(folder.glob("*.yaml"))
        if path.with_suffix(".pt").is_file()
    }


def demo_model(dims: int = 3) -> DemoModel:
    """The demo model for 2D or 3D images."""
    models = demo_models()
    name = f"demo_membranes_{dims}d"
    if name not in models:
        raise KeyError(f"no demo model {name!r} (available: {', '.join(models) or 'none'})")
    return models[name]


def resolve_config(spec: str | Path) -> ArchitectureConfig:
    """A config from a bundled example name, a demo model name, or a DaCapo config file."""
    from .io import load_config

    name = str(spec)
    if name in example_config_paths():
        return example_config(name)
    if name in demo_models():
        return load_config(demo_models()[name].config_path)
    return load_config(spec)


def build_network(config: ArchitectureConfig, weights: str | Path | None = None) -> Architecture:
    """The verified config's network, with ``weights`` loaded when given."""
    from .architectures import as_architecture
    from .io import load_weights

    network = as_architecture(config)
    return load_weights(network, weights) if weights else network
