"""From a config to a network: verify (with the reason), then build."""

from __future__ import annotations

from .architecture import Architecture
from .architecture_config import ArchitectureConfig
from .cnnectome_unet_config import short_repr

__all__ = ["as_architecture"]


def as_architecture(network: Architecture | ArchitectureConfig) -> Architecture:
    """The network itself, or the network a config builds once it verifies.

    A config that does not verify raises ``ValueError`` with ``verify()``'s reason (on one
    line; for a CNNectome U-Net also when it is too large to build, with the figure, before
    anything is allocated); anything else raises ``TypeError``.
    """
    if isinstance(network, ArchitectureConfig):
        valid, reason = network.verify()
        if not valid:
            reason = " ".join(str(reason).splitlines())
            raise ValueError(f"config {short_repr(network.name)} does not verify: {reason}")
        return network.architecture_type(network)
    if not isinstance(network, Architecture):
        raise TypeError(f"expected an Architecture or ArchitectureConfig, got {type(network).__name__}")
    return network
