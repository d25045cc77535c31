"""Config of :class:`DummyArchitecture` (DaCapo's ``DummyArchitectureConfig``)."""

from __future__ import annotations

import attr

from .architecture_config import ArchitectureConfig, lazy_type


@attr.s
class DummyArchitectureConfig(ArchitectureConfig):
    """A test config: builds a one-convolution network and never verifies."""

    architecture_type = lazy_type(".dummy_architecture:DummyArchitecture")  # imported on first use (torch)

    num_in_channels: int = attr.ib(metadata={"help_text": "Dummy attribute."})
    num_out_channels: int = attr.ib(metadata={"help_text": "Dummy attribute."})

    def verify(self) -> tuple[bool, str]:
        return False, "This is a DummyArchitectureConfig and is never valid"
