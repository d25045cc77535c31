"""OME-Zarr inputs are read through ome-zarr-models: levels, placement, units, and a clear
error for metadata that does not validate."""

import numpy as np
import pytest
import zarr
from ome_zarr_models.v05 import Image
from ome_zarr_models.v05.axes import Axis
from pydantic_zarr.v3 import ArraySpec

from napari_dacapo.io.zarr_arrays import open_dataset


def write_v05(path, shapes, scales, translations, global_scale=None, global_translation=None):
    """An OME-Zarr 0.5 image (c, y, x) built by ome-zarr-models itself."""
    axes = [
        Axis(name="c", type="channel"),
        Axis(name="y", type="space", unit="nanometer"),
        Axis(name="x", type="space", unit="nanometer"),
    ]
    specs = [ArraySpec.from_array(np.zeros(shape, dtype="uint8"), dimension_names=["c", "y", "x"]) for shape in shapes]
    image = Image.new(
        array_specs=specs,
        paths=[f"s{i}" for i in range(len(shapes))],
        axes=axes,
        scales=scales,
        translations=translations,
        global_scale=global_scale,
        global_translation=global_translation,
    )
    group = image.to_zarr(zarr.storage.LocalStore(str(path)), path="img")
    for i, shape in enumerate(shapes):
        group[f"s{i}"][:] = np.arange(np.prod(shape), dtype="uint8").reshape(shape)
    return f"{path}/img"


def test_a_v05_image_opens_at_the_finest_level_with_its_corner_and_units(tmp_path):
    source = write_v05(tmp_path / "in.zarr", [(1, 8, 6), (1, 4, 3)], [[1, 4, 6], [1, 8, 12]], [[0, 2, 3], [0, 4, 6]])
    dataset = open_dataset(source, dims=2)
    assert dataset.array.shape == (1, 8, 6)
    assert dataset.voxel_size == (4, 6)
    # NGFF translation is voxel 0's centre; funlib's offset its corner: 2 - 4/2, 3 - 6/2
    assert dataset.offset == (0, 0)
    assert dataset.units == ("nanometer", "nanometer")


def test_a_level_is_picked_by_voxel_size_or_by_path(tmp_path):
    source = write_v05(tmp_path / "in.zarr", [(1, 8, 6), (1, 4, 3)], [[1, 4, 6], [1, 8, 12]], [[0, 2, 3], [0, 4, 6]])
    by_size = open_dataset(source, dims=2, voxel_size=(8, 12))
    by_path = open_dataset(f"{source}/s1", dims=2)
    assert by_size.array.shape == by_path.array.shape == (1, 4, 3)
    assert by_size.offset == by_path.offset == (0, 0)


def test_multiscale_wide_transformations_apply_after_the_levels_own(tmp_path):
    source = write_v05(
        tmp_path / "in.zarr",
        [(1, 8, 6)],
        [[1, 2, 2]],
        [[0, 1, 1]],
        global_scale=[1, 3, 5],
        global_translation=[0, 10, 20],
    )
    dataset = open_dataset(source, dims=2)
    # world = (index * 2 + 1) * global_scale + global_translation: voxel 0's centre at 13 and 25
    assert dataset.voxel_size == (6, 10)
    assert dataset.offset == (13 - 3, 25 - 5)


def test_metadata_that_does_not_validate_is_refused_in_one_line_naming_the_group(tmp_path):
    source = write_v05(tmp_path / "in.zarr", [(1, 8, 6)], [[1, 4, 6]], [[0, 2, 3]])
    group = zarr.open_group(source, mode="r+")
    ome = dict(group.attrs["ome"])
    ome["multiscales"] = [{**ome["multiscales"][0], "axes": ome["multiscales"][0]["axes"][1:]}]  # 2 axes, 3D array
    group.attrs["ome"] = ome
    with pytest.raises(ValueError, match="not a valid OME-Zarr 0.5 image") as error:
        open_dataset(source, dims=2)
    assert str(tmp_path / "in.zarr" / "img") in str(error.value) and "\n" not in str(error.value)


def test_a_prediction_output_reads_back_as_an_input_in_its_place(tmp_path):
    from napari_dacapo.io.zarr_outputs import create_output

    create_output(
        f"{tmp_path}/out.zarr/pred",
        shape=(2, 10, 12),
        chunks=(2, 5, 6),
        voxel_size=(4, 6),
        offset=(40, 60),
        axis_names=["c^", "y", "x"],
        overwrite=False,
        units=["nm", "nm"],
    )
    dataset = open_dataset(f"{tmp_path}/out.zarr/pred", dims=2)
    assert dataset.array.shape == (2, 10, 12)
    assert dataset.voxel_size == (4, 6) and dataset.offset == (40, 60)
    assert dataset.units == ("nanometer", "nanometer")
