"""DaCapo's architectures API (``dacapo.experiments.architectures``), without DaCapo."""

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
