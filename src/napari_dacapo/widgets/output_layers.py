"""From a prediction array to napari layer data: names, placement, output forms (no Qt)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np

OUTPUT_FORMS = {
    "image (channel axis)": "stack",
    "one image per channel": "split",
    "labels (argmax)": "argmax",
    "labels (threshold)": "threshold",
    "task's channels and labels": "task",
}
METADATA_KEY = "napari_dacapo"
_COLORS = ("green", "magenta", "cyan", "yellow", "red", "blue")


def _lazy(prediction: Any):
    """numpy stays numpy; anything else (zarr) becomes a dask array napari reads lazily."""
    if isinstance(prediction, np.ndarray | da.Array):
        return prediction
    return da.from_zarr(prediction)


def layer_data(
    prediction: Any,
    *,
    form: str,
    base_name: str,
    scale: tuple[float, ...],
    translate: tuple[float, ...],
    threshold: float = 0.5,
    metadata: dict | None = None,
    units: tuple | None = None,
    affine: np.ndarray | None = None,
    channel_names: tuple[str, ...] | None = None,
    rule: Any = None,
    region: tuple[tuple[int, ...], tuple[int, ...]] | None = None,
) -> list[tuple[Any, dict, str]]:
    """Layer data tuples for a ``(channels, *spatial)`` prediction placed at ``scale``/``translate``.

    ``form``: ``stack`` (one image; the channel axis leads when there is more than one channel),
    ``split`` (one image per channel), ``argmax`` (labels: 1 + the strongest channel) or
    ``threshold`` (labels: one channel above ``threshold`` → 1; several: 1 + the strongest
    channel where it is above ``threshold``, else 0). ``affine``: the input layer's
    physical-to-world affine over the output's spatial axes (homogeneous matrix), kept so
    outputs stay on an input that napari shows rotated or sheared through its affine.

    ``task`` (a DaCapo run's model): one image per channel named by ``channel_names``, and the
    labels of the task's post-processor ``rule`` (a :class:`~napari_dacapo.labels.LabelRule`;
    ``region``: the prediction's origin and the full output's shape, for a preview).
    """
    data = _lazy(prediction)
    channels = data.shape[0]
    meta = {METADATA_KEY: dict(metadata or {}, form=form)}
    placed = dict(scale=scale, translate=translate, metadata=meta) | ({"units": units} if units else {})
    if affine is not None:
        placed["affine"] = affine
    image_kwargs = dict(placed, colormap=_COLORS[0], blending="additive")
    if form == "stack":
        if channels == 1:
            return [(data[0], dict(image_kwargs, name=base_name), "image")]
        kwargs = dict(image_kwargs, name=base_name, scale=(1, *scale), translate=(0, *translate), colormap="magma")
        if affine is not None:
            kwargs["affine"] = embed_affine(affine, len(scale) + 1)
        if units:
            kwargs["units"] = ("pixel", *units)
        return [(data, kwargs, "image")]
    if form in ("split", "task"):
        names = channel_names if channel_names and len(channel_names) == channels else range(channels)
        images = [
            (data[c], dict(image_kwargs, name=f"{base_name} [{n}]", colormap=_COLORS[c % len(_COLORS)]), "image")
            for c, n in enumerate(names)
        ]
        if form == "split" or rule is None:
            return images
        return [*images, task_labels(data, rule, base_name, placed, region)]
    xp = da if isinstance(data, da.Array) else np
    if form == "argmax":
        labels = (xp.argmax(data, axis=0) + 1).astype(np.uint8 if channels < 255 else np.uint32)
    elif form == "threshold":
        if channels == 1:
            labels = (data[0] > threshold).astype(np.uint8)
        else:
            strongest = (xp.argmax(data, axis=0) + 1).astype(np.uint32)
            labels = xp.where(xp.max(data, axis=0) > threshold, strongest, 0)
    else:
        raise ValueError(f"unknown output form {form!r} (valid: {', '.join(OUTPUT_FORMS.values())})")
    kwargs = dict(placed, name=f"{base_name} labels")
    return [(labels, kwargs, "labels")]


def task_labels(data: Any, rule: Any, base_name: str, placed: dict, region=None) -> tuple[Any, dict, str]:
    """The labels layer of a task's post-processor (see :func:`napari_dacapo.labels.segment`)."""
    from ..labels import segment

    origin, full_shape = region if region is not None else (None, None)
    labels = segment(np.asarray(data), rule, origin=origin, full_shape=full_shape)
    meta = {METADATA_KEY: dict(placed["metadata"][METADATA_KEY], rule=rule.kind, parameter=rule.value)}
    return labels, dict(placed, name=f"{base_name} labels", metadata=meta), "labels"


def embed_affine(affine: np.ndarray, ndim: int) -> np.ndarray:
    """A homogeneous affine over the last axes, extended to ``ndim`` axes (identity on the
    leading ones)."""
    affine = np.asarray(affine, dtype=float)
    k = affine.shape[0] - 1
    full = np.eye(ndim + 1)
    full[ndim - k :, ndim - k :] = affine
    return full


def spatial_affine(matrix: np.ndarray, axes: int) -> np.ndarray | None:
    """The part of a layer's homogeneous affine over its last ``axes`` axes (None when it is
    the identity there); refuses an affine that mixes those axes with the others."""
    matrix = np.asarray(matrix, dtype=float)
    n = matrix.shape[0] - 1
    keep = [*range(n - axes, n), n]
    part = matrix[np.ix_(keep, keep)]
    others = [i for i in range(n) if i not in keep]
    if others and (
        np.abs(matrix[np.ix_(keep[:-1], others)]).max() > 0 or np.abs(matrix[np.ix_(others, keep[:-1])]).max() > 0
    ):
        raise ValueError("the layer's affine mixes its channel axis with space: cannot place the prediction")
    return None if np.allclose(part, np.eye(axes + 1)) else part


def show(viewer, layers: list[tuple[Any, dict, str]]) -> list:
    """Add the layers, or update the layers of the same name and type (re-runs replace)."""
    from napari.layers import Image, Labels

    classes = {"image": Image, "labels": Labels}
    shown = []
    for data, kwargs, kind in layers:
        name = kwargs["name"]
        existing = viewer.layers[name] if name in viewer.layers else None
        # isinstance, not type(): a plugin's viewer hands out proxies of its layers
        if existing is not None and isinstance(existing, classes[kind]) and existing.ndim == np.ndim(data):
            _update(existing, data, kwargs, kind)
            shown.append(existing)
        else:
            if existing is not None:
                viewer.layers.remove(existing)
            shown.append(getattr(viewer, f"add_{kind}")(data, **kwargs))
    return shown


def _update(layer, data, kwargs: dict, kind: str) -> None:
    """Give an existing layer new data and placement, setting only what changed (each setter
    re-slices the layer)."""
    layer.data = data
    if not np.allclose(layer.scale, kwargs["scale"]):
        layer.scale = kwargs["scale"]
    if not np.allclose(layer.translate, kwargs["translate"]):
        layer.translate = kwargs["translate"]
    affine = np.asarray(kwargs.get("affine", np.eye(layer.ndim + 1)))
    if not np.allclose(layer.affine.affine_matrix, affine):
        layer.affine = affine
    if "units" in kwargs and tuple(str(u) for u in layer.units) != tuple(str(u) for u in kwargs["units"]):
        layer.units = kwargs["units"]
    layer.metadata.update(kwargs["metadata"])
    if kind == "image":
        layer.reset_contrast_limits()


def allocate_output(data: Any, shape: tuple[int, ...], grid) -> Any:
    """numpy output for in-memory images; a zarr store napari reads lazily for lazy ones."""
    if isinstance(data, np.ndarray):
        return np.zeros(shape, dtype=np.float32)
    import zarr

    folder = Path(tempfile.mkdtemp(prefix="napari-dacapo-"))
    spatial = shape[-grid.dims :]
    leading = (1,) * (len(shape) - 1 - grid.dims)  # slices predicted one by one
    tile = grid.tile_output_shape
    chunks = (1, *leading, *(min(s, max(64, c)) for s, c in zip(spatial, tile, strict=True)))
    return zarr.open_array(folder / "prediction.zarr", mode="w", shape=shape, chunks=chunks, dtype="float32")
