"""Blockwise prediction of zarr volumes with daisy: resumable, one process or many workers.

``run_blockwise(RunSpec.create(config=…, input=…, output=…), workers=2)`` predicts the input
into the output block by block; blocks are boxes of whole tiles of the in-process plan, so
the result equals :func:`napari_dacapo.predict` on the same input.
"""

from .driver import RunIncomplete, RunInterrupted, RunReport, run_blockwise, run_directory
from .layout import BlockLayout
from .prepared import OutputWriter, PreparedRun, dequantise, prepare
from .spec import RunSpec
from .worker import BlockPredictor, WorkerSlot, serve

__all__ = [
    "BlockLayout",
    "BlockPredictor",
    "OutputWriter",
    "PreparedRun",
    "RunIncomplete",
    "RunInterrupted",
    "RunReport",
    "RunSpec",
    "WorkerSlot",
    "dequantise",
    "prepare",
    "run_blockwise",
    "run_directory",
    "serve",
]
