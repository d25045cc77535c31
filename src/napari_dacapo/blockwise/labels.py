"""Labels of a finished blockwise prediction, written block by block next to it, with the
same IDs as :func:`napari_dacapo.labels.segment` of the whole prediction in memory.

Four passes, each resumable (a marker per finished step in the labels' run folder): the
fragments of every label block (provisional IDs), the joins across every interior face
plane, one join table, and the final IDs written back into every block. A second run with
the same arguments does only what is missing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from funlib.geometry import Coordinate

from ..io.zarr_arrays import split_dataset
from ..io.zarr_outputs import LEVEL, create_output, mark_complete, open_output
from ..labels.segmentation import block_labels
from ..labels.stitching import (
    DEFAULT_BLOCK,
    LabelRule,
    block_grid,
    drop_lonely,
    face_joins,
    join_table,
    relabel,
)
from .prepared import dequantise

__all__ = ["LabelsJob", "LabelsReport", "write_labels"]


@dataclass(frozen=True)
class LabelsReport:
    output: str
    shape: tuple[int, ...]
    blocks: int
    objects: int | None
    resumed: bool


def _state_folder(output: str) -> Path:
    container, path = split_dataset(output)
    return container / path / LEVEL / ".napari-dacapo" / "labels"


def _prediction(spec: str) -> tuple[Any, dict]:
    array = open_output(spec)
    if array is None:
        raise FileNotFoundError(f"{spec}: no prediction there to make labels of")
    state = dict(array.attrs.get("napari_dacapo", {}))
    if not state.get("complete"):
        raise ValueError(f"{spec}: the prediction is not complete; finish it first (run predict again)")
    return array, state


def _read(prediction: Any, state: dict, box: tuple[slice, ...]) -> np.ndarray:
    data = np.asarray(prediction[(slice(None), *box)])
    if data.dtype == np.uint8:
        return dequantise(data, tuple(state.get("value_range", (0.0, 1.0))))
    return data.astype(np.float32, copy=False)


def _identity(prediction_state: dict, rule: LabelRule, block: Coordinate) -> str:
    text = json.dumps(
        {"prediction": prediction_state.get("run"), "rule": asdict(rule), "block": list(block)},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _open_labels(
    spec: str, prediction: Any, rule: LabelRule, block: Coordinate, identity: str, overwrite: bool, source: str
):
    existing = open_output(spec)
    if existing is not None and not overwrite:
        state = dict(existing.attrs.get("napari_dacapo", {}))
        if state.get("labels") == identity and tuple(existing.shape) == tuple(prediction.shape[1:]):
            return existing, True
        raise FileExistsError(f"{spec} exists and holds other labels: pass --overwrite to replace it")
    attrs = prediction.attrs
    array = create_output(
        spec,
        prediction.shape[1:],
        tuple(block),
        attrs["voxel_size"],
        attrs["offset"],
        [a for a in attrs["axis_names"] if a != "c^"],
        overwrite=True,
        dtype="uint8" if rule.kind == "argmax" else "uint64",
        units=[u or None for u in attrs.get("units", [])] or None,
        labels=True,
        rule=asdict(rule),
        block=list(block),
        prediction=source,
    )
    state = dict(array.attrs["napari_dacapo"])
    state["labels"] = identity
    array.attrs["napari_dacapo"] = state
    return array, False


@dataclass(frozen=True)
class LabelsJob:
    """What every pass needs, opened the same way in the driver and in each worker from the
    labels output alone (its attributes name the prediction, the rule and the block)."""

    output: str
    source: Any
    state: dict
    array: Any
    rule: LabelRule
    block: Coordinate
    cache: dict = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def open(cls, output: str) -> LabelsJob:
        array = open_output(output)
        details = dict(array.attrs.get("napari_dacapo", {})) if array is not None else {}
        if "prediction" not in details:
            raise FileNotFoundError(f"{output}: no napari-dacapo labels here")
        source, state = _prediction(details["prediction"])
        rule = details["rule"]
        rule = LabelRule(rule["kind"], rule["value"], rule["channel"], tuple(tuple(o) for o in rule["offsets"]))
        return cls(output, source, state, array, rule, Coordinate(details["block"]))

    @property
    def shape(self) -> Coordinate:
        return Coordinate(self.source.shape[1:])

    @property
    def folder(self) -> Path:
        return _state_folder(self.output)

    def rois(self) -> list:
        return list(block_grid(self.shape, self.block))

    def fragments_file(self, roi) -> Path:
        return self.folder / "fragments" / f"{'_'.join(map(str, roi.begin))}.npz"

    def fragments(self, roi) -> None:
        """The block's provisional IDs; its file (the pass's marker) lists them and those the
        watershed left alone, so the join table needs no second read of the labels."""
        marker = self.fragments_file(roi)
        if marker.exists():
            return
        box = roi.to_slices()
        labels, lonely = block_labels(_read(self.source, self.state, box), self.rule, roi.begin, self.shape)
        self.array[box] = labels
        ids = np.unique(labels)
        marker.parent.mkdir(parents=True, exist_ok=True)
        with open(marker.with_suffix(".partial"), "wb") as file:  # complete, or not there at all
            np.savez(file, ids=ids[ids != 0].astype(np.uint64), lonely=lonely)
        marker.with_suffix(".partial").replace(marker)

    def final(self, roi) -> None:
        """The block's final IDs, from the join table."""
        marker = self.folder / "final" / "_".join(map(str, roi.begin))
        if marker.exists():
            return
        if "table" not in self.cache:
            saved = np.load(self.folder / "table.npz")
            self.cache["table"] = (saved["ids"], saved["final"])
        box = roi.to_slices()
        self.array[box] = relabel(np.asarray(self.array[box]), self.cache["table"])
        _touch(marker)


PASSES = ("fragments", "final")


def _run_pass(job: LabelsJob, name: str, workers: int) -> None:
    """One per-block pass, in this process or in ``workers`` daisy worker processes."""
    rois = job.rois()
    if workers <= 1:
        for roi in rois:
            getattr(job, name)(roi)
        return
    import daisy.v2 as daisy
    from funlib.geometry import Roi

    write = Roi((0,) * job.shape.dims, job.block)
    task = daisy.Task(
        f"labels-{name}",
        total_roi=Roi((0,) * job.shape.dims, job.shape),
        read_roi=write,
        write_roi=write,
        process_function=LabelsSlot(job.output, name),
        read_write_conflict=False,
        fit="shrink",
        max_workers=workers,
        max_retries=2,
        tracking_path=str(job.folder / f"daisy-{name}"),
    )
    states = daisy.run_blockwise(task, multiprocessing=True, progress=False, return_states=True, summary=False,
                                 host="127.0.0.1")  # fmt: skip
    state = states[f"labels-{name}"]
    if state.completed_count != state.total_block_count:
        raise RuntimeError(
            f"{state.total_block_count - state.completed_count} label blocks failed in the {name} pass "
            f"({state.last_worker_error or 'see the logs'}); run the same command again to finish them"
        )


@dataclass(frozen=True)
class LabelsSlot:
    """What daisy starts for each labels worker (picklable): open the job, do the pass's blocks."""

    output: str
    name: str

    def __call__(self, *, context) -> None:
        import daisy.v2 as daisy

        job = LabelsJob.open(self.output)
        client = daisy.Client(context=context)
        while True:
            with client.acquire_block() as block:
                if block is None:
                    return
                getattr(job, self.name)(block.write_roi)


def write_labels(
    prediction: str,
    output: str,
    rule: LabelRule,
    *,
    block: tuple[int, ...] | None = None,
    overwrite: bool = False,
    workers: int = 1,
) -> LabelsReport:
    """Write the labels of the (complete) prediction image ``prediction`` into ``output``
    (an OME-Zarr label image: same placement, no channel axis; uint64 instances or uint8
    classes). ``workers`` > 1: the per-block passes run in that many daisy worker processes
    (the same IDs: each block's result depends on the block alone)."""
    source, state = _prediction(prediction)
    shape = Coordinate(source.shape[1:])
    block = Coordinate(block if block is not None else (DEFAULT_BLOCK[shape.dims],) * shape.dims)
    identity = _identity(state, rule, block)
    array, resumed = _open_labels(output, source, rule, block, identity, overwrite, str(Path(prediction).absolute()))
    job = LabelsJob(output, source, state, array, rule, block)
    folder, rois = job.folder, job.rois()
    _run_pass(job, "fragments", workers)
    objects = None
    if rule.instances:
        table_file = folder / "table.npz"
        if not table_file.exists():
            pairs = [
                _face_pairs(folder, array, source, state, rule, axis, face, shape)
                for axis in range(shape.dims)
                for face in range(block[axis], shape[axis], block[axis])
            ]
            saved = [np.load(job.fragments_file(roi)) for roi in rois]
            ids = np.concatenate([np.zeros(0, np.uint64), *[f["ids"] for f in saved]])
            table = join_table(ids, np.concatenate([np.zeros((0, 2), np.uint64), *pairs]).astype(np.uint64))
            table = drop_lonely(table, np.concatenate([np.zeros(0, np.uint64), *[f["lonely"] for f in saved]]))
            np.savez(table_file, ids=table[0], final=table[1])
        final = np.load(table_file)["final"]
        objects = len(np.unique(final[final != 0]))  # 0: the watershed's background
        _run_pass(job, "final", workers)
    mark_complete(array, blocks=len(rois), objects=objects)
    return LabelsReport(output, tuple(shape), len(rois), objects, resumed)


def _face_pairs(folder: Path, array, source, state, rule, axis: int, face: int, shape: Coordinate) -> np.ndarray:
    """The joins across face plane ``face`` of ``axis`` (saved, so a resumed run reads them)."""
    path = folder / "faces" / f"{axis}_{face}.npy"
    if path.exists():
        return np.load(path)
    box = [slice(0, s) for s in shape]
    box[axis] = slice(face - 1, face + 1)
    labels = np.asarray(array[tuple(box)])
    prediction = _read(source, state, tuple(box)) if rule.kind == "watershed" else None
    pairs = face_joins(labels, prediction, rule, axis, 1).astype(np.uint64)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, pairs)
    return pairs


def _touch(marker: Path) -> None:
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()
