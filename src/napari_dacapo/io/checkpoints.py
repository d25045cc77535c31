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
import stat
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


def _label(path: Path) -> str:
    text = str(path)
    return text if text.isprintable() else repr(text)[1:-1]


def _one_line(text: str, limit: int = 160) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _check_file(path: Path, label: str) -> None:
    """Refuse, with one line, what is not a non-empty regular file."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise CheckpointError(f"{label}: no such file") from None
    except OSError as error:
        raise CheckpointError(f"{label}: cannot read ({error.strerror or type(error).__name__})") from None
    except ValueError:  # a NUL in the path
        raise CheckpointError(f"{label}: cannot read (not a valid path)") from None
    if stat.S_ISDIR(info.st_mode):
        raise CheckpointError(
            f"{label}: is a directory, not a weights file (a DaCapo run keeps them in checkpoints/iterations/<N>)"
        )
    if not stat.S_ISREG(info.st_mode):
        raise CheckpointError(f"{label}: not a regular file but a device, pipe or socket")
    if info.st_size == 0:
        raise CheckpointError(f"{label}: the file is empty (0 bytes), not a torch checkpoint")


_ZIP = b"PK\x03\x04"
_PICKLE = tuple(b"\x80" + bytes([protocol]) for protocol in range(2, 6))


def _head(path: Path, size: int = 256) -> bytes:
    try:
        with path.open("rb") as file:
            return file.read(size)
    except OSError:
        return b""


def _as_text(head: bytes) -> str | None:
    """``head`` as text if it is UTF-8 (its last character may be cut) without control characters."""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start < len(head) - 3:
            return None
        text = head[: error.start].decode("utf-8")
    return text if all(c.isprintable() or c in "\t\r\n" for c in text) else None


def _what_it_is(head: bytes, path: Path) -> str:
    """What a file torch cannot read looks like, from its first bytes."""
    if head.startswith(_ZIP):
        return "a zip archive torch cannot read (truncated, damaged, or not written by torch.save)"
    if head.startswith(_PICKLE):
        return "pickled data torch cannot read (truncated or damaged)"
    text = _as_text(head)
    if text is None:
        return f"binary data starting with bytes {head[:8].hex(' ')}"
    first = next((line for line in text.splitlines() if line.strip()), "")
    hint = ""
    if path.suffix.lower() in (".yaml", ".yml", ".json"):
        hint = " (a config file? pass it as the config, not as the weights)"
    return f"a text file starting {_one_line(repr(first), 50)}{hint}"


_TORCH_BOILERPLATE = ("Weights only load failed", "Please file an issue", "Check the documentation")


def _torch_reason(error: BaseException) -> str:
    """The telling part of a ``torch.load`` error, on one short line (not its advice on
    ``weights_only=False``, which would run pickled code)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    telling = [line for line in lines if not line.startswith(_TORCH_BOILERPLATE)]
    text = " ".join(telling or lines[:1]).removeprefix("WeightsUnpickler error:").strip()
    if isinstance(error, KeyError | EOFError) or not text:
        text = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return _one_line(text)


def read_checkpoint(path: str | Path) -> dict[str, torch.Tensor]:
    """The model state dict stored in ``path`` (a run checkpoint or a bare state dict).

    Anything else (a directory, an empty, text, truncated or foreign file, a pickle that holds
    more than tensors) raises :class:`CheckpointError` with one line that names the file.
    """
    path = Path(path)
    label = _label(path)
    _check_file(path, label)
    try:
        with torch.serialization.safe_globals([(Weights, _WEIGHTS_QUALNAME)]):
            content = torch.load(path, map_location="cpu", weights_only=True)
    except OSError as error:
        raise CheckpointError(f"{label}: cannot read ({error.strerror or type(error).__name__})") from None
    except Exception as error:  # not a torch file at all, truncated, code in the pickle, ...
        head = _head(path)
        reason = _torch_reason(error)
        if isinstance(error, pickle.UnpicklingError) and head.startswith((_ZIP, *_PICKLE)):
            raise CheckpointError(
                f"{label}: refused: the file holds more than tensors and DaCapo's Weights "
                f"({reason}). Only weights are loaded; pickled code is never run."
            ) from None
        what = _what_it_is(head, path)
        detail = f" ({reason})" if head.startswith((_ZIP, *_PICKLE)) else ""  # torch's reason says nothing more
        raise CheckpointError(f"{label}: not a readable torch checkpoint: {what}{detail}") from None
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
            f"{label}: expected a state dict (names to tensors), a DaCapo Weights object or "
            f"a dict with 'model'; found {type(content).__name__}"
        )
    return dict(state)


def run_layout(state: Mapping[str, torch.Tensor]) -> str | None:
    """Which DaCapo ``Model`` layout ``state`` has: ``"0.3.5"`` (``architecture.*`` and
    ``prediction_head.*``, duplicated under ``chain.*``), ``"main"`` (DaCapo's main branch:
    only ``chain.0.*``, the U-Net module itself, and ``chain.1.*``, the head), ``"chain"``
    (a 0.3.5 ``Model.chain`` state dict, as a pretrained task's weights file holds: ``0.unet.*``
    and ``1.*``), ``"chain-main"`` (main's: ``0.*`` and ``1.*``), or None for a bare network.
    DaCapo main still writes the head twice (``prediction_head.*`` and ``chain.1.*``)."""
    keys = list(state)
    if any(k.startswith("architecture.") for k in keys) and any(k.startswith("prediction_head.") for k in keys):
        return "0.3.5"
    if any(k.startswith("chain.0.") for k in keys) and any(k.startswith("chain.1.") for k in keys):
        return "0.3.5" if any(k.startswith("chain.0.unet.") for k in keys) else "main"
    if any(k.startswith("0.") for k in keys) and any(k.startswith("1.") for k in keys):
        return "chain" if any(k.startswith("0.unet.") for k in keys) else "chain-main"
    return None


def is_run_checkpoint(state: Mapping[str, torch.Tensor]) -> bool:
    """Whether ``state`` is a DaCapo ``Model`` (architecture + prediction head), in any layout."""
    return run_layout(state) is not None


def split_run_state(state: Mapping[str, torch.Tensor]) -> tuple[dict, dict, str]:
    """A run model's state as (the architecture's state dict, the head's, the layout).

    The architecture's keys are those of :class:`~napari_dacapo.architectures.CNNectomeUNet`
    (``unet.*``). DaCapo main's ``chain.0.X`` is the U-Net module's own ``X``, so it maps to
    ``unet.X`` (with ``upsample_factors``, main's ``chain.0.0.x`` is 0.3.5's
    ``chain.0.unet.0.x``: the same rule).
    """
    layout = run_layout(state)
    if layout is None:
        raise ValueError("not a DaCapo run checkpoint")
    if layout == "0.3.5" and any(k.startswith("architecture.") for k in state):
        return _sub_dict(state, "architecture."), _sub_dict(state, "prediction_head."), layout
    if layout == "0.3.5":
        return _sub_dict(state, "chain.0."), _sub_dict(state, "chain.1."), layout
    if layout == "main":
        return {"unet." + k: v for k, v in _sub_dict(state, "chain.0.").items()}, _sub_dict(state, "chain.1."), layout
    if layout == "chain-main":
        return {"unet." + k: v for k, v in _sub_dict(state, "0.").items()}, _sub_dict(state, "1."), layout
    return _sub_dict(state, "0."), _sub_dict(state, "1."), layout


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
    raise CheckpointError(f"{_label(path)}: does not fit the {what}: " + "; ".join(parts))


class ArchitectureWithHead(Architecture):
    """A DaCapo run's model: an architecture followed by its prediction head (a convolution
    without padding, 1×…×1 or larger) and, when given, the task's evaluation activation."""

    def __init__(
        self,
        architecture: Architecture,
        prediction_head: torch.nn.Module,
        eval_activation: torch.nn.Module | None = None,
    ):
        super().__init__()
        self.architecture = architecture
        self.prediction_head = prediction_head
        self.eval_activation = eval_activation
        self.checkpoint_layout: str | None = None  # set by load_weights: "0.3.5", "main", …

    @property
    def head_kernel(self) -> Coordinate:
        return Coordinate(getattr(self.prediction_head, "kernel_size", (1,) * self.architecture.dims))

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
        geometry = getattr(self.architecture, "geometry", None)
        return geometry.with_head(self.head_kernel) if hasattr(geometry, "with_head") else geometry

    def output_shape(self, input_shape: Coordinate) -> Coordinate:
        return self.architecture.output_shape(input_shape) - (self.head_kernel - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.prediction_head(self.architecture(x))
        if self.eval_activation is not None and not self.training:
            y = self.eval_activation(y)
        return y


def load_weights(
    architecture: Architecture,
    path: str | Path,
    *,
    head_channels: int | None = None,
    head_kernel: int | None = None,
    eval_activation: torch.nn.Module | None = None,
) -> Architecture:
    """Load weights from ``path`` into ``architecture``.

    A bare state dict loads into ``architecture`` itself, which is returned. A DaCapo run
    checkpoint (dacapo-ml 0.3.5's layout or DaCapo main's, see :func:`split_run_state`)
    returns an :class:`ArchitectureWithHead`: the network followed by the run's prediction
    head, and ``eval_activation`` when given. ``head_channels``/``head_kernel``, when given,
    are what the run's task expects of the head. If the weights do not fit,
    :class:`CheckpointError` names the missing and unexpected keys and the shape differences,
    and ``architecture`` is unchanged.
    """
    path = Path(path)
    state = read_checkpoint(path)
    if not is_run_checkpoint(state):
        if head_channels is not None:
            raise CheckpointError(f"{_label(path)}: a bare network's weights, not a DaCapo run checkpoint (no head)")
        _check_fits(architecture, state, path, "network")
        architecture.load_state_dict(state, strict=True)
        return architecture
    arch_state, head_state, layout = split_run_state(state)
    _check_fits(architecture, arch_state, path, f"network (checkpoint layout {layout})")
    weight = head_state.get("weight")
    dims = architecture.dims
    if weight is None or weight.dim() != dims + 2 or len(set(weight.shape[2:])) != 1 or weight.shape[2] % 2 == 0:
        raise CheckpointError(
            f"{_label(path)}: the prediction head is not a {dims}D convolution with an odd cubic kernel "
            f"(weight {None if weight is None else tuple(weight.shape)})"
        )
    kernel = int(weight.shape[2])
    if head_channels is not None and (int(weight.shape[0]), kernel) != (head_channels, head_kernel or 1):
        raise CheckpointError(
            f"{_label(path)}: the checkpoint's head writes {int(weight.shape[0])} channels with a kernel of "
            f"{kernel}; the run's task expects {head_channels} with a kernel of {head_kernel or 1} "
            "(a checkpoint of another run or task?)"
        )
    conv = {2: torch.nn.Conv2d, 3: torch.nn.Conv3d}[dims]
    head = conv(weight.shape[1], weight.shape[0], (kernel,) * dims, bias="bias" in head_state)
    _check_fits(head, head_state, path, "prediction head")
    if weight.shape[1] != architecture.num_out_channels:
        raise CheckpointError(
            f"{_label(path)}: the prediction head reads {weight.shape[1]} channels, the network "
            f"writes {architecture.num_out_channels}"
        )
    architecture.load_state_dict(arch_state, strict=True)
    head.load_state_dict(head_state, strict=True)
    model = ArchitectureWithHead(architecture, head, eval_activation).eval()
    model.checkpoint_layout = layout
    return model


def save_weights(architecture: Architecture, path: str | Path) -> None:
    """Write ``architecture``'s bare state dict (loadable with ``weights_only=True``)."""
    torch.save(architecture.state_dict(), Path(path))
