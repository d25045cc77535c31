"""A blocking-friendly variant of the exported package: the output as large as the input, the
network's context declared as the output's halo, the input padded with zeros.

bioimageio.core 0.11's own blocking expects each output block to be as large as its input
block (it shifts a valid network's smaller output by the declared offset instead of
shrinking it, and fails with "Block data shape does not match block meta information"). Here
the exported module pads the valid output back to the input's size with zeros (the halo),
which bioimageio.core crops from every block. It pads the sample with zeros (bioimageio.spec
0.5.12 reads any declared padding back as constant, so the package declares that), which gives
the same voxels as napari-dacapo's ``predict(pad="zero")`` — tested for several block sizes.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from funlib.geometry import Coordinate

__all__ = ["OutputPadded", "halo_of"]


def halo_of(network) -> Coordinate:
    """Half the network's context per axis, refused where the output cannot be padded back to
    the input symmetrically (an odd context, super-resolution)."""
    upsample = Coordinate(getattr(network, "upsample_factor", None) or (1,) * network.dims)
    if any(u != 1 for u in upsample):
        raise ValueError("--halo: a super-resolution network's output is not on the input's grid; export it without")
    context = Coordinate(network.context)
    if any(c % 2 for c in context):
        raise ValueError(f"--halo: the context {tuple(context)} is odd on some axis: export it without")
    return context // 2


class OutputPadded(torch.nn.Module):
    """``network`` with its (valid) output padded by ``halo`` zeros on every side: the size
    of its input."""

    def __init__(self, network: torch.nn.Module, halo: Sequence[int]):
        super().__init__()
        self.network = network
        self.halo = tuple(int(h) for h in halo)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.network(x)
        pads = [p for h in reversed(self.halo) for p in (h, h)]
        return torch.nn.functional.pad(y, pads)
