"""What a DaCapo run's task adds to the prediction dock: channel names and the labels of its
post-processor, with its parameter (no Qt)."""

from __future__ import annotations

from typing import Any

__all__ = ["task_outputs", "task_rule"]


def task_outputs(network: Any):
    """The :class:`~napari_dacapo.runs.TaskSpec` of a DaCapo run's model, else None."""
    task = getattr(network, "task", None)
    return task if task is not None and hasattr(task, "post_processor") else None


def task_rule(task: Any, value: float):
    """The label rule of ``task`` with ``value`` as its parameter (None without a post-processor)."""
    from ..labels import label_rule

    post = task.post_processor
    if post.kind == "none":
        return None
    return label_rule(post, value if post.parameter else None)
