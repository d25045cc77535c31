"""Moved: the registry of built networks is GUI state, in :mod:`napari_dacapo.widgets.registry`."""

from .widgets.registry import NetworkRegistry, RegisteredNetwork, registry

__all__ = ["NetworkRegistry", "RegisteredNetwork", "registry"]
