"""GUI state: the networks built in the architecture dock, by name, for the prediction dock
(no Qt: a psygnal signal tells the docks)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from psygnal import Signal

from ..architectures import Architecture, ArchitectureConfig

__all__ = ["NetworkRegistry", "RegisteredNetwork", "registry"]


@dataclass(frozen=True)
class RegisteredNetwork:
    name: str
    config: ArchitectureConfig
    network: Architecture
    weights: Path | None  # None: untrained (random weights)

    @property
    def label(self) -> str:
        return self.name if self.weights is not None else f"{self.name} (untrained)"


class NetworkRegistry:
    """Named networks; ``changed`` fires after every add or remove."""

    changed = Signal(description="A network was added or removed.")

    def __init__(self) -> None:
        self._networks: dict[str, RegisteredNetwork] = {}
        self._demos_added = False

    def add(self, entry: RegisteredNetwork) -> None:
        self._networks[entry.name] = entry
        self.changed.emit()

    def remove(self, name: str) -> None:
        if self._networks.pop(name, None) is not None:
            self.changed.emit()

    def get(self, name: str) -> RegisteredNetwork:
        self.add_demos()
        if name not in self._networks:
            raise KeyError(f"no network named {name!r} (built: {', '.join(self._networks) or 'none'})")
        return self._networks[name]

    def names(self) -> list[str]:
        self.add_demos()
        return list(self._networks)

    def add_demos(self) -> None:
        """The bundled demo models, once (loaded on first use)."""
        if self._demos_added:
            return
        self._demos_added = True
        from ..networks import demo_models

        for model in demo_models().values():
            config, network = model.load()
            self._networks.setdefault(model.name, RegisteredNetwork(model.name, config, network, model.weights_path))


#: The registry shared by the docks of one napari session.
registry = NetworkRegistry()
