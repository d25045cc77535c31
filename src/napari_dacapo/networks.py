"""Finding a network by name or path: bundled examples, demo models and config files."""

from __future__ import annotations

from pathlib import Path

from .architectures import Architecture, ArchitectureConfig
from .demo import demo_models
from .examples import example_config, example_config_paths


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
    from .io import load_weights

    valid, reason = config.verify()
    if not valid:
        raise ValueError(f"config {config.name!r} does not verify: {reason}")
    network = config.architecture_type(config)
    return load_weights(network, weights) if weights else network
