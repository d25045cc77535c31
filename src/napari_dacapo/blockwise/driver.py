"""The driver of a blockwise run: create (or resume) the output, hand its blocks to daisy
workers, and mark the output complete once every block is done."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from funlib.geometry import Roi

from ..io.zarr_arrays import split_dataset
from ..io.zarr_outputs import LEVEL, create_output, mark_complete, open_output
from .prepared import PreparedRun, prepare
from .spec import RunSpec
from .worker import BlockPredictor, WorkerSlot

TASK_ID = "predict"


class RunIncomplete(RuntimeError):
    """Some blocks are not done (failed, or the run was interrupted); the done ones are kept
    and a second run with the same arguments does only the others."""


class RunInterrupted(RunIncomplete):
    """Ctrl-C: the workers stopped; the done blocks are kept."""


@dataclass(frozen=True)
class RunReport:
    output: str
    shape: tuple[int, ...]
    voxel_size: tuple[float, ...]
    offset: tuple[float, ...]
    blocks: int
    done_before: int  # blocks a previous run had finished
    resumed: bool


def run_directory(output: str) -> Path:
    """Where a run keeps its block tracking and worker logs: inside the output's level array
    folder (where zarr does not look for members), so ``--overwrite`` (which replaces the
    image) starts afresh."""
    container, path = split_dataset(output)
    return container / path / LEVEL / ".napari-dacapo"


def open_or_create_output(run: PreparedRun, overwrite: bool) -> tuple[Any, bool]:
    """The output array, and whether it is resumed from an earlier run of the same spec."""
    spec = run.spec
    existing = open_output(spec.output)
    if existing is not None and not overwrite:
        state = dict(existing.attrs.get("napari_dacapo", {}))
        earlier = state.get("run")
        if (
            earlier is not None
            and RunSpec.from_json(earlier).identity() == spec.identity()
            and tuple(existing.shape) == run.output_shape
            and tuple(existing.chunks) == (1, *run.layout.chunk_shape)
        ):
            return existing, True
        raise FileExistsError(
            f"{spec.output} exists and is not the output of this same run: pass --overwrite to replace it"
        )
    voxel_size, offset = run.output_placement
    array = create_output(
        spec.output,
        run.output_shape,
        (1, *run.layout.chunk_shape),
        voxel_size,
        offset,
        run.axis_names,
        overwrite=True,
        dtype=spec.dtype,
        units=run.source.units,
        run=spec.to_json(),
        **({"value_range": list(spec.value_range)} if spec.dtype == "uint8" else {}),
    )
    return array, False


def run_blockwise(
    spec: RunSpec,
    *,
    workers: int = 1,
    devices: tuple[str, ...] = ("auto",),
    launcher: tuple[str, ...] = (),
    overwrite: bool = False,
    progress: bool = True,
    block_timeout: float = 3600.0,
    host: str | None = None,
) -> RunReport:
    """Predict ``spec.input`` into ``spec.output`` block by block.

    One worker without a launcher runs in this process; otherwise daisy starts ``workers``
    worker processes (each with ``devices[i % len(devices)]``, through ``launcher`` if
    given). Blocks done by an earlier, interrupted run of the same spec are skipped. Raises
    :class:`RunIncomplete` when a block could not be done, or on Ctrl-C.
    """
    import daisy.v2 as daisy
    import torch
    from daisy import logging as daisy_logging

    if workers < 1:
        raise ValueError(f"--workers {workers}: need at least one worker")
    run = prepare(spec)
    array, resumed = open_or_create_output(run, overwrite)
    folder = run_directory(spec.output)
    daisy_logging.set_log_basedir(folder / "logs")
    write = Roi((0,) * run.plan.grid.dims, run.layout.block_write)
    in_process = workers == 1 and not launcher
    if in_process:
        predictor = BlockPredictor(run, array, devices[0])

        def process(block) -> None:
            predictor(block.write_roi)

    else:
        # every worker runs the forward pass with this process's thread count: oneDNN's sums
        # depend on it, and so a run's voxels would depend on how many workers shared the
        # cores (a quarter of the voxels differed, by <= 2.4e-7). CPU workers on one machine
        # then oversubscribe its cores; see the README's worker benchmark for the cost.
        threads = torch.get_num_threads()
        process = WorkerSlot(str(spec.output), tuple(devices), tuple(launcher), threads)
    task = daisy.Task(
        TASK_ID,
        total_roi=run.layout.total_roi,
        read_roi=write,
        write_roi=write,
        process_function=process,
        read_write_conflict=False,
        fit="shrink",
        max_workers=workers,
        max_retries=2,
        timeout=block_timeout,
        tracking_path=str(folder / "blocks"),
    )
    handler = _log_to_file(folder / "logs" / "daisy.log")
    try:
        with _native_stderr_to(folder / "logs" / "daisy.log", enabled=not in_process):
            states = daisy.run_blockwise(
                task,
                multiprocessing=not in_process,
                progress=progress,
                return_states=True,
                summary=False,
                host=host if host is not None else (None if launcher else "127.0.0.1"),
            )
    except KeyboardInterrupt:
        raise RunInterrupted(
            f"interrupted: {_done_count(folder)} of {run.layout.num_blocks} blocks are done and kept; "
            "run the same command again to finish the others"
        ) from None
    except RuntimeError as error:  # daisy gave up on the task (worker restart cap)
        raise RunIncomplete(f"the workers failed: {_first_line(error)}; see {folder / 'logs'}") from None
    finally:
        logging.getLogger("daisy").removeHandler(handler)
        handler.close()
    state = states[TASK_ID]
    if state.completed_count != state.total_block_count:
        reason = state.last_worker_error or "see the worker logs"
        raise RunIncomplete(
            f"{state.total_block_count - state.completed_count} of {state.total_block_count} blocks failed "
            f"({_first_line(reason)}); the done blocks are kept: run the same command again to retry"
        )
    mark_complete(array, blocks=state.total_block_count)
    voxel_size, offset = run.output_placement
    return RunReport(
        str(spec.output),
        run.output_shape,
        voxel_size,
        offset,
        state.total_block_count,
        state.skipped_count,
        resumed,
    )


def _log_to_file(path: Path) -> logging.Handler:
    """daisy's own warnings (a worker that died and was restarted, …) go to the run's log
    folder instead of the terminal; failures that matter reach the user as RunIncomplete."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logging.getLogger("daisy").addHandler(handler)
    return handler


@contextmanager
def _native_stderr_to(path: Path, enabled: bool = True) -> Iterator[None]:
    """Send what daisy's native scheduler prints to file descriptor 2 (its warnings when a
    worker dies or on Ctrl-C) to ``path``; Python's ``sys.stderr`` (the progress bar, our
    messages) keeps writing to the terminal."""
    if not enabled:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    python_stderr = sys.stderr
    terminal = os.fdopen(os.dup(saved), "w", buffering=1, encoding=getattr(python_stderr, "encoding", None))
    with open(path, "ab") as log:
        os.dup2(log.fileno(), 2)
    sys.stderr = terminal
    try:
        yield
    finally:
        sys.stderr = python_stderr
        terminal.close()
        os.dup2(saved, 2)
        os.close(saved)


def _first_line(error: Any) -> str:
    lines = [line for line in str(error).splitlines() if line.strip()]
    return lines[-1].strip() if lines else type(error).__name__


def _done_count(folder: Path) -> int | str:
    """Blocks marked done in daisy's tracking store (a zarr array of done flags)."""
    try:
        import numpy as np
        import zarr

        done = zarr.open_array(store=str(folder / "blocks" / "done"), mode="r")
        return int(np.count_nonzero(done[...]))
    except Exception:
        return "some"
