"""Moved: both npe2 readers are in :mod:`napari_dacapo._reader`."""

from ._reader import get_zarr_reader, zarr_layers

__all__ = ["get_zarr_reader", "zarr_layers"]
