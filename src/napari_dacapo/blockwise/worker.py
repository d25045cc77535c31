"""The worker side of a blockwise run: predict the blocks the daisy scheduler hands out."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

from funlib.geometry import Roi

from ..tiling import PredictOptions, on_device, predict_tiles, resolve_device
from .prepared import OutputWriter, PreparedRun, prepare
from .spec import RunSpec


class BlockPredictor:
    """One worker's state: the network on its device, the input view and the output."""

    def __init__(self, run: PreparedRun, array: Any, device: str = "auto"):
        self.run = run
        self.out = OutputWriter(array, run.spec.value_range)
        self.device = resolve_device(device)
        self.options = PredictOptions(
            pad=run.spec.pad, device=self.device, batch_size=run.spec.batch_size, dtype=run.spec.precision
        )
        # set up on its device once per worker (the run owns the network), not once per block
        self._session = contextlib.ExitStack()
        self._session.enter_context(on_device(run.network, self.device))

    def __call__(self, write_roi: Roi) -> int:
        """Predict every tile of one block into the output; returns how many."""
        tiles = self.run.layout.tiles(write_roi)
        for _ in predict_tiles(
            self.run.network,
            self.run.image,
            self.run.plan,
            tiles,
            self.out,
            self.options,
        ):
            pass
        return len(tiles)


def serve(output: str, device: str = "auto", context: Any = None, threads: int | None = None) -> int:
    """The worker loop: open the run stored in ``output``'s attributes, then predict blocks
    from the daisy server (found through ``context`` or ``$DAISY_CONTEXT``) until none is
    left. Returns the number of blocks done."""
    import daisy.v2 as daisy
    import torch

    from ..io.zarr_outputs import open_output

    # Ctrl-C reaches the whole process group: a worker stops at once, without a traceback;
    # its unfinished block is not marked done and the next run redoes it
    signal.signal(signal.SIGINT, signal.SIG_DFL)

    if threads:
        torch.set_num_threads(threads)
    array = open_output(output)
    if array is None or "run" not in dict(array.attrs.get("napari_dacapo", {})):
        raise FileNotFoundError(f"{output}: no napari-dacapo run output here")
    spec = RunSpec.from_json(array.attrs["napari_dacapo"]["run"])
    predictor = BlockPredictor(prepare(spec), array, device)
    client = daisy.Client(context=context)
    count = 0
    while True:
        with client.acquire_block() as block:
            if block is None:
                return count
            predictor(block.write_roi)
            count += 1


@dataclass(frozen=True)
class WorkerSlot:
    """What daisy starts for each worker: a picklable function of the worker's context.

    Worker ``i`` uses ``devices[i % len(devices)]``. Without a ``launcher`` it serves blocks
    in the process daisy started; with one (e.g. ``("srun", "--gres=gpu:1")``) it runs
    ``launcher + [python, -m, napari_dacapo, worker, OUTPUT, --device, DEVICE]`` with the
    scheduler's address in ``$DAISY_CONTEXT``, so the worker can run on another machine.
    """

    output: str
    devices: tuple[str, ...] = ("auto",)
    launcher: tuple[str, ...] = ()
    threads: int | None = None

    def __call__(self, *, context) -> None:
        device = self.devices[int(context["worker_id"]) % len(self.devices)]
        if not self.launcher:
            serve(self.output, device, context, self.threads)
            return
        command = [*self.launcher, sys.executable, "-m", "napari_dacapo", "worker", self.output, "--device", device]
        if self.threads:
            command += ["--threads", str(self.threads)]
        env = {**os.environ, "DAISY_CONTEXT": context.to_env()}
        subprocess.run(command, env=env, check=True)
