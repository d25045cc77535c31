"""The bundled demo models: small U-Nets that find membranes in the synthetic sample data.

Trained by ``scripts/train_demo_model.py`` (reproducible, a few minutes on a CPU); each is a
DaCapo config file plus a DaCapo-layout run checkpoint in ``napari_dacapo/demo_models``.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from .architectures import Architecture, ArchitectureConfig


@dataclass(frozen=True)
class DemoModel:
    name: str
    config_path: Path
    weights_path: Path

    def load(self) -> tuple[ArchitectureConfig, Architecture]:
        """The config and the network with its trained weights (and prediction head)."""
        from .io import load_config, load_weights

        config = load_config(self.config_path)
        return config, load_weights(config.architecture_type(config), self.weights_path)


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
