"""The network on a device: set up for inference once, then batched forward passes."""

from __future__ import annotations

import contextlib
import functools
import itertools
import logging
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from ..architectures import Architecture
from .reading import raw_to_float32

__all__ = [
    "AUTOCAST_TOLERANCE",
    "Forward",
    "TileInterrupted",
    "inference_memory_format",
    "interruptible",
    "is_out_of_memory",
    "on_device",
]

AUTOCAST_TOLERANCE = {torch.bfloat16: 2e-2, torch.float16: 5e-3}
"""How far (a fraction of the float32 output's largest magnitude, at least 1) an autocast
output may be from the float32 one on the first batch; beyond it the run goes on in float32."""

log = logging.getLogger(__name__)

# verdicts of the autocast check, per network: {(device, dtype): ((weights' fingerprint,
# tolerance), why it fell back or None)} — a preview that runs one batch per view would otherwise pay a float32
# pass for every view
_verdicts: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _fingerprint(architecture: nn.Module) -> tuple[float, ...]:
    """A cheap summary of the network's weights and buffers (one sum each), which changes
    when weights are loaded or trained: a verdict holds only for the weights it was made on."""
    tensors = [t.detach() for t in itertools.chain(architecture.parameters(), architecture.buffers())]
    if not tensors:
        return ()
    with torch.no_grad():
        return tuple(torch.stack([t.double().sum().cpu() for t in tensors]).tolist())


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


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters
# what glibc's own dynamic thresholds grow to in a process that allocates large arrays (setting
# one by mallopt ends the dynamic adjustment, so after a run the process keeps these)
_GLIBC_DEFAULTS = {_M_TRIM_THRESHOLD: 64 << 20, _M_MMAP_THRESHOLD: 32 << 20}
_kept_heap = 0  # how many runs hold glibc's heap (nested runs set it up once)


@functools.cache
def _libc():
    """glibc, or None elsewhere (looked up once, without ``ctypes.util.find_library``, which
    runs ``ldconfig`` in a subprocess)."""
    import ctypes
    import platform

    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt, libc.malloc_trim  # noqa: B018  (both there, or not glibc after all)
    except (OSError, AttributeError):
        return None
    return libc


@contextmanager
def kept_heap() -> Iterator[None]:
    """While inside, glibc keeps freed memory for reuse instead of handing large blocks back
    to the system: every forward pass frees and allocates feature maps of hundreds of MB,
    and with glibc's defaults each is a fresh ``mmap`` whose pages fault in one by one (a
    third of the CPU time of a 164³ forward pass went to the kernel; measured 1.3× faster
    without). Afterwards the thresholds are those glibc's dynamic ones reach anyway and the
    kept memory is returned (``malloc_trim``). Elsewhere than Linux with glibc, nothing
    changes."""
    global _kept_heap
    libc = _libc()
    if libc is None:
        yield
        return
    if _kept_heap == 0:
        libc.mallopt(_M_MMAP_THRESHOLD, 1 << 30)
        libc.mallopt(_M_TRIM_THRESHOLD, 1 << 30)  # a C int: at most 2^31 - 1
    _kept_heap += 1
    try:
        yield
    finally:
        _kept_heap -= 1
        if _kept_heap == 0:
            for parameter, value in _GLIBC_DEFAULTS.items():
                libc.mallopt(parameter, value)
            libc.malloc_trim(0)


@contextmanager
def on_device(architecture: Architecture, device: torch.device) -> Iterator[None]:
    """The network in eval mode on ``device`` (channels last and a kept heap on the CPU,
    activations in place, cuDNN's benchmark mode on CUDA), then back where and as it was.
    Nested uses change nothing, so a caller that predicts many images (or blocks) sets the
    network up once."""
    was_training = architecture.training
    parameters = next(architecture.parameters(), None)
    original_device = parameters.device if parameters is not None else None
    memory_format = inference_memory_format(device, architecture.dims)
    original_format = _parameters_format(architecture, memory_format)
    architecture.eval().to(device)
    if memory_format != original_format:
        architecture.to(memory_format=memory_format)
    switched = _activations_in_place(architecture)
    benchmark = torch.backends.cudnn.benchmark
    if device.type == "cuda":  # one tile shape for the whole run: let cuDNN pick its fastest algorithms
        torch.backends.cudnn.benchmark = True
    try:
        with kept_heap() if device.type == "cpu" else contextlib.nullcontext():
            yield
    finally:
        torch.backends.cudnn.benchmark = benchmark
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
        self.fallback: str | None = None  # why an autocast dtype was given up, if it was
        self._checked = dtype == torch.float32
        self.memory_format = inference_memory_format(device, architecture.dims)
        self._pinned: dict[tuple, torch.Tensor] = {}
        if not self._checked:  # checked before for these weights: the same verdict
            self._key = (str(device), dtype)
            self._weights = (_fingerprint(architecture), AUTOCAST_TOLERANCE.get(dtype, 0.0))
            verdict = _verdicts.get(architecture, {}).get(self._key)
            if verdict is not None and verdict[0] == self._weights:
                self._checked, self.fallback = True, verdict[1]
                self.dtype = torch.float32 if self.fallback else dtype

    @property
    def precision(self) -> str:
        """The precision the batches run in (after the autocast check): ``"bfloat16"``, …"""
        return str(self.dtype).removeprefix("torch.")

    def __call__(self, tiles: list[np.ndarray], crops: list | None = None) -> list[torch.Tensor]:
        """The outputs of ``tiles`` (one batch), each cropped on the device to its ``crops``
        ROI (output voxels; None: all of it), as float32 CPU tensors."""
        x = self._upload(tiles)
        try:
            y = self._run(x.contiguous(memory_format=self.memory_format))
            if not self._checked:
                y = self._check_autocast(x, y)
        except RuntimeError as error:
            if self.memory_format == torch.contiguous_format or is_out_of_memory(error):
                raise
            log.info("the network does not run channels last (%s); using the default layout", error)
            self.memory_format = torch.contiguous_format
            self.architecture.to(memory_format=torch.contiguous_format)
            y = self._run(x.contiguous())
        crops = crops if crops is not None else [None] * len(tiles)
        kept = [y[i] if crop is None else y[i][(slice(None),) + crop.to_slices()] for i, crop in enumerate(crops)]
        return self._download(kept)

    def _check_autocast(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Keep the autocast dtype only if the first batch is within :data:`AUTOCAST_TOLERANCE`
        of float32; otherwise go on in float32 (and say why in ``fallback`` and the log)."""
        self._checked = True
        chosen, self.dtype = self.dtype, torch.float32
        exact = self._run(x.contiguous(memory_format=self.memory_format))
        scale = max(1.0, float(exact.abs().max()))
        error = float((y.float() - exact).abs().max()) / scale
        tolerance = AUTOCAST_TOLERANCE.get(chosen, 0.0)
        if error <= tolerance:
            self.dtype = chosen
        else:
            self.fallback = (
                f"{str(chosen).removeprefix('torch.')} autocast is {error:.2g} (of the output's scale) from "
                f"float32 on the first batch, over the tolerance {tolerance:g}: predicting in float32"
            )
            log.warning(self.fallback)
        verdicts = _verdicts.setdefault(self.architecture, {})
        verdicts[self._key] = (self._weights, self.fallback)
        return y if self.fallback is None else exact

    def _upload(self, tiles: list[np.ndarray]) -> torch.Tensor:
        """The batch on the device, as float32; on CUDA through a pinned buffer kept for the
        batch's shape and type (a fresh one per batch costs a page-locking allocation each
        time). Raw integer tiles (see :func:`~.reading.read_tile`) are converted on the device."""
        dtype = tiles[0].dtype
        if self.device.type != "cuda":
            x = torch.from_numpy(np.stack(tiles)).to(self.device)
        else:
            key = (len(tiles), *tiles[0].shape, dtype.str)
            buffer = self._pinned.get(key)
            if buffer is None:
                host = torch.from_numpy(np.empty(key[:-1], dtype=dtype))
                self._pinned = {key: host.pin_memory()}
                buffer = self._pinned[key]
            torch.cuda.current_stream(self.device).synchronize()  # the last copy out of it is done
            np.stack(tiles, out=buffer.numpy())
            x = buffer.to(self.device, non_blocking=True)
        return x if dtype == np.float32 else raw_to_float32(x, dtype)

    def _download(self, kept: list[torch.Tensor]) -> list[torch.Tensor]:
        """Cropped outputs to the CPU as float32: converted and cropped on the device, so only
        the kept voxels cross PCIe."""
        if self.device.type != "cuda":
            return [k.float() for k in kept]
        host = [torch.empty(k.shape, dtype=torch.float32, pin_memory=True) for k in kept]
        for target, source in zip(host, kept, strict=True):
            target.copy_(source.float(), non_blocking=True)
        torch.cuda.current_stream(self.device).synchronize()
        return host

    def _run(self, x: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            if self.dtype != torch.float32:
                with torch.autocast(device_type=self.device.type, dtype=self.dtype):
                    return self.architecture(x)
            return self.architecture(x)
