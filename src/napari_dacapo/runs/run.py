"""Open a DaCapo run: its config (task, architecture, datasplit) and a checkpoint, as one
model that predicts what DaCapo's ``Model`` predicts in eval mode."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import RunError
from .normalisation import NORMALISATIONS, Normalisation, raw_normalisation
from .store import BestCheckpoint, RunFiles, locate_run
from .tasks import TaskSpec, task_spec

if TYPE_CHECKING:
    from ..architectures import ArchitectureConfig
    from .model import RunModel

__all__ = ["DacapoRun", "is_run_source", "open_run"]


@dataclass(frozen=True)
class DacapoRun:
    """A run's configs and files; :meth:`model` loads one of its checkpoints."""

    files: RunFiles
    document: dict
    architecture_config: ArchitectureConfig
    task: TaskSpec
    normalisation: Normalisation | None
    normalisation_problem: str | None = None

    @property
    def name(self) -> str:
        return self.files.name

    def iterations(self) -> tuple[int, ...]:
        return self.files.iterations()

    def best(self) -> tuple[BestCheckpoint, ...]:
        return self.files.best()

    def input_normalisation(self, choice: str = "datasplit") -> Normalisation:
        """``"datasplit"``: what the run trained on; ``"dtype"``: the type's maximum
        (``dacapo.predict``'s choice)."""
        if choice not in NORMALISATIONS:
            raise RunError(f"normalisation {choice!r}: choose {' or '.join(NORMALISATIONS)}")
        if choice == "dtype":
            return Normalisation(source="chosen: the image type's maximum, as dacapo.predict")
        if self.normalisation is None:
            raise RunError(f"run {self.name!r}: {self.normalisation_problem}")
        return self.normalisation

    def default_criterion(self) -> str:
        """What "best" means without a criterion: VOI for affinities, the first channel's Dice
        for distances, DaCapo's dummy score otherwise."""
        from .validation import criteria

        kind = self.task.type_name
        if kind == "AffinitiesTaskConfig":
            return "voi"
        if kind.endswith("DistanceTaskConfig"):
            return f"{self.task.channels[0]}__dice"
        return criteria(self.task)[0][0]

    def best_iteration(self, criterion: str | None = None) -> int:
        """The best iteration: by DaCapo's validation scores for ``criterion`` (default
        :meth:`default_criterion`), else the best checkpoint its weights store recorded."""
        from .validation import read_validation_scores

        scores = read_validation_scores(self.files.base, self.name, self.task)
        if scores is not None and scores.iterations:
            return scores.best(criterion or self.default_criterion())[0]
        if criterion is not None:
            raise RunError(f"run {self.name!r} has no validation scores (looked in {self.files.base / 'stats'})")
        return self.files.resolve_iteration("best")

    def best_summary(self) -> str | None:
        """ "N (by CRITERION)" for the default best iteration, or None when nothing says."""
        try:
            number = self.best_iteration()
        except RunError:
            return None
        scores_file = self.files.base / "stats" / "validation_scores" / self.name
        return f"{number} (by {self.default_criterion() if scores_file.is_file() else 'the recorded best checkpoint'})"

    def checkpoint_path(self, iteration: int | str | None = None) -> tuple[int | None, Path | None]:
        """The iteration and file to load: a number, ``"latest"`` (None), ``"best"`` or
        ``"best:CRITERION"``; a pretrained task's weights when the run saved none."""
        if not self.iterations() and iteration in (None, "latest") and self.task.pretrained_weights:
            return None, Path(self.task.pretrained_weights)
        if isinstance(iteration, str) and (iteration == "best" or iteration.startswith("best:")):
            criterion = iteration.partition(":")[2] or None
            iteration = self.best_iteration(criterion)
            if iteration not in self.iterations():
                raise RunError(
                    f"run {self.name!r}: the best iteration is {iteration}, but its checkpoint was not kept "
                    f"(saved: {', '.join(map(str, self.iterations()[-12:]))})"
                )
        number = self.files.resolve_iteration(iteration)
        return number, self.files.checkpoint(number)

    def model(
        self,
        iteration: int | str | None = None,
        normalisation: str = "datasplit",
        checkpoint: str | Path | None = None,
    ) -> RunModel:
        """The run's model with the weights of ``iteration`` (a number, ``"latest"`` — the
        default — or ``"best"``), or of the file ``checkpoint``."""
        from ..architectures import as_architecture
        from ..io import CheckpointError, load_weights
        from ..io.checkpoints import ArchitectureWithHead
        from .model import RunModel, RunOrigin

        if checkpoint is not None:
            path = Path(checkpoint)
            number = int(path.name) if path.name.isdigit() else None
        else:
            number, path = self.checkpoint_path(iteration)
        chosen = self.input_normalisation(normalisation)
        architecture = as_architecture(self.architecture_config)
        try:
            loaded = load_weights(
                architecture, path, head_channels=self.task.out_channels, head_kernel=self.task.head_kernel
            )
        except CheckpointError as error:
            raise RunError(f"run {self.name!r}: {error}") from None
        assert isinstance(loaded, ArchitectureWithHead)
        origin = RunOrigin(self.name, number, str(path), loaded.checkpoint_layout)
        return RunModel(loaded, self.task, chosen, origin)


def _document(path: Path) -> dict:
    from ..io.config_files import load_document

    document = load_document(path)
    if not isinstance(document, dict) or "task_config" not in document or "architecture_config" not in document:
        raise RunError(f"{path}: not a DaCapo run config (no task_config and architecture_config)")
    return document


def is_run_source(source: str | Path) -> bool:
    """Whether ``source`` names a run: a store folder, a run folder, or a run config file."""
    path = Path(source).expanduser()
    if path.is_dir():
        return (path / "configs" / "runs").is_dir() or (
            (path / "checkpoints").is_dir() and (path.parent / "configs" / "runs").is_dir()
        )
    if path.is_file() and path.suffix in (".yaml", ".yml", ".json"):
        try:
            _document(path)
        except Exception:
            return False
        return True
    return False


def open_run(source: str | Path, name: str | None = None) -> DacapoRun:
    """Open the run in ``source`` — a DaCapo file store folder (with ``name``, unless it holds
    one run), the run's folder, or its config file. :class:`RunError` says what is wrong."""
    from ..io import ConfigError, config_from_dict

    files = locate_run(source, name)
    try:
        document = _document(files.config_path)
        architecture_config = config_from_dict(document, str(files.config_path))
    except ConfigError as error:
        raise RunError(str(error)) from None
    task = task_spec(document["task_config"])
    try:
        normalisation, problem = raw_normalisation(document.get("datasplit_config")), None
    except RunError as error:
        normalisation, problem = None, str(error)
    return DacapoRun(files, document, architecture_config, task, normalisation, problem)
