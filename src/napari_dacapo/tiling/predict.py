"""Whole-image prediction, tile by tile: the engine behind the widgets and the command line."""

from __future__ import annotations

import itertools
import logging
import math
import queue
import threading
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from funlib.geometry import Coordinate
from torch import nn

from ..architectures import Architecture, ArchitectureConfig
from .blocks import TILE_GROWTH, Block, PredictionPlan, plan_prediction, smaller_plans
from .devices import free_memory, resolve_device
from .grid import NetworkGrid
from .reading import read_tile

log = logging.getLogger(__name__)

_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


class PredictionCancelled(RuntimeError):
    """Raised when ``should_stop`` asked to stop; finished tiles stay in ``out``."""

    def __init__(self, tiles_done: int, tiles_total: int):
        super().__init__(
            f"prediction cancelled after {tiles_done} of {tiles_total} tiles; the finished tiles are in the output"
        )
        self.tiles_done = tiles_done
        self.tiles_total = tiles_total


def check_image(architecture: Architecture, image: Any) -> bool:
    """Validate the image's axes against the network; return whether it has a channel axis."""
    shape = tuple(image.shape)
    dims, channels = architecture.dims, architecture.num_in_channels
    if 0 in shape:
        raise ValueError(f"the image is empty (shape {shape})")
    if channels == 1 and len(shape) == dims + 1 and shape[0] == 1:
        return True
    if channels == 1:
        if len(shape) != dims:
            raise ValueError(
                f"the network is {dims}D with one input channel: expected an image with {dims} axes, got shape {shape}"
            )
        return False
    if len(shape) != dims + 1:
        raise ValueError(
            f"the network is {dims}D with {channels} input channels: expected an image of "
            f"shape (channels, {', '.join('…' * dims)}), got shape {shape}"
        )
    if shape[0] != channels:
        raise ValueError(f"the network reads {channels} channels, the image has {shape[0]} (shape {shape})")
    return True


def _as_architecture(network: Architecture | ArchitectureConfig) -> Architecture:
    if isinstance(network, ArchitectureConfig):
        valid, reason = network.verify()
        if not valid:
            raise ValueError(f"config {network.name!r} does not verify: {reason}")
        return network.architecture_type(network)
    if not isinstance(network, Architecture):
        raise TypeError(f"expected an Architecture or ArchitectureConfig, got {type(network).__name__}")
    return network


def _tiles(
    image, blocks: list[Block], pad: str, channel_axis: bool, stop: threading.Event, prefetch: int
) -> Iterator[tuple[Block, np.ndarray]]:
    """Read tiles in a background thread, ``prefetch`` ahead of the consumer."""
    tiles: queue.Queue = queue.Queue(maxsize=max(1, prefetch))
    done = object()

    def reader():
        try:
            for block in blocks:
                if stop.is_set():
                    return
                tile = read_tile(image, block.read_roi, pad, channel_axis)
                if not np.isfinite(tile).all():
                    raise ValueError(
                        f"the image has NaN or infinite values in {block.read_roi} "
                        "(voxels outside the image are padding)"
                    )
                tiles.put((block, tile))
        except BaseException as error:  # handed to the consumer
            tiles.put(error)
        finally:
            tiles.put(done)

    thread = threading.Thread(target=reader, name="napari-dacapo-reader", daemon=True)
    thread.start()
    try:
        while True:
            item = tiles.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a reader waiting on a full queue
            try:
                tiles.get_nowait()
            except queue.Empty:
                thread.join(timeout=0.01)


def _is_out_of_memory(error: BaseException) -> bool:
    return isinstance(error, torch.cuda.OutOfMemoryError) or "out of memory" in str(error).lower()


def _grown_tile_fits(
    architecture: Architecture,
    plan: PredictionPlan,
    configured: Coordinate,
    device: torch.device,
    batch_size: int | str,
) -> bool:
    """Whether a tile that the planner grew past the configured one clearly fits in the free
    memory of ``device``: twice its estimated need, as the estimate leaves out the framework's
    own buffers. A CPU that runs out of memory is not an error to catch: the system kills the
    process, napari and all."""
    if all(t <= c for t, c in zip(plan.grid.tile_shape, configured, strict=True)):
        return True
    free = free_memory(device)
    if free is None:
        return False
    from ..summary import estimate_tile_memory

    tiles = batch_size if isinstance(batch_size, int) else 1
    return 2 * tiles * estimate_tile_memory(architecture, plan.grid.tile_shape) <= free


def _auto_batch_size(architecture: Architecture, device: torch.device, plan: PredictionPlan) -> int:
    if device.type != "cuda":
        return 1
    from ..summary import estimate_tile_memory

    free, _total = torch.cuda.mem_get_info(device)
    per_tile = estimate_tile_memory(architecture, plan.grid.tile_shape)
    return int(max(1, min(16, (0.6 * free) // max(per_tile, 1))))


def predict(
    architecture: Architecture | ArchitectureConfig,
    image: Any,
    *,
    pad: str = "reflect",
    use_eval_shape_increase: bool = True,
    device: str | torch.device = "auto",
    batch_size: int | str = "auto",
    dtype: str = "float32",
    out: Any = None,
    progress: Callable[[int, int], Any] | Any = None,
    should_stop: Callable[[], bool] | None = None,
    tile_shape: Coordinate | None = None,
    tile_growth: float = TILE_GROWTH,
    prefetch: int = 4,
) -> Any:
    """Predict ``architecture`` over ``image`` tile by tile; returns ``(channels, *spatial)``.

    - ``image``: numpy, dask or zarr array with the network's spatial dims, and a leading
      channel axis when the network reads more than one channel. Integer images are divided
      by their type's maximum (uint8 becomes [0, 1]); floats are used as they are.
    - ``pad``: ``"reflect"`` (default) or ``"zero"`` pad the image by the network's context so
      the output covers the whole image voxel for voxel; ``"valid"`` keeps only the voxels
      with full context: the output is smaller by the context, and output voxel ``i`` is the
      prediction for input voxel ``i + context // 2``. :func:`plan_prediction` gives the exact
      placement (``output_placement``) for any network, super-resolution ones included.
    - ``use_eval_shape_increase``: tiles of ``input_shape + eval_shape_increase`` (default) or
      of ``input_shape``; ``tile_shape`` overrides both. ``tile_growth``: how much (a fraction
      per axis) a tile may grow where that saves a row of tiles (see :func:`plan_prediction`).
      A tile that does not fit in memory is retried smaller (not an explicit ``tile_shape``).
    - ``device``: ``"auto"`` (cuda, then mps, then cpu) or a torch device.
    - ``batch_size``: tiles per forward pass; ``"auto"`` fits it to free GPU memory (1 on CPU).
    - ``dtype``: ``"float32"``, or ``"float16"``/``"bfloat16"`` autocast; the output is float32.
    - ``out``: an existing array (numpy, zarr) of the output's shape to fill.
    - ``progress``: ``progress(done, total)`` per tile, or a tqdm-like object with
      ``update``/``total``.
    - ``should_stop``: polled between batches; when it returns True, :class:`PredictionCancelled`
      is raised and ``out`` keeps every finished tile.

    With a valid-padding network the result equals one forward pass over the whole padded
    image; with a same-padding network, tiles overlap and their borders (the receptive field)
    are dropped, with the same result.
    """
    steps = predict_steps(
        architecture,
        image,
        pad=pad,
        use_eval_shape_increase=use_eval_shape_increase,
        device=device,
        batch_size=batch_size,
        dtype=dtype,
        out=out,
        tile_shape=tile_shape,
        tile_growth=tile_growth,
        prefetch=prefetch,
    )
    reporter, last = None, None
    while True:
        if last is not None and last.done < last.total and should_stop is not None and should_stop():
            steps.close()
            raise PredictionCancelled(last.done, last.total)
        try:
            last = next(steps)
        except StopIteration as finished:
            return finished.value
        if reporter is None:
            reporter = _Reporter(progress, last.total)
        reporter.advance(last)


@dataclass(frozen=True)
class Step:
    """Progress of a running prediction: ``done`` of ``total`` tiles (of ``tile_shape`` input
    voxels) are in the output."""

    done: int
    total: int
    tile_shape: tuple[int, ...] = ()


def predict_steps(
    architecture: Architecture | ArchitectureConfig,
    image: Any,
    *,
    pad: str = "reflect",
    use_eval_shape_increase: bool = True,
    device: str | torch.device = "auto",
    batch_size: int | str = "auto",
    dtype: str = "float32",
    out: Any = None,
    tile_shape: Coordinate | None = None,
    tile_growth: float = TILE_GROWTH,
    prefetch: int = 4,
) -> Generator[Step, None, Any]:
    """:func:`predict` as a generator: yields a :class:`Step` before the first tile and after
    every batch, and returns the filled output. Closing it stops the run between two batches;
    the finished tiles stay in ``out`` (this is how the napari worker cancels)."""
    architecture = _as_architecture(architecture)
    channel_axis = check_image(architecture, image)
    spatial = tuple(image.shape[1:] if channel_axis else image.shape)
    device = resolve_device(device)
    plans = plan_attempts(
        architecture, spatial, pad, use_eval_shape_increase, tile_shape, tile_growth, device, batch_size
    )
    plan = next(plans)
    out_shape = (architecture.num_out_channels, *plan.output_shape)
    if out is None:
        out = np.zeros(out_shape, dtype=np.float32)
    elif tuple(out.shape) != out_shape:
        raise ValueError(f"'out' has shape {tuple(out.shape)}, the prediction needs {out_shape}")

    while True:  # every plan writes the same output
        try:
            yield from predict_blocks(
                architecture,
                image,
                plan,
                plan.blocks,
                out,
                device=device,
                batch_size=batch_size,
                dtype=dtype,
                prefetch=prefetch,
            )
            return out
        except MemoryError as error:
            plan = next_smaller_plan(plans, error, architecture, tile_shape)


def plan_attempts(
    architecture: Architecture,
    spatial: Sequence[int],
    pad: str,
    use_eval_shape_increase: bool,
    tile_shape: Coordinate | None,
    tile_growth: float,
    device: torch.device,
    batch_size: int | str,
) -> Iterator[PredictionPlan]:
    """The plan to run first, then (while its tiles do not fit in memory) plans with ever
    smaller tiles. The first plan's tiles are grown only where the memory of ``device``
    clearly allows; an explicit ``tile_shape`` is the only plan."""
    plan = plan_prediction(architecture, spatial, pad, use_eval_shape_increase, tile_shape, tile_growth)
    if tile_shape is not None:
        yield plan
        return
    configured = NetworkGrid.from_architecture(architecture, use_eval_shape_increase).tile_shape
    if not _grown_tile_fits(architecture, plan, configured, device, batch_size):
        plan = plan_prediction(architecture, spatial, pad, use_eval_shape_increase, tile_growth=0)
    yield plan
    for smaller in smaller_plans(architecture, spatial, pad, use_eval_shape_increase):
        if math.prod(smaller.grid.tile_shape) < math.prod(plan.grid.tile_shape):
            plan = smaller
            yield plan


def next_smaller_plan(
    plans: Iterator[PredictionPlan], error: MemoryError, architecture: Architecture, tile_shape: Coordinate | None
) -> PredictionPlan:
    """The next plan of :func:`plan_attempts` after ``error``, or the error that nothing fits."""
    plan = next(plans, None)
    if plan is None and tile_shape is None:
        raise MemoryError(
            f"{error}, not even with tiles no larger than the training tile "
            f"{tuple(architecture.input_shape)}: free memory there, or predict on another device"
        ) from None
    if plan is None:
        raise error
    log.warning("%s; starting again with tiles of %s voxels", error, tuple(plan.grid.tile_shape))
    return plan


def predict_blocks(
    architecture: Architecture,
    image: Any,
    plan: PredictionPlan,
    blocks: Sequence[Block],
    out: Any,
    *,
    device: str | torch.device = "auto",
    batch_size: int | str = "auto",
    dtype: str = "float32",
    prefetch: int = 4,
) -> Generator[Step, None, None]:
    """Predict some ``blocks`` of ``plan`` into ``out`` (the whole output array): the step a
    blockwise worker runs for its share. Yields a :class:`Step` before the first tile and
    after every batch."""
    channel_axis = check_image(architecture, image)
    if dtype not in _DTYPES:
        raise ValueError(f"{dtype!r} is not a valid choice for 'dtype' (valid: {', '.join(_DTYPES)})")
    device = resolve_device(device)
    if batch_size == "auto":
        batch_size = _auto_batch_size(architecture, device, plan)
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer or 'auto', got {batch_size!r}")

    blocks = list(blocks)
    total = len(blocks)
    tile = tuple(plan.grid.tile_shape)
    yield Step(0, total, tile)
    with on_device(architecture, device):
        forward = _Forward(architecture, device, _DTYPES[dtype])
        stop = threading.Event()
        done = 0
        try:
            tiles = _tiles(image, blocks, plan.pad, channel_axis, stop, prefetch=max(prefetch, batch_size))
            pending: list[tuple[Block, np.ndarray]] = []
            exhausted = False
            while not exhausted or pending:
                while len(pending) < batch_size and not exhausted:
                    item = next(tiles, None)
                    if item is None:
                        exhausted = True
                    else:
                        pending.append(item)
                if not pending:
                    break
                batch = pending[:batch_size]
                try:
                    result = forward([t for _, t in batch])
                except (torch.cuda.OutOfMemoryError, RuntimeError) as error:
                    if not _is_out_of_memory(error):
                        raise
                    if device.type == "cuda":
                        torch.cuda.empty_cache()
                    if batch_size > 1:
                        batch_size //= 2
                        continue
                    raise MemoryError(
                        f"one tile of {tuple(plan.grid.tile_shape)} voxels does not fit in the memory of {device}"
                    ) from None
                for (block, _), y in zip(batch, result, strict=True):
                    _write(out, block, y)
                del pending[: len(batch)]
                done += len(batch)
                yield Step(done, total, tile)
        finally:
            stop.set()


def _write(out: Any, block: Block, y: torch.Tensor) -> None:
    """Put one tile's kept output into ``out``: a numpy array through a torch view, which
    copies from the channels-last layout with all threads; anything else (zarr, a writer)
    as numpy."""
    kept = y[(slice(None),) + block.crop_roi.to_slices()]
    target = (slice(None),) + block.write_roi.to_slices()
    if isinstance(out, np.ndarray) and out.dtype == np.float32 and out.flags.writeable:
        torch.from_numpy(out[target]).copy_(kept)
    else:
        out[target] = kept.numpy()


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


class _Forward:
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
            if self.memory_format == torch.contiguous_format or _is_out_of_memory(error):
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


class _Reporter:
    """Forwards steps to a ``progress(done, total)`` callback or a tqdm-like object.

    The total changes only when a run starts again with smaller tiles after running out of
    memory; a tqdm-like object is then reset to the new total."""

    def __init__(self, progress, total: int):
        self._progress = progress
        self._reported = 0
        self._total = total
        if hasattr(progress, "update"):  # tqdm and napari.utils.progress
            try:
                progress.total = total
            except AttributeError:
                pass

    def advance(self, step: Step) -> None:
        if self._progress is None:
            return
        if step.total != self._total:
            self._total, self._reported = step.total, 0
            if hasattr(self._progress, "reset"):
                self._progress.reset(total=step.total)
        if step.done == self._reported:
            return
        if hasattr(self._progress, "update"):
            self._progress.update(step.done - self._reported)
        else:
            self._progress(step.done, step.total)
        self._reported = step.done
