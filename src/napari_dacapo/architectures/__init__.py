"""DaCapo's architectures API (``dacapo.experiments.architectures``), without DaCapo.

Each name is imported from its module on first use (PEP 562), so a name loads only its own
module and what that imports: ``UNetGeometry`` and ``ShapeError`` need no torch, nor does
``ArchitectureConfig``; the networks (``Architecture`` and its subclasses) do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_names

if TYPE_CHECKING:
    from .architecture import Architecture
    from .architecture_config import ArchitectureConfig
    from .building import as_architecture
    from .cnnectome_unet import CNNectomeUNet
    from .cnnectome_unet_config import CNNectomeUNetConfig
    from .dummy_architecture import DummyArchitecture
    from .dummy_architecture_config import DummyArchitectureConfig
    from .geometry import ShapeError, UNetGeometry

__all__ = [
    "Architecture",
    "ArchitectureConfig",
    "CNNectomeUNet",
    "CNNectomeUNetConfig",
    "DummyArchitecture",
    "DummyArchitectureConfig",
    "ShapeError",
    "UNetGeometry",
    "as_architecture",
]

_MODULES = {
    "Architecture": ".architecture",
    "ArchitectureConfig": ".architecture_config",
    "as_architecture": ".building",
    "CNNectomeUNet": ".cnnectome_unet",
    "CNNectomeUNetConfig": ".cnnectome_unet_config",
    "DummyArchitecture": ".dummy_architecture",
    "DummyArchitectureConfig": ".dummy_architecture_config",
    "ShapeError": ".geometry",
    "UNetGeometry": ".geometry",
}


__getattr__, __dir__ = lazy_names(__name__, _MODULES)
