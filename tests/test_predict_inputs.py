"""The engine on numpy, dask and zarr; bad input gets clear errors; cancel keeps finished tiles."""

import dask.array as da
import numpy as np
import pytest
import torch
import zarr
from reference import whole_image_forward
from test_tiling_exact import assert_close, unet

from napari_dacapo import PredictionCancelled, predict
from napari_dacapo.architectures import CNNectomeUNetConfig, ShapeError
from napari_dacapo.tiling import available_devices, resolve_device


@pytest.fixture
def network():
    return unet(dims=3, input_shape=(20, 20, 20))


@pytest.fixture
def image():
    return np.random.default_rng(5).random((30, 41, 37), dtype=np.float32)


def expected_valid(network, image):
    out = whole_image_forward(network, image[None])
    return out[:, : image.shape[0] - 16, : image.shape[1] - 16, : image.shape[2] - 16]


def test_dask_and_zarr_inputs_and_zarr_output(network, image, tmp_path):
    expected = expected_valid(network, image)
    lazy = da.from_array(image, chunks=(10, 10, 10))
    assert_close(predict(network, lazy, pad="valid", tile_shape=(24, 28, 24)), expected)
    store = zarr.open_array(tmp_path / "in.zarr", mode="w", shape=image.shape, chunks=(16, 16, 16), dtype="f4")
    store[:] = image
    out = zarr.open_array(tmp_path / "out.zarr", mode="w", shape=expected.shape, chunks=(2, 8, 8, 8), dtype="f4")
    returned = predict(network, store, pad="valid", out=out, tile_shape=(24, 28, 24))
    assert returned is out
    assert_close(zarr.open_array(tmp_path / "out.zarr", mode="r")[:], expected)


def test_uint8_is_scaled_to_unit_range(network):
    raw = np.random.default_rng(6).integers(0, 256, (26, 26, 26), dtype=np.uint8)
    result = predict(network, raw, pad="valid")
    assert_close(result, expected_valid(network, raw.astype(np.float32) / 255))


def test_multichannel_image_needs_its_channel_axis():
    network = unet(dims=2, fmaps_in=2, input_shape=(44, 44))
    image = np.random.default_rng(7).random((2, 50, 60), dtype=np.float32)
    result = predict(network, image, pad="valid")
    assert_close(result, whole_image_forward(network, image)[:, :34, :44])
    with pytest.raises(ValueError, match="reads 2 channels, the image has 3"):
        predict(network, np.zeros((3, 50, 60), np.float32))
    with pytest.raises(ValueError, match=r"expected an image of shape \(channels"):
        predict(network, np.zeros((50, 60), np.float32))


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros((30, 30), np.float32), "expected an image with 3 axes, got shape (30, 30)"),
        (np.zeros((0, 30, 30), np.float32), "the image is empty"),
    ],
)
def test_wrong_dims_and_empty(network, bad, message):
    with pytest.raises(ValueError) as error:
        predict(network, bad)
    assert message in str(error.value)


def test_image_smaller_than_the_context_in_valid_mode(network):
    with pytest.raises(ShapeError, match=r"smaller than the network's context \(16 voxels\)"):
        predict(network, np.zeros((10, 40, 40), np.float32), pad="valid")


def test_nan_is_refused_with_its_place(network, image):
    image[3, 4, 5] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        predict(network, image)


def test_config_that_does_not_verify():
    config = CNNectomeUNetConfig(
        name="bad",
        input_shape=(45, 44),
        fmaps_out=1,
        fmaps_in=1,
        num_fmaps=2,
        fmap_inc_factor=2,
        downsample_factors=[(2, 2)],
    )
    with pytest.raises(ValueError, match="config 'bad' does not verify: .*cannot be downsampled"):
        predict(config, np.zeros((60, 60), np.float32))


def test_bad_options(network, image):
    with pytest.raises(ValueError, match="'tiles' is not a valid choice for 'pad'"):
        predict(network, image, pad="tiles")
    with pytest.raises(ValueError, match="'out' has shape"):
        predict(network, image, out=np.zeros((1, 2, 3), np.float32))
    with pytest.raises(ValueError, match="batch_size"):
        predict(network, image, batch_size=0)


def test_cancel_keeps_finished_tiles_and_says_how_far(network, image):
    out = np.full((2, 30, 41, 37), np.nan, np.float32)
    calls = []

    def stop_after_three():
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(PredictionCancelled) as cancelled:
        predict(network, image, out=out, should_stop=stop_after_three, tile_shape=(24, 24, 24), batch_size=1)
    assert cancelled.value.tiles_done == 3
    assert cancelled.value.tiles_total > 3
    assert "after 3 of" in str(cancelled.value)
    finished = ~np.isnan(out[0])
    assert finished.any() and not finished.all()
    complete = predict(network, image, tile_shape=(24, 24, 24))
    assert_close(out[:, finished], complete[:, finished])


def test_progress_counts_tiles_and_batches_change_nothing(network, image):
    seen = []
    one = predict(network, image, tile_shape=(24, 24, 24), batch_size=1, progress=lambda d, t: seen.append((d, t)))
    total = seen[-1][1]
    assert seen == [(i + 1, total) for i in range(total)]
    assert_close(predict(network, image, tile_shape=(24, 24, 24), batch_size=3), one)


def test_devices():
    assert "cpu" in available_devices()
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type in (expected, "mps")


def test_a_stack_of_slices_is_predicted_slice_by_slice():
    from napari_dacapo.tiling import leading_axes, predict_stack_steps

    config = CNNectomeUNetConfig(
        name="s",
        input_shape=(44, 44),
        fmaps_out=2,
        fmaps_in=1,
        num_fmaps=3,
        fmap_inc_factor=2,
        downsample_factors=[(2, 2)],
    )
    torch.manual_seed(0)
    network = config.architecture_type(config).eval()
    stack = np.random.default_rng(0).random((2, 3, 50, 61), dtype=np.float32)
    assert leading_axes(network, stack) == 2 and leading_axes(network, stack[0, 0]) == 0
    steps = list(predict_stack_steps(network, stack, device="cpu"))
    from napari_dacapo import plan_prediction

    tiles_per_slice = len(plan_prediction(network, (50, 61)).tiles)
    assert steps[0].done == 0 and steps[-1].done == steps[-1].total == 6 * tiles_per_slice
    generator = predict_stack_steps(network, stack, device="cpu")
    while True:
        try:
            next(generator)
        except StopIteration as finished:
            result = finished.value
            break
    assert result.shape == (2, 2, 3, 50, 61)
    for i in range(2):
        for j in range(3):
            np.testing.assert_allclose(result[:, i, j], predict(network, stack[i, j], device="cpu"), rtol=1e-6)


def test_a_monitor_stops_a_run_inside_a_tile_within_one_layer(network, image):
    from napari_dacapo.tiling import Monitor, predict_steps

    monitor = Monitor()
    layers = [m for m in network.modules() if not list(m.children())]
    run_after_stop = []

    def count(module, _inputs):
        if monitor.stop.is_set():
            run_after_stop.append(module)
        elif module is layers[len(layers) // 2]:  # halfway through the first tile
            monitor.stop.set()

    hooks = [layer.register_forward_pre_hook(count) for layer in layers]
    try:
        with pytest.raises(PredictionCancelled) as cancelled:
            for _ in predict_steps(network, image, monitor=monitor, device="cpu", tile_shape=(24, 24, 24)):
                pass
    finally:
        for hook in hooks:
            hook.remove()
    assert cancelled.value.tiles_done == 0 and cancelled.value.tiles_total > 1
    # the engine checks each layer after our hook: the layer that set the stop did not run,
    # nor did any after it
    assert run_after_stop == []
    assert 0 < monitor.inside_tile < 1
    assert not any(layer._forward_pre_hooks for layer in layers)  # the engine's checks are gone


def test_a_monitor_sees_each_forward_pass_through(network, image):
    from napari_dacapo.tiling import Monitor, predict_steps

    monitor, seen = Monitor(), []
    steps = predict_steps(network, image, monitor=monitor, device="cpu", tile_shape=(24, 24, 24))
    for step in steps:
        if step.done:
            seen.append(monitor.inside_tile)
    assert seen and all(fraction == 1.0 for fraction in seen)
