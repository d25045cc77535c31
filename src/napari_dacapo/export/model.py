"""The architecture callable of an exported package's ``pytorch_state_dict`` weights.

A bioimage.io package names ``napari_dacapo.export.model.dacapo_network`` with the network's
DaCapo config (and its prediction head, if any) as keyword arguments; a consumer with
napari-dacapo installed builds the same module and loads the package's state dict into it.
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["dacapo_network"]


def dacapo_network(
    config: dict[str, Any], head: dict[str, Any] | None = None, halo: list[int] | None = None
) -> torch.nn.Module:
    """The network of the DaCapo architecture config ``config`` (a dict with ``__type__``).

    ``head``: ``{"in_channels", "out_channels", "bias"}`` (and ``"kernel_size"``, default 1,
    and the task's ``"activation"``, e.g. ``"sigmoid"``) of a DaCapo run's prediction head,
    which then follows the architecture (as in a run checkpoint). ``halo``: the output padded
    back to the input's size by this many zeros per side (the blocking-friendly export).
    """
    from ..architectures import as_architecture
    from ..io import config_from_dict

    network = as_architecture(config_from_dict(dict(config), "bioimage.io kwargs"))
    if head is not None:
        network = _with_head(network, head)
    if halo:
        from .halo import OutputPadded

        return OutputPadded(network, halo).eval()
    return network


def _with_head(network, head: dict[str, Any]) -> torch.nn.Module:
    from ..io.checkpoints import ArchitectureWithHead

    conv = {2: torch.nn.Conv2d, 3: torch.nn.Conv3d}[network.dims]
    kernel = int(head.get("kernel_size", 1))
    layer = conv(int(head["in_channels"]), int(head["out_channels"]), kernel, bias=bool(head.get("bias", True)))
    activation = {None: None, "sigmoid": torch.nn.Sigmoid()}[head.get("activation")]
    return ArchitectureWithHead(network, layer, activation).eval()
