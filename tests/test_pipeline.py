"""The engine's stages — reading ahead, forward passes, cropping on the device, writing
behind — in every combination give the whole-image result; an error in any stage surfaces
once and stops the run; cancelling keeps exactly the finished tiles; no thread is left."""

import logging
import threading

import numpy as np
import pytest
import torch
from reference import small_unet, whole_image_forward

from napari_dacapo import PredictionCancelled, predict
from napari_dacapo.tiling import predict_steps

unet = small_unet

NETWORK = unet()
IMAGE = np.random.default_rng(0).random((130, 110)).astype(np.float32)
CONTEXT = tuple(NETWORK.context)
VALID = tuple(s - c for s, c in zip(IMAGE.shape, CONTEXT, strict=True))  # valid: the image less the context
EXPECTED = whole_image_forward(NETWORK, IMAGE[None], margin=0)[(slice(None), *(slice(0, v) for v in VALID))]


def engine_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("napari-dacapo-")]


def assert_close(actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5 * float(np.abs(expected).max()))


@pytest.mark.parametrize("write_behind", [0, 1, 3])
@pytest.mark.parametrize("prefetch", [1, 4])
@pytest.mark.parametrize("batch_size", [1, 3])
def test_every_stage_combination_gives_the_whole_image_result(write_behind, prefetch, batch_size):
    out = predict(
        NETWORK,
        IMAGE,
        pad="valid",
        device="cpu",
        tile_shape=(52, 48),
        batch_size=batch_size,
        prefetch=prefetch,
        write_behind=write_behind,
    )
    assert_close(out, EXPECTED)
    assert engine_threads() == []


class FailingOutput:
    """An output array whose third write fails (a full disk, say)."""

    def __init__(self, shape):
        self.shape = shape
        self.dtype = np.float32
        self.writes = 0

    def __setitem__(self, key, value):
        self.writes += 1
        if self.writes == 3:
            raise OSError(28, "No space left on device")


@pytest.mark.parametrize("write_behind", [0, 2])
def test_a_writer_error_surfaces_once_and_stops_the_run(write_behind):
    out = FailingOutput((2, *VALID))
    with pytest.raises(OSError, match="No space left on device"):
        predict(NETWORK, IMAGE, pad="valid", device="cpu", tile_shape=(44, 44), out=out, write_behind=write_behind)
    assert out.writes == 3  # nothing more was written after the error
    assert engine_threads() == []


def test_a_reader_error_surfaces_once_and_stops_the_run():
    image = IMAGE.copy()
    image[100, 100] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        predict(NETWORK, image, pad="valid", device="cpu", tile_shape=(44, 44))
    assert engine_threads() == []


@pytest.mark.parametrize("write_behind", [0, 2])
def test_cancel_keeps_exactly_the_finished_tiles(write_behind):
    out = np.full((2, *VALID), np.nan, np.float32)
    steps = predict_steps(NETWORK, IMAGE, pad="valid", device="cpu", tile_shape=(44, 44), out=out, batch_size=1)
    step = next(steps)
    total = step.total
    for _ in range(3):
        step = next(steps)
    steps.close()  # stop between two batches: 3 tiles are done
    assert engine_threads() == []
    written = ~np.isnan(out[0])
    assert 0 < written.sum() < written.size
    assert_close(out[:, written], EXPECTED[:, written])
    with pytest.raises(PredictionCancelled):
        predict(NETWORK, IMAGE, pad="valid", device="cpu", tile_shape=(44, 44), should_stop=lambda: True)
    assert step.done == 3 and total > 3
    assert engine_threads() == []


def test_autocast_is_kept_within_its_tolerance_and_given_up_beyond_it(monkeypatch, caplog):
    import napari_dacapo.tiling.forward as forward

    exact = predict(NETWORK, IMAGE, pad="valid", device="cpu")
    kept = predict(NETWORK, IMAGE, pad="valid", device="cpu", dtype="bfloat16")
    assert not np.array_equal(kept, exact)  # bfloat16 was used
    assert np.abs(kept - exact).max() <= 0.1 * max(1.0, float(np.abs(exact).max()))
    monkeypatch.setitem(forward.AUTOCAST_TOLERANCE, torch.bfloat16, 0.0)
    with caplog.at_level(logging.WARNING, logger="napari_dacapo.tiling.forward"):
        fallen = predict(NETWORK, IMAGE, pad="valid", device="cpu", dtype="bfloat16")
    np.testing.assert_array_equal(fallen, exact)  # float32, as if asked
    assert "bfloat16 autocast is" in caplog.text and "predicting in float32" in caplog.text


def test_bad_stage_options_are_named():
    with pytest.raises(ValueError, match="write_behind must be a whole number 0 or more"):
        predict(NETWORK, IMAGE, write_behind=-1)


def test_device_tiles_are_the_largest_valid_tile_that_fits():
    from napari_dacapo.tiling.memory import DEVICE_SHARE, device_tile_shape, estimate_tile_memory

    net = unet(dims=3)
    configured = net.input_shape + net.eval_shape_increase
    need = estimate_tile_memory(net, configured)
    free = int(40 * need / DEVICE_SHARE)  # room for the configured tile 20 times over (2× each)
    tile = device_tile_shape(net, (400, 400, 400), free)
    assert tile is not None and net.geometry.is_valid_input(tuple(tile))
    assert all(t > c for t, c in zip(tile, configured, strict=True))
    assert 2 * estimate_tile_memory(net, tile) <= DEVICE_SHARE * free
    step = net.geometry.total_downsample
    assert 2 * estimate_tile_memory(net, tile + step) > DEVICE_SHARE * free  # one step more does not fit
    assert device_tile_shape(net, (400, 400, 400), free=need) is None  # not even one step more fits
    small_image = device_tile_shape(net, (50, 50, 50), free * 100)
    assert small_image is not None
    assert all(t <= 50 + c + s for t, c, s in zip(small_image, net.context, step, strict=True))


def test_the_kept_heap_is_set_once_for_nested_runs_and_undone_after(monkeypatch):
    import napari_dacapo.tiling.forward as forward

    calls = []

    class FakeLibc:
        def mallopt(self, parameter, value):
            calls.append(("mallopt", parameter, value))
            return 1

        def malloc_trim(self, pad):
            calls.append(("trim", pad))
            return 1

    monkeypatch.setattr(forward, "_libc", lambda: FakeLibc())
    with forward.kept_heap(), forward.kept_heap():
        assert [c[0] for c in calls] == ["mallopt", "mallopt"]  # set once, for the outer run
    defaults = [("mallopt", p, v) for p, v in forward._GLIBC_DEFAULTS.items()]
    assert calls[2:] == [*defaults, ("trim", 0)]  # glibc's defaults back, the kept memory returned


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16, np.bool_])
@pytest.mark.parametrize("pad", ["reflect", "zero", "valid"])
def test_raw_tiles_converted_on_the_device_give_the_same_values(dtype, pad):
    rng = np.random.default_rng(7)
    if dtype == np.bool_:
        image = rng.random((100, 90)) > 0.5
    else:
        info = np.iinfo(dtype)
        image = rng.integers(max(info.min, -1000), min(info.max, 5000), (100, 90)).astype(dtype)
    options = dict(pad=pad, device="cpu", tile_shape=(52, 48))
    converted = predict(NETWORK, image, raw_transfer=False, **options)
    raw = predict(NETWORK, image, raw_transfer=True, **options)
    np.testing.assert_array_equal(raw, converted)  # the same IEEE division, on the host or the device


def test_the_autocast_check_runs_once_per_network_and_weights(monkeypatch):
    import napari_dacapo.tiling.forward as forward

    network = unet()
    passes = []
    network.register_forward_hook(lambda module, inputs, output: passes.append(output.dtype))
    exact = predict(network, IMAGE, pad="valid", device="cpu", tile_shape=(IMAGE.shape), dtype="float32")
    passes.clear()
    first = predict(network, IMAGE, pad="valid", device="cpu", tile_shape=IMAGE.shape, dtype="bfloat16")
    assert passes == [torch.bfloat16, torch.float32]  # the one tile, then its float32 check
    passes.clear()
    again = predict(network, IMAGE, pad="valid", device="cpu", tile_shape=IMAGE.shape, dtype="bfloat16")
    assert passes == [torch.bfloat16]  # the same weights: the verdict stands
    np.testing.assert_array_equal(again, first)
    trained = {name: value.clone() for name, value in network.state_dict().items()}
    with torch.no_grad():  # new weights (as a checkpoint loaded into the same network): checked again
        next(network.parameters()).mul_(1.5)
    passes.clear()
    predict(network, IMAGE, pad="valid", device="cpu", tile_shape=IMAGE.shape, dtype="bfloat16")
    assert passes == [torch.bfloat16, torch.float32]
    network.load_state_dict(trained)
    monkeypatch.setitem(forward.AUTOCAST_TOLERANCE, torch.bfloat16, 0.0)  # a verdict holds for its tolerance
    for expected in ([torch.bfloat16, torch.float32], [torch.float32]):  # checked, fell back; then float32 at once
        passes.clear()
        fallen = predict(network, IMAGE, pad="valid", device="cpu", tile_shape=IMAGE.shape, dtype="bfloat16")
        assert passes == expected
        np.testing.assert_array_equal(fallen, exact)


def test_auto_precision_is_bfloat16_only_where_the_device_has_it(monkeypatch):
    import napari_dacapo.tiling.devices as devices
    from napari_dacapo.tiling import PredictOptions

    for native, expected in ((True, torch.bfloat16), (False, torch.float32)):
        monkeypatch.setattr(devices, "fast_bfloat16", lambda device, native=native: native)
        assert PredictOptions(dtype="auto", device="cpu").torch_dtype == expected
        assert PredictOptions(dtype="float16", device="cpu").torch_dtype == torch.float16  # asked for: kept
    with pytest.raises(ValueError, match="'float64' is not a valid choice for 'dtype'"):
        PredictOptions(dtype="float64")
