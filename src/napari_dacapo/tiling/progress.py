"""Progress of a run: the steps the engine yields, how they reach a callback or a progress
bar, and what a cancelled run raises."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Monitor", "PredictionCancelled", "Reporter", "Step"]


class PredictionCancelled(RuntimeError):
    """Raised when ``should_stop`` asked to stop; finished tiles stay in ``out``."""

    def __init__(self, tiles_done: int, tiles_total: int):
        super().__init__(
            f"prediction cancelled after {tiles_done} of {tiles_total} tiles; the finished tiles are in the output"
        )
        self.tiles_done = tiles_done
        self.tiles_total = tiles_total


@dataclass
class Monitor:
    """What a run shares with whoever watches it from another thread (the napari dock).

    Setting ``stop`` cancels the run even in the middle of a tile: every layer of the forward
    pass checks it first, so a cancel answers within one layer, not one tile.
    ``inside_tile`` is how far the forward pass of the current batch has got (0 to 1, by
    layers run), for progress that moves while a large tile runs.
    """

    stop: threading.Event = field(default_factory=threading.Event)
    inside_tile: float = 0.0


@dataclass(frozen=True)
class Step:
    """Progress of a running prediction: ``done`` of ``total`` tiles (of ``tile_shape`` input
    voxels) are in the output, computed in ``precision`` (``""`` before the first batch)."""

    done: int
    total: int
    tile_shape: tuple[int, ...] = ()
    precision: str = ""


class Reporter:
    """Forwards steps to a ``progress(done, total)`` callback or a tqdm-like object.

    The total changes only when a run starts again with smaller tiles after running out of
    memory; a tqdm-like object is then reset to the new total."""

    def __init__(self, progress: Any, total: int):
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
