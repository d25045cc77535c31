"""What a DaCapo task makes of a network: its head, its evaluation activation, the names of
its channels and how its prediction becomes labels — read from the task's config document
(dacapo-ml 0.3.5's ``experiments/tasks``), without DaCapo.

=======================  =====================  ==========  ===============  ===============
task config              head (outputs, kernel)  activation  channel names    post-processor
=======================  =====================  ==========  ===============  ===============
DistanceTaskConfig       ``channels``, 1         none        ``channels``     threshold
InnerDistanceTaskConfig  ``channels``, 1         none        ``channels``     threshold
HotDistanceTaskConfig    2 × ``channels``, k=3   none        class, distance  threshold
OneHotTaskConfig         ``classes``, k=3        none        ``classes``      argmax
AffinitiesTaskConfig     ``neighborhood``, 1     sigmoid     ``aff_<offset>``  watershed
DummyTaskConfig          ``embedding_dims``, 1   none        ``c0``…          none
PretrainedTaskConfig     its ``sub_task_config``'s
=======================  =====================  ==========  ===============  ===============

DaCapo's heads with a kernel of 3 (its default when ``kernel_size`` is unset) have no padding:
the prediction is one voxel smaller on every side than the network's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import RunError

__all__ = ["SUPPORTED_TASKS", "PostProcessorSpec", "TaskSpec", "task_spec"]


@dataclass(frozen=True)
class PostProcessorSpec:
    """How a task's prediction becomes labels.

    - ``kind``: ``"threshold"`` (foreground where the chosen channel is above ``threshold``,
      objects are its connected components), ``"argmax"`` (the class with the highest score,
      0-based as DaCapo writes it), ``"watershed"`` (mutex watershed of the affinities minus
      ``bias`` over ``offsets``), or ``"none"``.
    - ``dacapo_grid``: the parameter values DaCapo's post-processor enumerates, as DaCapo
      states them (its thresholds apply to its uint8 output: 127 there is 0 here).
    """

    kind: str
    default: float | None = None
    minimum: float | None = None
    maximum: float | None = None
    offsets: tuple[tuple[int, ...], ...] = ()
    dacapo_grid: tuple[float, ...] = ()

    @property
    def parameter(self) -> str | None:
        return {"threshold": "threshold", "watershed": "bias"}.get(self.kind)

    def check(self, value: float) -> float:
        """``value`` as the parameter, or :class:`RunError` naming the valid range."""
        name = self.parameter
        if name is None:
            raise RunError(f"the {self.kind} post-processor has no parameter")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise RunError(f"{name} {value!r}: expected a number") from None
        if not (self.minimum <= number <= self.maximum):
            raise RunError(f"{name} {number:g} is out of range: choose {self.minimum:g} to {self.maximum:g}")
        return number


@dataclass(frozen=True)
class TaskSpec:
    """A task's effect on the model and its outputs (see the module's table)."""

    type_name: str
    channels: tuple[str, ...]
    head_kernel: int = 1
    activation: str | None = None
    post_processor: PostProcessorSpec = field(default_factory=lambda: PostProcessorSpec("none"))
    pretrained_weights: str | None = None

    @property
    def kind(self) -> str:
        return self.type_name.removesuffix("TaskConfig")

    @property
    def out_channels(self) -> int:
        return len(self.channels)


_THRESHOLD = PostProcessorSpec("threshold", default=0.0, minimum=-1.0, maximum=1.0, dacapo_grid=(127,))
_BIASES = (0.1, 0.25, 0.5, 0.75, 0.9)


def _names(document: dict, key: str, type_name: str) -> tuple[str, ...]:
    values = document.get(key)
    if not isinstance(values, list) or not values or not all(isinstance(v, str) and v for v in values):
        raise RunError(f"{type_name}: {key!r} must be a non-empty list of names, got {_short(values)}")
    return tuple(values)


def _kernel(document: dict, type_name: str) -> int:
    value = document.get("kernel_size")
    if value is None:
        return 3  # dacapo-ml 0.3.5's default (with a DeprecationWarning that it will become 1)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1 or value % 2 == 0:
        raise RunError(f"{type_name}: kernel_size must be an odd positive integer, got {_short(value)}")
    return value


def _offsets(document: dict, type_name: str) -> tuple[tuple[int, ...], ...]:
    values = document.get("neighborhood")
    ok = isinstance(values, list) and values and all(isinstance(v, list | tuple) and v for v in values)
    if ok:
        ok = all(isinstance(c, int) and not isinstance(c, bool) for v in values for c in v)
        ok = ok and len({len(v) for v in values}) == 1 and all(any(v) for v in values)
    if not ok:
        raise RunError(
            f"{type_name}: 'neighborhood' must be a list of non-zero integer offsets of one length, "
            f"got {_short(values)}"
        )
    return tuple(tuple(v) for v in values)


def _offset_name(offset: tuple[int, ...]) -> str:
    return "aff_" + ".".join(str(c) for c in offset)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:59] + "…"


def _distance(document: dict, type_name: str) -> TaskSpec:
    return TaskSpec(type_name, _names(document, "channels", type_name), post_processor=_THRESHOLD)


def _hot_distance(document: dict, type_name: str) -> TaskSpec:
    names = _names(document, "channels", type_name)
    channels = names + tuple(f"{name}_distance" for name in names)
    return TaskSpec(type_name, channels, head_kernel=_kernel(document, type_name), post_processor=_THRESHOLD)


def _one_hot(document: dict, type_name: str) -> TaskSpec:
    return TaskSpec(
        type_name,
        _names(document, "classes", type_name),
        head_kernel=_kernel(document, type_name),
        post_processor=PostProcessorSpec("argmax"),
    )


def _affinities(document: dict, type_name: str) -> TaskSpec:
    offsets = _offsets(document, type_name)
    watershed = PostProcessorSpec(
        "watershed", default=0.5, minimum=0.0, maximum=1.0, offsets=offsets, dacapo_grid=_BIASES
    )
    return TaskSpec(type_name, tuple(map(_offset_name, offsets)), activation="sigmoid", post_processor=watershed)


def _dummy(document: dict, type_name: str) -> TaskSpec:
    dims = document.get("embedding_dims")
    if isinstance(dims, bool) or not isinstance(dims, int) or not 0 < dims <= 4096:
        raise RunError(f"{type_name}: embedding_dims must be a positive integer, got {_short(dims)}")
    return TaskSpec(type_name, tuple(f"c{i}" for i in range(dims)))


def _pretrained(document: dict, type_name: str) -> TaskSpec:
    sub = document.get("sub_task_config")
    if not isinstance(sub, dict):
        raise RunError(f"{type_name}: 'sub_task_config' must be a task config, got {_short(sub)}")
    if sub.get("__type__") == type_name:
        raise RunError(f"{type_name}: a pretrained task cannot wrap another pretrained task")
    weights = document.get("weights")
    spec = task_spec(sub)
    return TaskSpec(
        spec.type_name,
        spec.channels,
        spec.head_kernel,
        spec.activation,
        spec.post_processor,
        pretrained_weights=str(weights) if weights else None,
    )


_BUILDERS = {
    "DistanceTaskConfig": _distance,
    "InnerDistanceTaskConfig": _distance,
    "HotDistanceTaskConfig": _hot_distance,
    "OneHotTaskConfig": _one_hot,
    "AffinitiesTaskConfig": _affinities,
    "DummyTaskConfig": _dummy,
    "PretrainedTaskConfig": _pretrained,
}
SUPPORTED_TASKS = tuple(_BUILDERS)


def task_spec(document: Any) -> TaskSpec:
    """The :class:`TaskSpec` of a task config document (``__type__`` and its fields)."""
    if not isinstance(document, dict):
        raise RunError(f"the task config must be a mapping, got {type(document).__name__}")
    type_name = document.get("__type__")
    if type_name not in _BUILDERS:
        raise RunError(f"unsupported task type {_short(type_name)} (supported: {', '.join(SUPPORTED_TASKS)})")
    return _BUILDERS[type_name](document, type_name)
