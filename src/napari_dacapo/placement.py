"""Where an array's voxels sit in the world: the one place that computes it.

A :class:`Placement` is a voxel size and the world position of the *centre* of voxel 0, the
convention of napari (``scale``/``translate``), OME-NGFF (``scale``/``translation``) and
neuroglancer. funlib and daisy store the *corner* of voxel 0 instead (``offset``): voxel ``i``
covers ``[offset + i * voxel_size, offset + (i + 1) * voxel_size)``, so
``offset = centre - voxel_size / 2`` (:attr:`Placement.corner`, :meth:`Placement.from_corner`).

A network's output is placed by where, in input voxels, the centre of its voxel 0 falls
(a :class:`~fractions.Fraction` per axis: valid padding shifts it by half the context,
super-resolution puts it between input voxels) and by its upsampling factor
(:meth:`Placement.of_output`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

__all__ = ["Placement"]


def _floats(values: Sequence[float]) -> tuple[float, ...]:
    return tuple(float(v) for v in values)


@dataclass(frozen=True)
class Placement:
    """Voxel size and the world position of voxel 0's centre, per axis."""

    voxel_size: tuple[float, ...]
    origin: tuple[float, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "voxel_size", _floats(self.voxel_size))
        object.__setattr__(self, "origin", _floats(self.origin))
        if len(self.voxel_size) != len(self.origin):
            raise ValueError(f"voxel size {self.voxel_size} and origin {self.origin} have different lengths")

    @classmethod
    def unit(cls, dims: int) -> Placement:
        """Voxels of size 1 with voxel 0 centred on the world origin (array indices)."""
        return cls((1.0,) * dims, (0.0,) * dims)

    @classmethod
    def of(cls, voxel_size: Sequence[float] | None, origin: Sequence[float] | None, dims: int) -> Placement:
        """``voxel_size`` and ``origin`` where given, ones and zeros where None."""
        return cls(
            tuple(voxel_size) if voxel_size is not None else (1.0,) * dims,
            tuple(origin) if origin is not None else (0.0,) * dims,
        )

    @classmethod
    def from_corner(cls, voxel_size: Sequence[float], offset: Sequence[float]) -> Placement:
        """From funlib's ``offset`` (the corner of voxel 0)."""
        return cls(tuple(voxel_size), tuple(o + v / 2 for o, v in zip(offset, voxel_size, strict=True)))

    @property
    def dims(self) -> int:
        return len(self.voxel_size)

    @property
    def corner(self) -> tuple[float, ...]:
        """funlib's ``offset``: the world position of voxel 0's corner."""
        return tuple(o - v / 2 for o, v in zip(self.origin, self.voxel_size, strict=True))

    def at(self, begin: Sequence[int | Fraction]) -> Placement:
        """The placement of the part of the array that starts at voxel ``begin``."""
        return Placement(
            self.voxel_size,
            tuple(o + float(b) * v for o, b, v in zip(self.origin, begin, self.voxel_size, strict=True)),
        )

    def of_output(self, first_centre: Sequence[Fraction], upsample: Sequence[int] | None = None) -> Placement:
        """The placement of a network output over this array: its voxel 0 has its centre at
        ``first_centre`` (input voxels from the centre of input voxel 0), and its voxels are
        ``upsample`` times smaller."""
        upsample = tuple(upsample) if upsample is not None else (1,) * self.dims
        return Placement(
            tuple(v / a for v, a in zip(self.voxel_size, upsample, strict=True)),
            self.at(first_centre).origin,
        )

    def __getitem__(self, axes: slice) -> Placement:
        """The placement of some axes: ``placement[-3:]`` for the last three."""
        if not isinstance(axes, slice):
            raise TypeError(f"index a Placement with a slice of axes, not {type(axes).__name__}")
        return Placement(self.voxel_size[axes], self.origin[axes])

    def __add__(self, other: Placement) -> Placement:
        """This placement's axes followed by ``other``'s (leading axes, then spatial ones)."""
        return Placement(self.voxel_size + other.voxel_size, self.origin + other.origin)

    def as_tuple(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """``(voxel_size, origin)``: napari's ``(scale, translate)``."""
        return self.voxel_size, self.origin
