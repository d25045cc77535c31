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
from dataclasses import asdict, dataclass
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

__all__ = ["LabelsReport", "write_labels"]


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


def _open_labels(spec: str, prediction: Any, rule: LabelRule, block: Coordinate, identity: str, overwrite: bool):
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
    )
    state = dict(array.attrs["napari_dacapo"])
    state["labels"] = identity
    array.attrs["napari_dacapo"] = state
    return array, False


def write_labels(
    prediction: str,
    output: str,
    rule: LabelRule,
    *,
    block: tuple[int, ...] | None = None,
    overwrite: bool = False,
) -> LabelsReport:
    """Write the labels of the (complete) prediction image ``prediction`` into ``output``
    (an OME-Zarr label image: same placement, no channel axis; uint64 instances or uint8
    classes)."""
    source, state = _prediction(prediction)
    shape = Coordinate(source.shape[1:])
    block = Coordinate(block if block is not None else (DEFAULT_BLOCK[shape.dims],) * shape.dims)
    identity = _identity(state, rule, block)
    array, resumed = _open_labels(output, source, rule, block, identity, overwrite)
    folder = _state_folder(output)
    rois = list(block_grid(shape, block))
    for index, roi in enumerate(rois):
        marker = folder / "fragments" / f"{index}.npy"  # the IDs the watershed left alone
        if not marker.exists():
            box = roi.to_slices()
            array[box], lonely = block_labels(_read(source, state, box), rule, roi.begin, shape)
            marker.parent.mkdir(parents=True, exist_ok=True)
            np.save(marker, lonely)
    objects = None
    if rule.instances:
        table_file = folder / "table.npz"
        if not table_file.exists():
            pairs = [
                _face_pairs(folder, array, source, state, rule, axis, face, shape)
                for axis in range(shape.dims)
                for face in range(block[axis], shape[axis], block[axis])
            ]
            ids = np.concatenate([np.zeros(0, np.uint64), *[_ids(array, roi) for roi in rois]])
            table = join_table(ids, np.concatenate([np.zeros((0, 2), np.uint64), *pairs]).astype(np.uint64))
            lonely = [np.load(folder / "fragments" / f"{i}.npy") for i in range(len(rois))]
            table = drop_lonely(table, np.concatenate([np.zeros(0, np.uint64), *lonely]))
            np.savez(table_file, ids=table[0], final=table[1])
        saved = np.load(table_file)
        table = (saved["ids"], saved["final"])
        objects = len(np.unique(table[1]))
        for index, roi in enumerate(rois):
            marker = folder / "final" / str(index)
            if not marker.exists():
                box = roi.to_slices()
                array[box] = relabel(np.asarray(array[box]), table)
                _touch(marker)
    mark_complete(array, blocks=len(rois), objects=objects)
    return LabelsReport(output, tuple(shape), len(rois), objects, resumed)


def _ids(array: Any, roi) -> np.ndarray:
    ids = np.unique(np.asarray(array[roi.to_slices()]))
    return ids[ids != 0].astype(np.uint64)


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
