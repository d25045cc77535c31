"""OME-NGFF image metadata, read through ome-zarr-models.

An OME-Zarr image group (0.5: zarr v3, metadata under ``"ome"``; 0.4: zarr v2) is validated
by ``ome_zarr_models`` (the maintained pydantic models of the spec) and reduced to what
prediction needs: which axes are space and channel, their units, and per level the voxel
size and the position of voxel 0's *centre* (NGFF's ``scale`` and ``translation``, with the
multiscale-wide transformations applied after the level's own, as the spec says).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["NgffImage", "NgffLevel", "is_ngff_image", "read_ngff_image"]


@dataclass(frozen=True)
class NgffLevel:
    """One resolution level: its array's path in the group, and per *space* axis the voxel
    size and the world position of voxel 0's centre."""

    path: str
    voxel_size: tuple[float, ...]
    origin: tuple[float, ...]


@dataclass(frozen=True)
class NgffImage:
    """The first multiscale image of a group: axis names and types (all axes, in order), the
    space axes' units (None where not given) and its levels, finest first as the spec orders."""

    version: str
    axis_names: tuple[str, ...]
    axis_types: tuple[str | None, ...]
    units: tuple[str | None, ...]
    levels: tuple[NgffLevel, ...]

    @property
    def space_axes(self) -> tuple[int, ...]:
        return tuple(i for i, kind in enumerate(self.axis_types) if kind == "space")

    def level(self, path: str) -> NgffLevel | None:
        return next((level for level in self.levels if level.path == path), None)


def is_ngff_image(attrs: dict[str, Any]) -> bool:
    """Whether a group's attributes declare OME-NGFF multiscales (0.5 or 0.4)."""
    ome = attrs.get("ome")
    return bool(isinstance(ome, dict) and ome.get("multiscales")) or bool(attrs.get("multiscales"))


def _model(group, where: str):
    from pydantic import ValidationError

    if isinstance(group.attrs.get("ome"), dict):
        from ome_zarr_models.v05 import Image

        version = "0.5"
    else:
        from ome_zarr_models.v04 import Image

        version = "0.4"
    try:
        return version, Image.from_zarr(group)
    except ValidationError as error:
        problem = error.errors()[0] if error.errors() else {"loc": (), "msg": str(error)}
        field = ".".join(str(p) for p in problem.get("loc", ()))
        raise ValueError(
            f"{where}: not a valid OME-Zarr {version} image ({field + ': ' if field else ''}{problem['msg']})"[:300]
        ) from None
    except Exception as error:  # ome-zarr-models raises plain errors for missing or mismatched arrays
        raise ValueError(f"{where}: not a valid OME-Zarr {version} image ({error})"[:300]) from None


def _compose(transforms: Sequence[Any] | None, ndim: int, where: str) -> tuple[list[float], list[float]]:
    scale, translation = [1.0] * ndim, [0.0] * ndim
    for transform in transforms or ():
        if getattr(transform, "type", None) == "scale" and hasattr(transform, "scale"):
            scale = [s * float(v) for s, v in zip(scale, transform.scale, strict=True)]
            translation = [t * float(v) for t, v in zip(translation, transform.scale, strict=True)]
        elif getattr(transform, "type", None) == "translation" and hasattr(transform, "translation"):
            translation = [t + float(v) for t, v in zip(translation, transform.translation, strict=True)]
        else:
            raise ValueError(f"{where}: transformations stored in files (path=…) are not supported")
    return scale, translation


def read_ngff_image(group, where: str) -> NgffImage:
    """Validate ``group`` as an OME-Zarr image and return its first multiscale image.
    ``where`` names the group in error messages."""
    version, model = _model(group, where)
    multiscales = model.ome_attributes.multiscales if version == "0.5" else model.attributes.multiscales
    multiscale = multiscales[0]
    axes = list(multiscale.axes)
    ndim = len(axes)
    outer = multiscale.coordinateTransformations
    space = [i for i, axis in enumerate(axes) if axis.type == "space"]
    outer_scale, outer_translation = _compose(outer, ndim, where)
    levels = []
    for dataset in multiscale.datasets:
        scale, translation = _compose(dataset.coordinateTransformations, ndim, where)
        # the multiscale-wide transformations apply after the level's own
        scale = [s * o for s, o in zip(scale, outer_scale, strict=True)]
        translation = [t * o + u for t, o, u in zip(translation, outer_scale, outer_translation, strict=True)]
        levels.append(NgffLevel(dataset.path, tuple(scale[i] for i in space), tuple(translation[i] for i in space)))
    return NgffImage(
        version=version,
        axis_names=tuple(str(axis.name) for axis in axes),
        axis_types=tuple(axis.type for axis in axes),
        units=tuple(axes[i].unit if isinstance(axes[i].unit, str) else None for i in space),
        levels=tuple(levels),
    )
