"""A blockwise run, described by plain values: what the driver stores in the output's
attributes and every worker (local or on a cluster node) opens again."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

OUTPUT_DTYPES = ("float32", "uint8")


@dataclass(frozen=True)
class RunSpec:
    """Everything that decides what a run writes where.

    - ``config``: a DaCapo config file (absolute path) or a bundled example/demo name;
      ``weights``: a checkpoint (absolute path) or None for random weights.
    - ``input``/``output``: ``CONTAINER.zarr/DATASET``; ``roi``: ``((start, stop), …)`` input
      voxels, or None for all of it; ``voxel_size``: choose this OME-NGFF level.
    - ``pad``: as in :func:`napari_dacapo.predict`; ``block_shape``: output voxels per block
      (rounded up to whole tiles), None for one tile per block.
    - ``dtype``: ``"float32"``, or ``"uint8"``: ``value_range`` is mapped to 0…255
      (``round((v - lo) / (hi - lo) * 255)``, clipped).
    - ``batch_size``: tiles per forward pass in each worker; ``precision``: the engine's
      compute precision (``dtype`` of :class:`~napari_dacapo.tiling.PredictOptions`).
    - ``dacapo_run``: ``config`` is a DaCapo run config and ``weights`` one of its
      checkpoints: the task's head and activation apply, and the input is normalised as
      ``normalisation`` says (``"datasplit"`` or ``"dtype"``, see :mod:`napari_dacapo.runs`).
    """

    config: str
    input: str
    output: str
    weights: str | None = None
    roi: tuple[tuple[int, int], ...] | None = None
    voxel_size: tuple[float, ...] | None = None
    pad: str = "reflect"
    block_shape: tuple[int, ...] | None = None
    dtype: str = "float32"
    value_range: tuple[float, float] = (0.0, 1.0)
    batch_size: int | str = "auto"
    precision: str = "float32"
    dacapo_run: bool = False
    normalisation: str = "datasplit"
    digests: dict[str, str] = field(default_factory=dict, compare=False)

    def __post_init__(self):
        if self.dtype not in OUTPUT_DTYPES:
            raise ValueError(f"output dtype {self.dtype!r}: choose float32 or uint8")
        lo, hi = self.value_range
        if not hi > lo:
            raise ValueError(f"value range {self.value_range}: the upper bound must be above the lower")

    @classmethod
    def create(cls, **values: Any) -> RunSpec:
        """A spec with absolute paths and the digests of the config and weights files."""
        for key in ("config", "weights", "input", "output"):
            value = values.get(key)
            if value is not None and (key != "config" or Path(value).suffix in (".yaml", ".yml", ".json")):
                values[key] = str(Path(value).absolute())
        spec = cls(**values)
        if Path(spec.input).absolute() == Path(spec.output).absolute():
            raise ValueError(f"the output {spec.output} is the input: choose another dataset")
        digests = {"config": _digest_config(spec.config)}
        if spec.weights:
            digests["weights"] = _digest_file(spec.weights)
        return cls(**{**values, "digests": digests})

    def to_json(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self)))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunSpec:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        for key in ("roi", "voxel_size", "block_shape", "value_range"):
            if values.get(key) is not None:
                values[key] = tuple(tuple(v) if isinstance(v, list) else v for v in values[key])
        return cls(**values)

    def identity(self) -> dict[str, Any]:
        """What must match for a second run to finish the first one's output: every field
        that changes the values written; the config and weights count by their digests,
        not their paths (batch size and devices do not count)."""
        data = self.to_json()
        for key in ("config", "weights", "output", "batch_size"):
            data.pop(key)
        return data


def _digest_file(path: str) -> str:
    sha = hashlib.sha256()
    try:
        with open(path, "rb") as stream:
            for chunk in iter(lambda: stream.read(1 << 20), b""):
                sha.update(chunk)
    except OSError as error:
        raise FileNotFoundError(f"{path}: cannot read the weights ({error.strerror})") from None
    return sha.hexdigest()[:16]


def _digest_config(spec: str) -> str:
    from ..io import config_to_dict
    from ..io.config_files import load_document
    from ..networks import resolve_config
    from ..runs import is_run_source

    if is_run_source(spec):  # the task and datasplit count too
        text = json.dumps(load_document(spec), sort_keys=True, default=str)
    else:
        text = json.dumps(config_to_dict(resolve_config(spec)), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
