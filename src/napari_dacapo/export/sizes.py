"""The input sizes a network accepts and the output sizes it gives, as bioimage.io declares them.

bioimage.io 0.5 describes a space axis of the input as ``ParameterizedSize(min, step)``: the
sizes ``min + n * step``; an output axis as ``SizeReference(input axis, offset)``: the size
``input size * input scale / output scale + offset``. For a valid-padding U-Net, the valid
inputs along an axis are ``input_shape + k * step`` with ``step`` the product of its
downsampling factors, and the output is ``input * upsample_factor - context * upsample_factor``.
"""

from __future__ import annotations

from dataclasses import dataclass

from funlib.geometry import Coordinate

from ..architectures import Architecture

__all__ = ["AxisSizes", "axis_sizes"]

CHECKED_SIZES = 4
"""How many declared sizes (``min + n * step``, n = 0, 1, ...) are checked against the network."""


@dataclass(frozen=True)
class AxisSizes:
    """One space axis: valid inputs ``min + n * step``; output ``input * upsample + offset``."""

    min: int
    step: int
    upsample: int
    offset: int

    def input_size(self, n: int) -> int:
        return self.min + n * self.step

    def output_size(self, input_size: int) -> int:
        return input_size * self.upsample + self.offset


def _step(network: Architecture) -> Coordinate:
    geometry = getattr(network, "geometry", None)
    if geometry is not None and hasattr(geometry, "total_downsample"):
        return Coordinate(geometry.total_downsample)
    return Coordinate((1,) * network.dims)


def _accepts(network: Architecture, shape: Coordinate) -> Coordinate | None:
    try:
        out = Coordinate(network.output_shape(shape))
    except ValueError:  # ShapeError: the network cannot take this input
        return None
    return out if all(v > 0 for v in out) else None


def axis_sizes(network: Architecture) -> list[AxisSizes]:
    """The declared sizes of each space axis of ``network``, checked against its shape walk.

    The smallest valid input is found by stepping down from ``input_shape`` by the step
    while the network still accepts it (each axis on its own, the others at ``input_shape``).
    Raises ``ValueError`` if ``input_shape`` is not valid, or if a declared size
    ``min + n * step`` (n < 4) is refused or gives an output other than the declared one.
    """
    base = Coordinate(network.input_shape)
    step = _step(network)
    upsample = Coordinate(network.upsample_factor)
    base_out = _accepts(network, base)
    if base_out is None:
        raise ValueError(f"the network does not accept its own input_shape {tuple(base)}")
    sizes = []
    for axis in range(network.dims):

        def with_size(size: int, axis: int = axis) -> Coordinate:
            return Coordinate(tuple(size if i == axis else v for i, v in enumerate(base)))

        smallest = base[axis]
        while smallest - step[axis] > 0 and _accepts(network, with_size(smallest - step[axis])) is not None:
            smallest -= step[axis]
        offset = base_out[axis] - base[axis] * upsample[axis]
        declared = AxisSizes(smallest, step[axis], upsample[axis], offset)
        for n in range(CHECKED_SIZES):
            size = declared.input_size(n)
            out = _accepts(network, with_size(size))
            if out is None or out[axis] != declared.output_size(size):
                got = "refused" if out is None else f"output {out[axis]}"
                raise ValueError(
                    f"axis {axis}: input size {size} (= {smallest} + {n} × {step[axis]}) gives {got}, "
                    f"not the declared output {declared.output_size(size)}"
                )
        sizes.append(declared)
    return sizes
