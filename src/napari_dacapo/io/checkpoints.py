"""Network weights on disk: bare state dicts and DaCapo run checkpoints.

A DaCapo run checkpoint (``<run>/checkpoints/iterations/<N>``) is a pickled
``dacapo.store.weights_store.Weights`` object (older ones: a dict) whose ``model`` state dict
holds the architecture under ``architecture.``, the prediction head under
``prediction_head.``, and both again under ``chain.0.`` / ``chain.1.``. Files are read with
``torch.load(weights_only=True)``; the only class allowed besides tensors is an inert
stand-in for ``Weights``, so no pickled code ever runs.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from pathlib import Path

import torch
from funlib.geometry import Coordinate

from ..architectures import Architecture


class CheckpointError(ValueError):
    """A weights file that cannot be read or does not fit the network."""


class Weights:
    """Inert stand-in for ``dacapo.store.weights_store.Weights``: holds two state dicts."""

    model: dict
    optimizer: dict


_WEIGHTS_QUALNAME = "dacapo.store.weights_store.Weights"


def read_checkpoint(path: str | Path) -> dict[str, torch.Tensor]:
    """The model state dict stored in ``path`` (a run checkpoint or a bare state dict)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file")
    try:
        with torch.serialization.safe_globals([(Weights, _WEIGHTS_QUALNAME)]):
            content = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise CheckpointError(
            f"{path}: refused: the file holds more than tensors and DaCapo's Weights "
            f"({first_line}). Only weights are loaded; pickled code is never run."
        ) from None
    except Exception as error:  # not a torch file at all, truncated, ...
        raise CheckpointError(f"{path}: not a readable torch checkpoint ({error})") from None
    if isinstance(content, Weights):
        state = getattr(content, "model", None)
    elif isinstance(content, Mapping) and "model" in content:
        state = content["model"]
    elif isinstance(content, Mapping) and "state_dict" in content:
        state = content["state_dict"]
    else:
        state = content
    if not isinstance(state, Mapping) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise CheckpointError(
            f"{path}: expected a state dict (names to tensors), a DaCapo Weights object or "
            f"a dict with 'model'; found {type(content).__name__}"
        )
    return dict(state)


def is_run_checkpoint(state: Mapping[str, torch.Tensor]) -> bool:
    """Whether ``state`` is a DaCapo ``Model`` (architecture + prediction head)."""
    return any(k.startswith("architecture.") for k in state) and any(k.startswith("prediction_head.") for k in state)


def _sub_dict(state: Mapping[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}


def _check_fits(module: torch.nn.Module, state: Mapping[str, torch.Tensor], path: Path, what: str):
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    shapes = [
        f"{k}: checkpoint {tuple(state[k].shape)}, network {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and tuple(state[k].shape) != tuple(v.shape)
    ]
    if not (missing or unexpected or shapes):
        return

    def listing(names: list[str]) -> str:
        shown = ", ".join(names[:5])
        return shown + (f" (+{len(names) - 5} more)" if len(names) > 5 else "")

    parts = []
    if missing:
        parts.append(f"missing keys {listing(missing)}")
    if unexpected:
        parts.append(f"unexpected keys {listing(unexpected)}")
    if shapes:
        parts.append(f"shape differences {listing(shapes)}")
    raise CheckpointError(f"{path}: does not fit the {what}: " + "; ".join(parts))


class ArchitectureWithHead(Architecture):
    """A DaCapo run's model: an architecture followed by its prediction head."""

    def __init__(self, architecture: Architecture, prediction_head: torch.nn.Module):
        super().__init__()
        self.architecture = architecture
        self.prediction_head = prediction_head

    @property
    def input_shape(self) -> Coordinate:
        return self.architecture.input_shape

    @property
    def eval_shape_increase(self) -> Coordinate:
        return self.architecture.eval_shape_increase

    @property
    def num_in_channels(self) -> int:
        return self.architecture.num_in_channels

    @property
    def num_out_channels(self) -> int:
        return self.prediction_head.out_channels

    def scale(self, input_voxel_size: Coordinate) -> Coordinate:
        return self.architecture.scale(input_voxel_size)

    @property
    def upsample_factor(self) -> Coordinate:
        return self.architecture.upsample_factor

    @property
    def geometry(self):
        return getattr(self.architecture, "geometry", None)

    def output_shape(self, input_shape: Coordinate) -> Coordinate:
        return self.architecture.output_shape(input_shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.prediction_head(self.architecture(x))


def load_weights(architecture: Architecture, path: str | Path) -> Architecture:
    """Load weights from ``path`` into ``architecture``.

    A bare state dict loads into ``architecture`` itself, which is returned. A DaCapo run
    checkpoint returns an :class:`ArchitectureWithHead` (the network followed by the run's
    1×…×1 prediction head). If the weights do not fit, :class:`CheckpointError` names the
    missing and unexpected keys and the shape differences, and ``architecture`` is unchanged.
    """
    path = Path(path)
    state = read_checkpoint(path)
    if not is_run_checkpoint(state):
        _check_fits(architecture, state, path, "network")
        architecture.load_state_dict(state, strict=True)
        return architecture
    arch_state = _sub_dict(state, "architecture.")
    head_state = _sub_dict(state, "prediction_head.")
    _check_fits(architecture, arch_state, path, "network")
    weight = head_state.get("weight")
    if weight is None or weight.dim() != architecture.dims + 2 or any(s != 1 for s in weight.shape[2:]):
        raise CheckpointError(
            f"{path}: the prediction head is not a 1×…×1 convolution in {architecture.dims}D "
            f"(weight {None if weight is None else tuple(weight.shape)})"
        )
    conv = {2: torch.nn.Conv2d, 3: torch.nn.Conv3d}[architecture.dims]
    head = conv(weight.shape[1], weight.shape[0], (1,) * architecture.dims, bias="bias" in head_state)
    _check_fits(head, head_state, path, "prediction head")
    if weight.shape[1] != architecture.num_out_channels:
        raise CheckpointError(
            f"{path}: the prediction head reads {weight.shape[1]} channels, the network "
            f"writes {architecture.num_out_channels}"
        )
    architecture.load_state_dict(arch_state, strict=True)
    head.load_state_dict(head_state, strict=True)
    return ArchitectureWithHead(architecture, head).eval()


def save_weights(architecture: Architecture, path: str | Path) -> None:
    """Write ``architecture``'s bare state dict (loadable with ``weights_only=True``)."""
    torch.save(architecture.state_dict(), Path(path))
