"""From a prediction array to napari layer data: names, placement, output forms (no Qt)."""

from __future__ import annotations

from typing import Any

import dask.array as da
import numpy as np

OUTPUT_FORMS = {
    "image (channel axis)": "stack",
    "one image per channel": "split",
    "labels (argmax)": "argmax",
    "labels (threshold)": "threshold",
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
) -> list[tuple[Any, dict, str]]:
    """Layer data tuples for a ``(channels, *spatial)`` prediction placed at ``scale``/``translate``.

    ``form``: ``stack`` (one image; the channel axis leads when there is more than one channel),
    ``split`` (one image per channel), ``argmax`` (labels: 1 + the strongest channel) or
    ``threshold`` (labels: one channel above ``threshold`` → 1; several: 1 + the strongest
    channel where it is above ``threshold``, else 0).
    """
    data = _lazy(prediction)
    channels = data.shape[0]
    meta = {METADATA_KEY: dict(metadata or {}, form=form)}
    placed = dict(scale=scale, translate=translate, metadata=meta) | ({"units": units} if units else {})
    image_kwargs = dict(placed, colormap=_COLORS[0], blending="additive")
    if form == "stack":
        if channels == 1:
            return [(data[0], dict(image_kwargs, name=base_name), "image")]
        kwargs = dict(image_kwargs, name=base_name, scale=(1, *scale), translate=(0, *translate), colormap="magma")
        if units:
            kwargs["units"] = ("pixel", *units)
        return [(data, kwargs, "image")]
    if form == "split":
        return [
            (data[c], dict(image_kwargs, name=f"{base_name} [{c}]", colormap=_COLORS[c % len(_COLORS)]), "image")
            for c in range(channels)
        ]
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


def show(viewer, layers: list[tuple[Any, dict, str]]) -> list:
    """Add the layers, or update the layers of the same name and type (re-runs replace)."""
    shown = []
    for data, kwargs, kind in layers:
        name = kwargs["name"]
        existing = viewer.layers[name] if name in viewer.layers else None
        if existing is not None and existing._type_string == kind and existing.ndim == np.ndim(data):
            existing.data = data
            existing.scale, existing.translate = kwargs["scale"], kwargs["translate"]
            if "units" in kwargs:
                existing.units = kwargs["units"]
            existing.metadata.update(kwargs["metadata"])
            if kind == "image":
                existing.reset_contrast_limits()
            shown.append(existing)
        else:
            if existing is not None:
                viewer.layers.remove(existing)
            shown.append(getattr(viewer, f"add_{kind}")(data, **kwargs))
    return shown
