"""DaCapo runs: open a trained run (its config store and checkpoints) and predict exactly what
DaCapo's own model predicts in eval mode — task head, activation, channel names and input
normalisation included. Nothing here depends on dacapo-ml.

Names load on first use (PEP 562).
"""

from __future__ import annotations

from .._lazy import lazy_names

_HOMES = {
    "DacapoRun": ".run",
    "is_run_source": ".run",
    "open_run": ".run",
    "RunError": ".errors",
    "RunModel": ".model",
    "Normalisation": ".normalisation",
    "TaskSpec": ".tasks",
    "PostProcessorSpec": ".tasks",
    "SUPPORTED_TASKS": ".tasks",
    "task_spec": ".tasks",
    "locate_run": ".store",
    "run_names": ".store",
}

__all__ = sorted(_HOMES)

__getattr__, __dir__ = lazy_names(__name__, _HOMES)
