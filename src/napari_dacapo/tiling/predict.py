"""Whole-image prediction, tile by tile: the engine behind the widgets and the command line.

The engine plans the tiles (:mod:`.tiles`, with :mod:`.memory` deciding what fits), reads
them ahead in a thread (:mod:`.reading`), runs the network in batches (:mod:`.forward`) and
writes each tile's kept output into the result; :mod:`.progress` says how far it got.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Generator, Sequence
from typing import Any

import numpy as np
import torch
from funlib.geometry import Coordinate

from ..architectures import Architecture, ArchitectureConfig, as_architecture
from .forward import Forward, TileInterrupted, inference_memory_format, interruptible, is_out_of_memory, on_device
from .inputs import check_image, model_input, spatial_shape
from .memory import auto_batch_size, next_smaller_plan, plan_attempts
from .options import TILE_GROWTH, PredictOptions, options_from
from .progress import Monitor, PredictionCancelled, Reporter, Step
from .reading import prefetched_tiles
from .tiles import PredictionPlan, Tile
from .writing import WriteBehind

__all__ = [
    "PredictOptions",
    "PredictionCancelled",
    "Step",
    "check_image",
    "inference_memory_format",
    "on_device",
    "predict",
    "predict_blocks",
    "predict_steps",
    "predict_tiles",
]


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
    write_behind: int = 2,
    raw_transfer: bool | str = "auto",
) -> Any:
    """Predict ``architecture`` over ``image`` tile by tile; returns ``(channels, *spatial)``.

    - ``image``: numpy, dask or zarr array with the network's spatial dims, and a leading
      channel axis when the network reads more than one channel. Integer images are divided
      by their type's maximum (uint8 becomes [0, 1]); floats are used as they are.
    - ``pad``: ``"reflect"`` (default) or ``"zero"`` pad the image by the network's context so
      the output covers the whole image voxel for voxel; ``"valid"`` keeps only the voxels
      with full context: the output is smaller by the context, and output voxel ``i`` is the
      prediction for input voxel ``i + context // 2``. :func:`plan_prediction` gives the exact
      placement (``placement()``) for any network, super-resolution ones included.
    - ``use_eval_shape_increase``: tiles of ``input_shape + eval_shape_increase`` (default) or
      of ``input_shape``; ``tile_shape`` overrides both. ``tile_growth``: how much (a fraction
      per axis) a tile may grow where that saves a row of tiles (see :func:`plan_prediction`).
      A tile that does not fit in memory is retried smaller (not an explicit ``tile_shape``).
    - ``device``: ``"auto"`` (cuda, then mps, then cpu) or a torch device.
    - ``batch_size``: tiles per forward pass; ``"auto"`` fits it to free GPU memory (1 on CPU).
    - ``dtype``: ``"float32"``, ``"float16"``/``"bfloat16"`` autocast, or ``"auto"`` (bfloat16
      where the device has it natively); an autocast dtype is kept only within
      ``AUTOCAST_TOLERANCE`` of float32 on the first batch. The output is float32.
    - ``out``: an existing array (numpy, zarr) of the output's shape to fill.
    - ``progress``: ``progress(done, total)`` per tile, or a tqdm-like object with
      ``update``/``total``.
    - ``prefetch``: tiles read ahead in a thread; ``write_behind``: tile outputs queued for a
      writer thread while the next tiles run (0: written in turn). ``raw_transfer``: integer
      tiles go to the device in their own type and are converted there (``"auto"``: on CUDA;
      uint8 EM crosses PCIe as uint8), with the same values.
    - ``should_stop``: polled between batches; when it returns True, :class:`PredictionCancelled`
      is raised and ``out`` keeps every finished tile.

    With a valid-padding network the result equals one forward pass over the whole padded
    image; with a same-padding network, tiles overlap and their borders (the receptive field)
    are dropped, with the same result. The options are those of :class:`PredictOptions`.
    """
    options = PredictOptions(
        pad=pad,
        use_eval_shape_increase=use_eval_shape_increase,
        device=device,
        batch_size=batch_size,
        dtype=dtype,
        tile_shape=tile_shape,
        tile_growth=tile_growth,
        prefetch=prefetch,
        write_behind=write_behind,
        raw_transfer=raw_transfer,
    )
    steps = predict_steps(architecture, image, options, out=out)
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
            reporter = Reporter(progress, last.total)
        reporter.advance(last)


def predict_steps(
    architecture: Architecture | ArchitectureConfig,
    image: Any,
    options: PredictOptions | None = None,
    *,
    out: Any = None,
    monitor: Monitor | None = None,
    **keywords: Any,
) -> Generator[Step, None, Any]:
    """:func:`predict` as a generator: yields a :class:`Step` before the first tile and after
    every batch, and returns the filled output. Closing it stops the run between two batches;
    the finished tiles stay in ``out``. A ``monitor`` whose ``stop`` is set stops the run
    inside a tile too (:class:`PredictionCancelled`); this is how the napari dock cancels.
    Options come as a :class:`PredictOptions`, as keywords, or both (keywords win)."""
    options = options_from(options, keywords)
    architecture = as_architecture(architecture)
    _channel_axis, spatial = spatial_shape(architecture, image)
    options = options.on(options.torch_device)
    plans = plan_attempts(architecture, spatial, options)
    plan = next(plans)
    out = _output(out, (architecture.num_out_channels, *plan.output_shape))
    while True:  # every plan writes the same output
        try:
            yield from predict_tiles(architecture, image, plan, plan.tiles, out, options, monitor=monitor)
            return out
        except MemoryError as error:
            plan = next_smaller_plan(plans, error, architecture, options.tile_shape)


def _output(out: Any, shape: tuple[int, ...]) -> Any:
    if out is None:
        return np.zeros(shape, dtype=np.float32)
    if tuple(out.shape) != shape:
        raise ValueError(f"'out' has shape {tuple(out.shape)}, the prediction needs {shape}")
    return out


def predict_tiles(
    architecture: Architecture,
    image: Any,
    plan: PredictionPlan,
    tiles: Sequence[Tile],
    out: Any,
    options: PredictOptions | None = None,
    *,
    monitor: Monitor | None = None,
    **keywords: Any,
) -> Generator[Step, None, None]:
    """Predict some ``tiles`` of ``plan`` into ``out`` (the whole output array): the step a
    blockwise worker runs for its share. Yields a :class:`Step` before the first tile and
    after every batch. A batch that runs out of memory is halved; one tile that does not
    fit raises ``MemoryError``. A ``monitor`` can stop the run inside a tile and sees how far
    each forward pass has got."""
    options = options_from(options, keywords)
    channel_axis = check_image(architecture, image)
    image = model_input(architecture, image)
    device = options.torch_device
    batch_size = auto_batch_size(architecture, device, plan) if options.batch_size == "auto" else options.batch_size
    tiles = list(tiles)
    total = len(tiles)
    tile_shape = tuple(plan.grid.tile_shape)
    yield Step(0, total, tile_shape)
    with on_device(architecture, device), contextlib.ExitStack() as watched:
        forward = Forward(architecture, device, options.torch_dtype)
        restart = None
        if monitor is not None:
            restart = watched.enter_context(
                interruptible(architecture, monitor.stop.is_set, lambda f: setattr(monitor, "inside_tile", f))
            )
        stop = threading.Event()
        writer = WriteBehind(out, options.write_behind)
        ready = None
        done = 0
        try:
            raw = options.raw_transfer is True or (options.raw_transfer == "auto" and device.type == "cuda")
            ready = prefetched_tiles(
                image, tiles, plan.pad, channel_axis, stop, prefetch=max(options.prefetch, batch_size), raw=raw
            )
            pending: list[tuple[Tile, np.ndarray]] = []
            exhausted = False
            while not exhausted or pending:
                while len(pending) < batch_size and not exhausted:
                    item = next(ready, None)
                    if item is None:
                        exhausted = True
                    else:
                        pending.append(item)
                if not pending:
                    break
                batch = pending[:batch_size]
                if restart is not None:
                    restart()
                try:
                    result = forward([voxels for _, voxels in batch], [tile.crop_roi for tile, _ in batch])
                except TileInterrupted:
                    writer.close()  # the finished tiles stay in the output
                    raise PredictionCancelled(done, total) from None
                except (torch.cuda.OutOfMemoryError, RuntimeError) as error:
                    if not is_out_of_memory(error):
                        raise
                    if device.type == "cuda":
                        torch.cuda.empty_cache()
                    if batch_size > 1:
                        batch_size //= 2
                        continue
                    raise MemoryError(
                        f"one tile of {tile_shape} voxels does not fit in the memory of {device}"
                    ) from None
                for (tile, _), kept in zip(batch, result, strict=True):
                    writer.put(tile, kept)
                del pending[: len(batch)]
                done += len(batch)
                yield Step(done, total, tile_shape, forward.precision)
            writer.close()  # every tile written before the run counts as done
        finally:
            stop.set()
            if ready is not None:
                ready.close()  # ends the reader thread now, not when the generator is collected
            writer.close_quietly()


predict_blocks = predict_tiles  # its name before tiles and blocks were told apart
