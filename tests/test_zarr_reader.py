"""Predictions written by the command line open in napari on top of their input."""

import numpy as np
import zarr

from napari_dacapo._reader import get_zarr_reader, zarr_layers
from napari_dacapo.cli import main
from napari_dacapo.networks import demo_model
from napari_dacapo.sample_data import synthetic_em


def predict_into(tmp_path, pad):
    model = demo_model(2)
    root = zarr.open_group(store=str(tmp_path / "em.zarr"), mode="a")
    raw = root.create_array("raw", shape=(90, 100), chunks=(50, 50), dtype="uint8", overwrite=True)
    raw[:] = synthetic_em((90, 100), seed=8).raw
    raw.attrs.update({"voxel_size": [4, 6], "offset": [100, 40]})
    args = ["predict", str(model.config_path), "--weights", str(model.weights_path), "--devices", "cpu"]
    assert (
        main([*args, "--input", f"{tmp_path}/em.zarr/raw", "--output", f"{tmp_path}/em.zarr/{pad}", "--pad", pad]) == 0
    )


def test_a_container_opens_as_its_placed_arrays_with_predictions_on_top(tmp_path):
    predict_into(tmp_path, "reflect")
    layers = {kwargs["name"]: (data, kwargs) for data, kwargs, _ in zarr_layers(str(tmp_path / "em.zarr"))}
    assert set(layers) == {"raw", "reflect"}
    raw, pred = layers["raw"][1], layers["reflect"][1]
    # napari places voxel centres: translate = offset + voxel_size / 2
    assert raw["scale"] == [4, 6] and raw["translate"] == [102, 43]
    assert pred["scale"] == raw["scale"] and pred["translate"] == raw["translate"]
    assert pred["channel_axis"] == 0
    np.testing.assert_array_equal(
        np.asarray(layers["reflect"][0]), zarr.open_array(store=f"{tmp_path}/em.zarr/reflect/s0", mode="r")[:]
    )


def test_a_valid_prediction_is_shifted_by_half_the_context(tmp_path):
    predict_into(tmp_path, "valid")
    ((_, kwargs, _),) = zarr_layers(str(tmp_path / "em.zarr/valid"))
    context = 40  # the 2D demo network: input 132 → output 92
    assert kwargs["translate"] == [102 + 4 * context / 2, 43 + 6 * context / 2]


def test_an_unfinished_prediction_says_so_and_foreign_paths_are_left_alone(tmp_path):
    predict_into(tmp_path, "reflect")
    array = zarr.open_array(store=f"{tmp_path}/em.zarr/reflect/s0", mode="r+")
    array.attrs["napari_dacapo"] = {**array.attrs["napari_dacapo"], "complete": False}
    ((_, kwargs, _),) = zarr_layers(str(tmp_path / "em.zarr/reflect"))
    assert kwargs["name"] == "reflect (incomplete)"
    assert get_zarr_reader(str(tmp_path / "nothing.zarr")) is None
    plain = zarr.open_group(store=str(tmp_path / "plain.zarr"), mode="w")
    plain.create_array("x", shape=(4, 4), dtype="f4")
    assert get_zarr_reader(str(tmp_path / "plain.zarr")) is None


def test_napari_opens_the_container_through_the_plugin(make_napari_viewer, tmp_path):
    predict_into(tmp_path, "reflect")
    viewer = make_napari_viewer()
    viewer.open(str(tmp_path / "em.zarr"), plugin="napari-dacapo")
    assert [layer.name for layer in viewer.layers] == ["raw", "reflect"]
    np.testing.assert_allclose(viewer.layers["reflect"].translate, viewer.layers["raw"].translate)
    np.testing.assert_allclose(viewer.layers["reflect"].scale, [4, 6])
