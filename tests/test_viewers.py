"""Outputs in napari: napari-dacapo's reader places every voxel; napari-ome-zarr applies the
voxel size and units, and keeps a same-size prediction on an OME-Zarr input it opened too;
napari's own default (builtins) is never asked to place anything."""

import numpy as np
import zarr
from ome_zarr_models.v05 import Image
from ome_zarr_models.v05.axes import Axis
from pydantic_zarr.v3 import ArraySpec

from napari_dacapo._reader import get_zarr_reader
from napari_dacapo.cli import main
from napari_dacapo.networks import demo_model
from napari_dacapo.sample_data import synthetic_em

MODEL_2D = demo_model(2)


def write_ngff_input(path, data, voxel_size, centre):
    """An OME-Zarr 0.5 image (y, x) in nanometres, written by ome-zarr-models."""
    axes = [Axis(name="y", type="space", unit="nanometer"), Axis(name="x", type="space", unit="nanometer")]
    spec = ArraySpec.from_array(data, dimension_names=["y", "x"])
    image = Image.new(
        array_specs=[spec], paths=["s0"], axes=axes, scales=[voxel_size], translations=[centre], name="img"
    )
    group = image.to_zarr(zarr.storage.LocalStore(str(path)), path="img")
    group["s0"][:] = data
    return f"{path}/img"


def predict(source, output, pad):
    args = ["predict", str(MODEL_2D.config_path), "--weights", str(MODEL_2D.weights_path), "--devices", "cpu"]
    assert main([*args, "--input", source, "--output", output, "--pad", pad]) == 0


def test_an_ome_zarr_input_and_its_prediction_line_up_in_either_reader(make_napari_viewer, tmp_path):
    data = synthetic_em((90, 100), seed=8).raw
    source = write_ngff_input(tmp_path / "in.zarr", data, [4, 6], [102, 43])
    predict(source, f"{tmp_path}/out.zarr/pred", "reflect")
    viewer = make_napari_viewer()

    (ours,) = viewer.open(f"{tmp_path}/out.zarr/pred", plugin="napari-dacapo")
    # voxel 0's centre is the input's: OME-Zarr translation (102, 43)
    np.testing.assert_allclose(ours.data_to_world((0, 0)), [102, 43])
    np.testing.assert_allclose(ours.scale, [4, 6])

    (raw,) = viewer.open(source, plugin="napari-ome-zarr")
    (pred,) = viewer.open(f"{tmp_path}/out.zarr/pred", plugin="napari-ome-zarr")
    np.testing.assert_allclose(pred.scale, [4, 6])
    np.testing.assert_allclose(pred.data_to_world((0, 0)), raw.data_to_world((0, 0)))
    assert [str(unit) for unit in pred.units] == ["nanometer", "nanometer"]
    assert pred.data.shape == (90, 100)


def test_our_reader_leaves_plain_ome_zarr_images_to_other_plugins(tmp_path):
    source = write_ngff_input(tmp_path / "in.zarr", synthetic_em((64, 64), seed=1).raw, [4, 4], [2, 2])
    assert get_zarr_reader(source) is None
    assert get_zarr_reader(str(tmp_path / "in.zarr")) is None
