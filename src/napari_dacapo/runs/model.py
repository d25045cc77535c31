"""A DaCapo run's model as napari-dacapo predicts with it: the architecture, the task's head
and evaluation activation (as DaCapo's ``Model`` in eval mode), plus what the outputs mean."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..io.checkpoints import ArchitectureWithHead
from .normalisation import Normalisation
from .tasks import TaskSpec

__all__ = ["RunModel", "RunOrigin", "activation_module"]


@dataclass(frozen=True)
class RunOrigin:
    """Which run and checkpoint a model comes from."""

    run: str
    iteration: int | None
    checkpoint: str | None
    layout: str | None = None


def activation_module(name: str | None) -> torch.nn.Module | None:
    return {None: None, "sigmoid": torch.nn.Sigmoid()}[name]


class RunModel(ArchitectureWithHead):
    """:class:`~napari_dacapo.io.ArchitectureWithHead` with the run's task, channel names and
    input normalisation. The engine reads ``input_normalisation``: every tile of the image is
    normalised the way the run's training data was before it reaches the network."""

    def __init__(
        self,
        model: ArchitectureWithHead,
        task: TaskSpec,
        input_normalisation: Normalisation,
        origin: RunOrigin,
    ):
        super().__init__(model.architecture, model.prediction_head, activation_module(task.activation))
        self.task = task
        self.input_normalisation = input_normalisation
        self.origin = origin
        self.eval()

    @property
    def channel_names(self) -> tuple[str, ...]:
        return self.task.channels

    @property
    def post_processor(self):
        return self.task.post_processor

    def describe(self) -> str:
        iteration = "untrained" if self.origin.iteration is None else f"iteration {self.origin.iteration}"
        activation = self.task.activation or "none"
        return (
            f"run {self.origin.run} ({iteration}): {self.task.kind} task, channels {', '.join(self.channel_names)}; "
            f"activation {activation}; labels by {self.task.post_processor.kind}; "
            f"input {self.input_normalisation.describe()}"
        )
