"""Outputs are OME-Zarr 0.5 images that funlib tools read too: validated by ome-zarr-models,
read back by funlib.persistence, placed by voxel centres (OME-Zarr) and corners (funlib)."""

import numpy as np
import pytest
import zarr

from napari_dacapo.cli import main
from napari_dacapo.io.zarr_arrays import open_dataset
from napari_dacapo.io.zarr_outputs import ngff_unit
from napari_dacapo.networks import demo_model
from napari_dacapo.sample_data import synthetic_em

MODEL_2D = demo_model(2)
CONTEXT = 40  # the 2D demo network: 132 → 92 voxels


def write_raw(path, data, voxel_size, offset, units):
    root = zarr.open_group(store=str(path), mode="w")
    raw = root.create_array("raw", shape=data.shape, chunks=(64, 64), dtype=data.dtype)
    raw[:] = data
    raw.attrs.update({"voxel_size": voxel_size, "offset": offset, "axis_names": ["y", "x"], "units": units})
    return f"{path}/raw"


@pytest.fixture(scope="module")
def valid_output(tmp_path_factory):
    """A valid-padding prediction of a placed 2D input with nanometre units."""
    folder = tmp_path_factory.mktemp("ome")
    source = write_raw(folder / "in.zarr", synthetic_em((120, 110), seed=5).raw, [4, 6], [100, 40], ["nm", "nm"])
    output = f"{folder}/out.zarr/pred"
    args = ["predict", str(MODEL_2D.config_path), "--weights", str(MODEL_2D.weights_path), "--devices", "cpu"]
    assert main([*args, "--input", source, "--output", output, "--pad", "valid"]) == 0
    return folder / "out.zarr", "pred"


def test_the_output_is_a_valid_ome_zarr_0_5_image(valid_output):
    from ome_zarr_models.v05 import Image

    container, name = valid_output
    image = Image.from_zarr(zarr.open_group(store=str(container / name), mode="r"))  # raises if invalid
    (multiscale,) = image.ome_attributes.multiscales
    assert [(a.name, a.type, a.unit) for a in multiscale.axes] == [
        ("c", "channel", None),
        ("y", "space", "nanometer"),
        ("x", "space", "nanometer"),
    ]
    scale, translation = multiscale.datasets[0].coordinateTransformations
    assert multiscale.datasets[0].path == "s0"
    assert list(scale.scale) == [1.0, 4.0, 6.0]
    # valid padding: output voxel 0 is centred on input voxel 20 (half the context), whose
    # centre is at offset + 20.5 voxels (funlib's offset is the corner of input voxel 0)
    assert list(translation.translation) == [0.0, 100 + 4 * (CONTEXT / 2 + 0.5), 40 + 6 * (CONTEXT / 2 + 0.5)]


def test_funlib_reads_the_same_placement_and_units(valid_output):
    from funlib.persistence import open_ds

    container, name = valid_output
    ds = open_ds(str(container / name / "s0"))
    assert tuple(ds.voxel_size) == (4, 6)
    assert tuple(ds.offset) == (100 + 4 * CONTEXT // 2, 40 + 6 * CONTEXT // 2)  # the corner of voxel 0
    assert list(ds.units) == ["nm", "nm"]
    assert list(ds.axis_names) == ["c^", "y", "x"]


def test_the_array_carries_zarr_dimension_names(valid_output):
    container, name = valid_output
    array = zarr.open_array(store=str(container / name / "s0"), mode="r")
    assert array.metadata.dimension_names == ("c", "y", "x")


def test_an_output_reads_back_as_an_input_at_the_same_place(valid_output):
    container, name = valid_output
    by_group = open_dataset(f"{container}/{name}", dims=2)  # the image group
    by_level = open_dataset(f"{container}/{name}/s0", dims=2)  # its level: the group's metadata still rules
    for found in (by_group, by_level):
        assert found.voxel_size == (4.0, 6.0)
        assert found.offset == (100 + 4 * CONTEXT / 2, 40 + 6 * CONTEXT / 2)
        assert found.units == ("nanometer", "nanometer")


def test_napari_dacapo_reader_and_ome_metadata_agree(valid_output):
    from napari_dacapo._reader import zarr_layers

    container, name = valid_output
    ((_, kwargs, _),) = zarr_layers(f"{container}/{name}")
    assert kwargs["name"] == "pred"
    ome = zarr.open_group(store=str(container / name), mode="r").attrs["ome"]
    transforms = ome["multiscales"][0]["datasets"][0]["coordinateTransformations"]
    assert kwargs["scale"] == transforms[0]["scale"][1:]
    assert kwargs["translate"] == transforms[1]["translation"][1:]


@pytest.mark.parametrize(
    "unit,name", [("nm", "nanometer"), ("µm", "micrometer"), ("um", "micrometer"), ("nanometer", "nanometer")]
)
def test_units_get_their_ome_zarr_names(unit, name):
    assert ngff_unit(unit) == name


@pytest.mark.parametrize("unit", ["", None, "pixel", "furlongs"])
def test_units_ome_zarr_does_not_know_are_left_out(unit):
    assert ngff_unit(unit) is None


def test_an_input_without_units_gives_axes_without_units(tmp_path):
    from ome_zarr_models.v05 import Image

    data = np.random.default_rng(2).integers(0, 255, (100, 100), dtype=np.uint8)
    root = zarr.open_group(store=str(tmp_path / "in.zarr"), mode="w")
    root.create_array("raw", shape=data.shape, dtype=data.dtype)[:] = data
    args = ["predict", str(MODEL_2D.config_path), "--weights", str(MODEL_2D.weights_path), "--devices", "cpu"]
    assert main([*args, "--input", f"{tmp_path}/in.zarr/raw", "--output", f"{tmp_path}/out.zarr/p"]) == 0
    image = Image.from_zarr(zarr.open_group(store=str(tmp_path / "out.zarr/p"), mode="r"))
    assert [a.unit for a in image.ome_attributes.multiscales[0].axes] == [None, None, None]


def test_n5_is_refused_with_a_clear_message(tmp_path):
    (tmp_path / "volume.n5").mkdir()
    with pytest.raises(ValueError, match="N5 containers cannot be read"):
        open_dataset(f"{tmp_path}/volume.n5/raw", dims=3)
