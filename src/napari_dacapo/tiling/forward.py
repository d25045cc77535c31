"""The network on a device: set up for inference once, then batched forward passes."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from ..architectures import Architecture

__all__ = ["Forward", "TileInterrupted", "inference_memory_format", "interruptible", "is_out_of_memory", "on_device"]

log = logging.getLogger(__name__)


def is_out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` is torch running out of memory (CUDA's own error, or a RuntimeError
    that says so, as the CPU and MPS backends raise)."""
    return isinstance(error, torch.cuda.OutOfMemoryError) or "out of memory" in str(error).lower()


def inference_memory_format(device: torch.device, dims: int) -> torch.memory_format:
    """How tiles and weights are laid out in memory for the forward pass: channels last on
    the CPU, where oneDNN's convolutions run 1.3 to 1.9 times faster that way (measured in
    ``benchmarks/bench_predict.py``); torch's default elsewhere."""
    if device.type == "cpu":
        return {2: torch.channels_last, 3: torch.channels_last_3d}.get(dims, torch.contiguous_format)
    return torch.contiguous_format


@contextmanager
def on_device(architecture: Architecture, device: torch.device) -> Iterator[None]:
    """The network in eval mode on ``device`` (channels last on the CPU, activations in
    place), then back where and as it was. Nested uses change nothing, so a caller that
    predicts many images (or blocks) sets the network up once."""
    was_training = architecture.training
    parameters = next(architecture.parameters(), None)
    original_device = parameters.device if parameters is not None else None
    memory_format = inference_memory_format(device, architecture.dims)
    original_format = _parameters_format(architecture, memory_format)
    architecture.eval().to(device)
    if memory_format != original_format:
        architecture.to(memory_format=memory_format)
    switched = _activations_in_place(architecture)
    try:
        yield
    finally:
        for activation in switched:
            activation.inplace = False
        architecture.train(was_training)
        if memory_format != original_format:
            architecture.to(memory_format=original_format)
        if original_device is not None:
            architecture.to(original_device)


class TileInterrupted(Exception):
    """Raised inside a forward pass that was asked to stop (see :func:`interruptible`)."""


@contextmanager
def interruptible(
    architecture: Architecture, stop: Callable[[], bool], progress: Callable[[float], None] | None = None
) -> Iterator[Callable[[], None]]:
    """While inside, every layer of the network first checks ``stop()`` and raises
    :class:`TileInterrupted` when it is true, and reports to ``progress`` how far the
    forward pass has got (layers run / layers in the network, 0 to 1). Gives a function
    that starts the count again (call it before each forward pass)."""
    layers = [m for m in architecture.modules() if not list(m.children())]
    run = 0

    def check(_module: nn.Module, _inputs) -> None:
        nonlocal run
        if stop():
            raise TileInterrupted
        run += 1
        if progress is not None:
            progress(min(1.0, run / len(layers)))

    def restart() -> None:
        nonlocal run
        run = 0
        if progress is not None:
            progress(0.0)

    handles = [layer.register_forward_pre_hook(check) for layer in layers]
    try:
        yield restart
    finally:
        for handle in handles:
            handle.remove()


_MAKES_NEW_TENSORS = (nn.modules.conv._ConvNd, nn.modules.batchnorm._BatchNorm)


def _activations_in_place(architecture: Architecture) -> list[nn.Module]:
    """Let activations that directly follow a convolution or batch norm in a ``Sequential``
    overwrite its output, which nothing else reads (a ``Sequential`` hands each output only
    to the next module): the same values, without allocating and filling one more feature
    map per layer (about 20% of a CPU forward pass). Returns the modules switched."""
    switched = []
    for module in architecture.modules():
        if not isinstance(module, nn.Sequential):
            continue
        layers = list(module)
        for before, layer in itertools.pairwise(layers):
            if isinstance(before, _MAKES_NEW_TENSORS) and getattr(layer, "inplace", None) is False:
                layer.inplace = True
                switched.append(layer)
    return switched


def _parameters_format(architecture: Architecture, memory_format: torch.memory_format) -> torch.memory_format:
    """``memory_format`` if the network's convolution weights are laid out that way already
    (judged by the weights whose layouts differ: one input channel or 1×…×1 kernels fit both)."""
    telling = [
        p
        for p in architecture.parameters()
        if p.dim() in (4, 5) and p.is_contiguous() != p.is_contiguous(memory_format=memory_format)
    ]
    if telling and all(p.is_contiguous(memory_format=memory_format) for p in telling):
        return memory_format
    return torch.contiguous_format


class Forward:
    """One forward pass over a batch of tiles, on the network's device; float32 on the CPU.

    Tiles go in with the memory format of :func:`inference_memory_format`. A network that
    cannot run channels last (one that calls ``view`` on its feature maps, say) is put back to
    torch's default layout once, and the batch is run again.
    """

    def __init__(self, architecture: Architecture, device: torch.device, dtype: torch.dtype):
        self.architecture = architecture
        self.device = device
        self.dtype = dtype
        self.memory_format = inference_memory_format(device, architecture.dims)

    def __call__(self, tiles: list[np.ndarray]) -> torch.Tensor:
        x = torch.from_numpy(np.stack(tiles))
        if self.device.type == "cuda":
            x = x.pin_memory().to(self.device, non_blocking=True)
        else:
            x = x.to(self.device)
        try:
            return self._run(x.contiguous(memory_format=self.memory_format))
        except RuntimeError as error:
            if self.memory_format == torch.contiguous_format or is_out_of_memory(error):
                raise
            log.info("the network does not run channels last (%s); using the default layout", error)
            self.memory_format = torch.contiguous_format
            self.architecture.to(memory_format=torch.contiguous_format)
            return self._run(x.contiguous())

    def _run(self, x: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            if self.dtype != torch.float32:
                with torch.autocast(device_type=self.device.type, dtype=self.dtype):
                    y = self.architecture(x)
            else:
                y = self.architecture(x)
        return y.float().cpu()
