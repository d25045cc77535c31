"""The best iteration of a run by DaCapo's validation scores.

dacapo-ml 0.3.5's file stats store keeps them at ``BASE/stats/validation_scores/RUN``: a pickle
of a list of ``{"iteration": N, "scores": [dataset][parameter][criterion]}`` (floats). The
criteria's names and directions come from the task's evaluator, as here. The pickle is read
by an unpickler that builds nothing but lists, dicts, strings and numbers, so no pickled
code runs. The best iteration for a criterion is the one with the best value over every
validation dataset and post-processing parameter (the earliest one on a tie).
"""

from __future__ import annotations

import io
import math
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import RunError
from .tasks import TaskSpec

__all__ = ["ValidationScores", "criteria", "read_validation_scores"]

_BINARY = (
    "dice", "jaccard", "hausdorff", "false_negative_rate", "false_negative_rate_with_tolerance",
    "false_positive_rate", "false_discovery_rate", "false_positive_rate_with_tolerance", "voi",
    "mean_false_distance", "mean_false_negative_distance", "mean_false_positive_distance",
    "mean_false_distance_clipped", "mean_false_negative_distance_clipped", "mean_false_positive_distance_clipped",
    "precision_with_tolerance", "recall_with_tolerance", "f1_score_with_tolerance", "precision", "recall", "f1_score",
)  # fmt: skip
_BINARY_HIGHER = {"dice", "jaccard", "precision_with_tolerance", "recall_with_tolerance", "f1_score_with_tolerance",
                  "precision", "recall", "f1_score"}  # fmt: skip
_MAX_BYTES = 64 * 2**20


def criteria(task: TaskSpec, distance_channels: tuple[str, ...] | None = None) -> tuple[tuple[str, bool], ...]:
    """The task evaluator's criteria in DaCapo's order, each with whether higher is better."""
    kind = task.type_name
    if kind == "AffinitiesTaskConfig":
        return (("voi_split", False), ("voi_merge", False), ("voi", False))
    if kind in ("DistanceTaskConfig", "InnerDistanceTaskConfig", "HotDistanceTaskConfig"):
        names = distance_channels or task.channels
        return tuple((f"{c}__{name}", name in _BINARY_HIGHER) for c in names for name in _BINARY)
    return (("frizz_level", True), ("blipp_score", False))  # DaCapo's dummy evaluator (one-hot, dummy)


class _Plain(pickle.Unpickler):
    """Builds only plain values; numpy scalars (what cattrs leaves in scores) become floats."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in (("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar")):
            import numpy as np

            return lambda dtype, data=b"": float(np.frombuffer(data, dtype=dtype)[0])
        if (module, name) == ("numpy", "dtype"):
            import numpy as np

            return np.dtype
        raise pickle.UnpicklingError(f"refused {module}.{name}: validation scores hold only numbers")


@dataclass(frozen=True)
class ValidationScores:
    iterations: tuple[int, ...]
    scores: tuple[list, ...]  # per iteration: [dataset][parameter][criterion]
    criteria: tuple[tuple[str, bool], ...]

    def best(self, criterion: str) -> tuple[int, float]:
        names = [name for name, _ in self.criteria]
        if criterion not in names:
            raise RunError(
                f"criterion {criterion!r}: choose one of {', '.join(names[:8])}{', …' if len(names) > 8 else ''}"
            )
        index = names.index(criterion)
        higher = self.criteria[index][1]
        found: tuple[int, float] | None = None
        for iteration, per_dataset in zip(self.iterations, self.scores, strict=True):
            for per_parameter in per_dataset:
                for values in per_parameter:
                    value = float(values[index]) if index < len(values) else math.nan
                    if math.isnan(value):
                        continue
                    if found is None or (value > found[1] if higher else value < found[1]):
                        found = (iteration, value)
        if found is None:
            raise RunError(f"no validation score for {criterion!r}")
        return found


def read_validation_scores(base: Path, run: str, task: TaskSpec) -> ValidationScores | None:
    """The run's validation scores, or None when DaCapo stored none."""
    path = Path(base) / "stats" / "validation_scores" / run
    if not path.is_file():
        return None
    if path.stat().st_size > _MAX_BYTES:
        raise RunError(f"{path}: validation scores over {_MAX_BYTES >> 20} MiB, not read")
    try:
        documents = _Plain(io.BytesIO(path.read_bytes())).load()
        iterations = tuple(int(d["iteration"]) for d in documents)
        scores = tuple(d["scores"] for d in documents)
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, AttributeError, IndexError) as error:
        raise RunError(f"{path}: not DaCapo validation scores ({error})") from None
    return ValidationScores(iterations, scores, criteria(task))
