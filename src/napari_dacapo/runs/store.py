"""Where a DaCapo run lives in a file store (dacapo-ml 0.3.5's ``FileConfigStore`` and
``LocalWeightsStore`` under one ``runs_base_dir``)::

    BASE/configs/runs/RUN.yaml                    the run config (task, architecture, … nested)
    BASE/RUN/checkpoints/iterations/N             a checkpoint per saved iteration N
    BASE/RUN/checkpoints/DATASET/CRITERION.json   {"iteration": N}: the best for a criterion

A run is named by the store folder and its name, by its config file, or by its own folder.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .errors import RunError

__all__ = ["BestCheckpoint", "RunFiles", "locate_run", "run_names"]

_CONFIG_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class BestCheckpoint:
    """The iteration DaCapo's validation found best for one dataset and criterion."""

    dataset: str
    criterion: str
    iteration: int


@dataclass(frozen=True)
class RunFiles:
    """The files of one run: its config and its checkpoints folder (which may not exist)."""

    name: str
    config_path: Path
    checkpoints: Path

    @property
    def base(self) -> Path:
        """The store's ``runs_base_dir``."""
        return self.checkpoints.parent.parent

    def iterations(self) -> tuple[int, ...]:
        """The saved iterations, ascending."""
        folder = self.checkpoints / "iterations"
        if not folder.is_dir():
            return ()
        return tuple(sorted(int(p.name) for p in folder.iterdir() if p.name.isdigit() and p.is_file()))

    def checkpoint(self, iteration: int) -> Path:
        return self.checkpoints / "iterations" / str(iteration)

    def best(self) -> tuple[BestCheckpoint, ...]:
        """The best iterations that DaCapo's validation recorded (``DATASET/CRITERION.json``)."""
        found = []
        if not self.checkpoints.is_dir():
            return ()
        for dataset in sorted(p for p in self.checkpoints.iterdir() if p.is_dir() and p.name != "iterations"):
            for record in sorted(dataset.glob("*.json")):
                try:
                    iteration = json.loads(record.read_text(encoding="utf-8"))["iteration"]
                except (OSError, ValueError, KeyError, TypeError):
                    continue
                if isinstance(iteration, int) and not isinstance(iteration, bool):
                    found.append(BestCheckpoint(dataset.name, record.stem, iteration))
        return tuple(found)

    def resolve_iteration(self, iteration: int | str | None) -> int:
        """``None``/``"latest"``: the latest saved iteration; ``"best"``: the best one that
        DaCapo's weights store recorded; a number: that iteration, if it was saved."""
        saved = self.iterations()
        if not saved:
            raise RunError(f"run {self.name!r} has no checkpoints (looked in {self.checkpoints / 'iterations'})")
        if iteration in (None, "latest"):
            return saved[-1]
        if iteration == "best":
            best = self.best()
            if not best:
                raise RunError(f"run {self.name!r} has no best checkpoint recorded by validation")
            if len({b.iteration for b in best}) > 1:
                choices = ", ".join(f"{b.dataset}/{b.criterion}: {b.iteration}" for b in best)
                raise RunError(f"run {self.name!r} has several best iterations ({choices}): choose one by number")
            return best[0].iteration
        try:
            number = int(iteration)
        except (TypeError, ValueError):
            raise RunError(f"iteration {iteration!r}: expected a number, 'latest' or 'best'") from None
        if number not in saved:
            raise RunError(f"run {self.name!r} has no checkpoint for iteration {number} (saved: {_listing(saved)})")
        return number


def _listing(values: tuple[int, ...]) -> str:
    shown = ", ".join(map(str, values[-12:]))
    return ("…, " if len(values) > 12 else "") + shown


def run_names(base: Path) -> tuple[str, ...]:
    """The runs whose configs a file store at ``base`` holds."""
    folder = Path(base) / "configs" / "runs"
    if not folder.is_dir():
        return ()
    return tuple(sorted(p.stem for p in folder.iterdir() if p.suffix in _CONFIG_SUFFIXES and p.is_file()))


def _in_store(base: Path, name: str) -> RunFiles:
    for suffix in _CONFIG_SUFFIXES:
        path = base / "configs" / "runs" / f"{name}{suffix}"
        if path.is_file():
            return RunFiles(name, path, base / name / "checkpoints")
    known = run_names(base)
    raise RunError(f"{base}: no run {name!r} (runs: {', '.join(known) or 'none'})")


def locate_run(source: str | Path, name: str | None = None) -> RunFiles:
    """A run's files from a store folder and a run name (the name may be left out when the
    store holds one run), a run config file, or the run's own folder (``BASE/RUN``)."""
    path = Path(source).expanduser()
    if path.is_file():
        if path.suffix not in _CONFIG_SUFFIXES:
            raise RunError(f"{path}: not a run config (expected .yaml, .yml or .json)")
        run = name or path.stem
        store = path.parent.parent.parent if path.parent.parent.name == "configs" else path.parent
        return RunFiles(run, path, store / run / "checkpoints")
    if not path.is_dir():
        raise RunError(f"{path}: no such run, store or run config")
    if (path / "configs" / "runs").is_dir():
        if name is None:
            known = run_names(path)
            if len(known) != 1:
                raise RunError(f"{path}: a store of {len(known)} runs; name one ({', '.join(known) or 'none'})")
            name = known[0]
        return _in_store(path, name)
    if (path / "checkpoints").is_dir() and (path.parent / "configs" / "runs").is_dir():
        if name not in (None, path.name):
            raise RunError(f"{path}: the folder of run {path.name!r}, not {name!r}")
        return _in_store(path.parent, path.name)
    raise RunError(f"{path}: not a DaCapo file store (no configs/runs/), run folder (no checkpoints/) or run config")
