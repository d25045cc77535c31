"""What a DaCapo run's task adds to the prediction dock: channel names, the labels of its
post-processor with its parameter (threshold or bias), relabelled in a worker thread when the
parameter changes, without running the network again."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["TaskOutputsMixin", "task_outputs", "task_rule"]


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


class TaskOutputsMixin:
    """For :class:`~napari_dacapo.widgets.PredictionDock`: uses its ``registry``, ``network``,
    ``output``, ``threshold``, ``label_parameter``, ``viewer``, ``worker``, ``_last``, ``_show``,
    ``show_error``, and ``labels_worker`` / ``_label_generations`` (None / {} to begin with)."""

    def _on_network(self, name) -> None:
        """A DaCapo run's model: show the task's channels and labels, with its parameter."""
        task = task_outputs(self.registry.get(name).network) if name else None
        if task is None:
            if self.output.value == "task":
                self.output.value = "stack"
            return
        post = task.post_processor
        self.output.value = "task"
        if post.parameter:
            slider = self.label_parameter
            slider.label = post.parameter
            with slider.changed.blocked():
                slider.min, slider.max = post.minimum, post.maximum
                slider.value = post.default
        self._on_output_form("task")

    def _on_output_form(self, form) -> None:
        task = task_outputs(self.registry.get(self.network.value).network) if self.network.value else None
        parameter = task is not None and task.post_processor.parameter is not None
        self.threshold.visible = form == "threshold"
        self.label_parameter.visible = form == "task" and parameter

    def _on_label_parameter(self, _value) -> None:
        """A new threshold or bias relabels the last prediction and the previewed region; the
        network does not run again."""
        if self.output.value != "task":
            return
        if self._last is not None and self.worker is None:
            job, out = self._last
            self._show(job, out, partial=False)
        redraw = getattr(self, "_preview_redraw", None)
        if self.preview.value and redraw is not None:
            self.show_later(redraw, key="preview")

    def show_later(self, make: Callable[[], list], key: str = "run") -> Any:
        """Make layer data in a worker thread (labels of a large volume take seconds) and show
        it when done, unless a newer request of the same ``key`` (the run's layers, the
        preview's) came meanwhile."""
        from napari.qt.threading import thread_worker

        from .output_layers import show

        generations = self._label_generations
        generation = generations[key] = generations.get(key, 0) + 1

        def done(layers) -> None:
            if generation == generations[key]:
                show(self.viewer, layers)

        def finished() -> None:
            if self.labels_worker is worker:  # the latest request of any kind is done
                self.labels_worker = None

        worker = thread_worker(make, start_thread=False)()
        worker.returned.connect(done)
        worker.errored.connect(lambda error: self.show_error(f"labels failed: {error}"))
        worker.finished.connect(finished)
        self.labels_worker = worker
        worker.start()
        return worker
