"""The napari docks, driven in a real viewer: form, verify, files, build, predict, cancel, preview."""

from __future__ import annotations

import re
import time
from pathlib import Path

import dask.array as da
import numpy as np
import pytest
import torch
import yaml

from napari_dacapo import plan_prediction, predict
from napari_dacapo.architectures import CNNectomeUNetConfig
from napari_dacapo.io import load_config
from napari_dacapo.networks import demo_model, example_config_paths
from napari_dacapo.widgets import ArchitectureDock, PredictionDock
from napari_dacapo.widgets.registry import NetworkRegistry, RegisteredNetwork


@pytest.fixture
def network_registry() -> NetworkRegistry:
    return NetworkRegistry()


@pytest.fixture
def viewer(make_napari_viewer):
    return make_napari_viewer()


@pytest.fixture
def architecture_dock(viewer, network_registry) -> ArchitectureDock:
    dock = ArchitectureDock(viewer, network_registry=network_registry)
    viewer.window.add_dock_widget(dock)
    return dock


@pytest.fixture
def prediction_dock(viewer, network_registry) -> PredictionDock:
    dock = PredictionDock(viewer, network_registry=network_registry)
    viewer.window.add_dock_widget(dock)
    return dock


def wait_for_run(qtbot, dock, timeout=60_000):
    qtbot.waitUntil(lambda: dock.worker is None, timeout=timeout)


def small_net(dims=2, **changes) -> RegisteredNetwork:
    fields = dict(
        name="small",
        input_shape=(44,) * dims,
        fmaps_out=2,
        fmaps_in=1,
        num_fmaps=3,
        fmap_inc_factor=2,
        downsample_factors=[(2,) * dims],
        eval_shape_increase=(16,) * dims,
    )
    fields.update(changes)
    config = CNNectomeUNetConfig(**fields)
    torch.manual_seed(0)
    return RegisteredNetwork(config.name, config, config.architecture_type(config).eval(), None)


# -- architecture dock ---------------------------------------------------------------------


def test_the_form_shows_why_a_config_does_not_verify(architecture_dock):
    form = architecture_dock.form
    assert architecture_dock.status.value == "✓ valid"
    form.fields["input_shape"][1].value = (61, 60, 60)
    assert architecture_dock.status.value.startswith("✗ ")
    assert "cannot be downsampled by 2 at level 0 (axis 0)" in architecture_dock.status.value
    assert architecture_dock.summary.value == ""
    form.fields["input_shape"][1].value = (60, 60, 60)
    assert architecture_dock.status.value == "✓ valid"
    assert "60 × 60 × 60 → 20 × 20 × 20" in architecture_dock.summary.value


def test_switching_to_2d_resizes_every_per_axis_field(architecture_dock):
    form = architecture_dock.form
    form.dims_choice.value = 2
    values = form.values()
    assert values["input_shape"] == (60, 60)
    assert values["eval_shape_increase"] == (48, 48)
    assert values["downsample_factors"] == [(2, 2), (2, 2)]
    assert architecture_dock.status.value == "✓ valid"
    assert "2D" in architecture_dock.summary.value


def test_loading_a_config_file_fills_the_form(architecture_dock):
    path = example_config_paths()["unet2d"]
    architecture_dock.config_file.value = path
    assert architecture_dock.form.config() == load_config(path)
    assert architecture_dock.form.dims == 2


def test_a_broken_config_file_is_reported_in_the_dock(architecture_dock, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("__type__: CNNectomeUNetConfig\nname: x\ninput_shape: [10, 10]\n")
    before = architecture_dock.form.values()
    assert not architecture_dock.load_config(bad)
    assert architecture_dock.message.value.startswith("✗ ")
    assert "bad.yaml" in architecture_dock.message.value
    assert architecture_dock.form.values() == before  # nothing lost


def test_saved_config_loads_back_identical(architecture_dock, tmp_path):
    architecture_dock.form.fields["use_attention"][1].value = True
    architecture_dock.form.fields["kernel_size_down"][1].value = "[[[3,3,3],[3,3,3]]]*3".replace("*3", "")
    target = tmp_path / "net.yaml"
    assert architecture_dock.save_config(target)
    saved = yaml.safe_load(target.read_text())
    assert saved["__type__"] == "CNNectomeUNetConfig" and saved["use_attention"] is True
    assert load_config(target) == architecture_dock.form.config()


def test_build_registers_the_trained_network(architecture_dock, network_registry):
    architecture_dock.start_from.value = "demo_membranes_3d"
    entry = architecture_dock.build()
    assert entry is not None and entry.weights == demo_model(3).weights_path
    assert network_registry.get("demo_membranes_3d") is entry
    assert entry.network.num_out_channels == 1  # the run's prediction head


def test_a_checkpoint_that_does_not_fit_is_reported_in_the_dock(architecture_dock, network_registry):
    architecture_dock.start_from.value = "unet2d"
    architecture_dock.weights_file.value = demo_model(3).weights_path
    assert architecture_dock.build() is None
    assert "does not fit" in architecture_dock.message.value
    assert "unet2d" not in network_registry._networks
    # one line says why; the key listing is behind "details" (and in the tooltip)
    message = architecture_dock.message
    shown = message.native.text()
    assert "\n" not in shown and "<br>" not in shown and shown.endswith('<a href="details">details</a>')
    assert len(message.tooltip) > len(shown) - len('<a href="details">details</a>')
    message.native.linkActivated.emit("details")
    assert message.native.text().endswith('<a href="less">less</a>') and len(message.native.text()) > len(shown)
    message.native.linkActivated.emit("less")
    assert message.native.text() == shown


# -- prediction dock -----------------------------------------------------------------------


def test_predict_adds_a_layer_equal_to_the_core_and_placed_on_the_input(qtbot, viewer, prediction_dock):
    viewer.open_sample("napari-dacapo", "em_image")
    image = viewer.layers["synthetic EM 2D"]
    image.translate = (100.0, -40.0)
    prediction_dock.image.value = image
    prediction_dock.network.value = "demo_membranes_2d"
    prediction_dock.pad.value = "valid"
    prediction_dock.run()
    wait_for_run(qtbot, prediction_dock)
    layer = viewer.layers["synthetic EM 2D · demo_membranes_2d"]
    network = demo_model(2).load()[1]
    expected = predict(network, image.data, pad="valid", device="cpu")[0]
    np.testing.assert_allclose(np.asarray(layer.data), expected, rtol=1e-5, atol=1e-5)
    # valid: output voxel i is the prediction for input voxel i + context / 2
    context = network.context
    np.testing.assert_allclose(layer.scale, (8, 8))
    np.testing.assert_allclose(layer.translate, (100 + 8 * context[0] / 2, -40 + 8 * context[1] / 2))


def test_precision_auto_predicts_in_bfloat16_where_the_processor_has_it(qtbot, viewer, prediction_dock, monkeypatch):
    import napari_dacapo.tiling.devices as devices

    monkeypatch.setattr(devices, "fast_bfloat16", lambda device: True)  # as on a CPU with AVX-512 BF16
    viewer.open_sample("napari-dacapo", "em_image")
    image = viewer.layers["synthetic EM 2D"]
    prediction_dock.image.value, prediction_dock.network.value = image, "demo_membranes_2d"
    assert prediction_dock.precision.value == "auto"
    prediction_dock.run()
    wait_for_run(qtbot, prediction_dock)
    assert prediction_dock.message.value.endswith(", bfloat16")
    layer = viewer.layers["synthetic EM 2D · demo_membranes_2d"]
    exact = predict(demo_model(2).load()[1], image.data, device="cpu")[0]
    difference = np.abs(np.asarray(layer.data) - exact).max()
    assert 0 < difference <= 2e-2 * max(1.0, np.abs(exact).max())  # bfloat16, within the tolerance kept
    prediction_dock.precision.value = "float32"
    prediction_dock.run()
    wait_for_run(qtbot, prediction_dock)
    assert prediction_dock.message.value.endswith(", float32")
    np.testing.assert_allclose(np.asarray(layer.data), exact, rtol=1e-5, atol=1e-5)


def test_super_resolution_output_sits_on_its_input(qtbot, viewer, prediction_dock, network_registry):
    network_registry.add(small_net(2, upsample_factors=[(2, 2)], name="superres"))
    image = viewer.add_image(np.random.default_rng(0).random((70, 90), dtype=np.float32), scale=(4, 6))
    prediction_dock.image.value = image
    prediction_dock.network.value = "superres"
    prediction_dock.run()
    wait_for_run(qtbot, prediction_dock)
    layer = viewer.layers[f"{image.name} · superres"]
    assert layer.data.shape == (2, 140, 180)
    np.testing.assert_allclose(layer.scale, (1, 2, 3))
    # sub-voxel 0 of input voxel 0 (centre 0) spans [-1/2, 0): its centre is -1/4 voxel
    np.testing.assert_allclose(layer.translate, (0, -1, -1.5))
    plan = plan_prediction(network_registry.get("superres").network, image.data.shape)
    assert plan.output_placement((4, 6)) == ((2.0, 3.0), (-1.0, -1.5))


def test_rerun_updates_the_same_layer(qtbot, viewer, prediction_dock):
    viewer.open_sample("napari-dacapo", "em_image")
    prediction_dock.image.value = viewer.layers["synthetic EM 2D"]
    prediction_dock.run()
    wait_for_run(qtbot, prediction_dock)
    first = viewer.layers["synthetic EM 2D · demo_membranes_2d"]
    count = len(viewer.layers)
    prediction_dock.pad.value = "valid"
    prediction_dock.run()
    wait_for_run(qtbot, prediction_dock)
    assert len(viewer.layers) == count
    assert viewer.layers["synthetic EM 2D · demo_membranes_2d"] is first
    assert first.data.shape == (256 - 40, 256 - 40)
    assert prediction_dock.progress.value == 0 and "done in" in prediction_dock.message.value  # bar ready again


def test_threshold_output_is_a_labels_layer(qtbot, viewer, prediction_dock):
    viewer.open_sample("napari-dacapo", "em_image")
    image = viewer.layers["synthetic EM 2D"]
    prediction_dock.image.value = image
    prediction_dock.output.value = "threshold"
    prediction_dock.threshold.value = 0.5
    prediction_dock.run()
    wait_for_run(qtbot, prediction_dock)
    labels = viewer.layers["synthetic EM 2D · demo_membranes_2d labels"]
    expected = predict(demo_model(2).load()[1], image.data, device="cpu")[0] > 0.5
    np.testing.assert_array_equal(np.asarray(labels.data), expected.astype(np.uint8))
    assert type(labels).__name__ == "Labels"


def test_cancel_adds_nothing_and_says_how_far_it_got(qtbot, viewer, prediction_dock, network_registry):
    network_registry.add(small_net(2, eval_shape_increase=(0, 0)))
    viewer.add_image(np.random.default_rng(0).random((300, 300), dtype=np.float32), name="big")
    prediction_dock.image.value = viewer.layers["big"]
    prediction_dock.network.value = "small"
    worker = prediction_dock.run()
    worker.yielded.connect(lambda step: prediction_dock.cancel() if step.done >= 1 else None)
    wait_for_run(qtbot, prediction_dock)
    assert [layer.name for layer in viewer.layers] == ["big"]
    assert "cancelled after" in prediction_dock.message.value
    assert "nothing added" in prediction_dock.message.value
    assert prediction_dock.progress.value < prediction_dock.progress.max


def test_cancel_answers_inside_a_tile_and_progress_moves_within_it(qtbot, viewer, prediction_dock, network_registry):
    """A large tile is interrupted halfway: no layer of the network runs after Cancel (counted,
    not timed), nothing is added, and the dock said how far the tile had got."""
    import threading

    entry = small_net(2, name="one-tile")
    layers = [m for m in entry.network.modules() if not list(m.children())]
    halfway, cancelled = threading.Event(), threading.Event()
    after_cancel = []

    def watch(module, _inputs):
        if cancelled.is_set():
            after_cancel.append(module)
        elif module is layers[len(layers) // 2]:
            halfway.set()
            assert cancelled.wait(60), "Cancel was never pressed"

    hooks = [layer.register_forward_pre_hook(watch) for layer in layers]
    network_registry.add(entry)
    viewer.add_image(np.random.default_rng(1).random((60, 60), dtype=np.float32), name="one")
    prediction_dock.image.value = viewer.layers["one"]
    prediction_dock.network.value = "one-tile"
    prediction_dock.run()
    qtbot.waitUntil(halfway.is_set, timeout=60_000)
    prediction_dock._on_heartbeat()  # what the dock shows twice a second
    assert re.search(r"tile 1 of \d+ \d+%", prediction_dock.message.value), prediction_dock.message.value
    prediction_dock.cancel()
    cancelled.set()
    wait_for_run(qtbot, prediction_dock)
    for hook in hooks:
        hook.remove()
    assert after_cancel == []
    assert [layer.name for layer in viewer.layers] == ["one"]
    assert "cancelled after 0 of" in prediction_dock.message.value
    assert "nothing added" in prediction_dock.message.value


def test_cancel_can_keep_a_marked_partial_result(qtbot, viewer, prediction_dock, network_registry):
    network_registry.add(small_net(2, eval_shape_increase=(0, 0)))
    viewer.add_image(np.random.default_rng(0).random((300, 300), dtype=np.float32), name="big")
    prediction_dock.image.value = viewer.layers["big"]
    prediction_dock.network.value = "small"
    prediction_dock.keep_partial.value = True
    worker = prediction_dock.run()
    worker.yielded.connect(lambda step: prediction_dock.cancel() if step.done >= 2 else None)
    wait_for_run(qtbot, prediction_dock)
    partial = viewer.layers["big · small (partial)"]
    assert partial.metadata["napari_dacapo"]["partial"] is True
    done = np.asarray(partial.data)
    assert 0 < np.count_nonzero(done.any(axis=0)) < done.shape[1] * done.shape[2]


def test_the_gui_thread_serves_events_while_a_tile_is_computed(qtbot, viewer, prediction_dock, network_registry):
    """The forward pass waits until the GUI thread has run a timer: a run that blocked the
    event loop would never finish its first tile (this cannot fail from a busy machine)."""
    import threading

    from qtpy.QtCore import QTimer

    entry = small_net(2, name="waits")
    inside, released = threading.Event(), threading.Event()
    forward = entry.network.forward

    def waiting_forward(x):
        if x.device.type != "meta":  # not the engine's memory estimate
            inside.set()
            assert released.wait(60), "the GUI thread never ran its timer during the forward pass"
        return forward(x)

    entry.network.forward = waiting_forward
    network_registry.add(entry)
    image = np.random.default_rng(4).random((100, 90), dtype=np.float32)
    viewer.add_image(image, name="img")
    prediction_dock.image.value = viewer.layers["img"]
    prediction_dock.network.value = "waits"
    served: list[bool] = []  # for each timer tick while a tile waited: on the main thread?

    def tick():
        if inside.is_set() and not released.is_set():
            served.append(threading.current_thread() is threading.main_thread())
            released.set()

    timer = QTimer()
    timer.timeout.connect(tick)
    timer.start(10)
    prediction_dock.run()
    wait_for_run(qtbot, prediction_dock, timeout=120_000)
    timer.stop()
    assert served == [True]
    entry.network.forward = forward
    expected = predict(entry.network, image, device="cpu")  # two channels: one layer, channel axis first
    np.testing.assert_allclose(viewer.layers["img · waits"].data, expected, rtol=1e-5, atol=1e-5)


def test_a_lazy_layer_is_predicted_into_a_zarr_store(qtbot, viewer, prediction_dock):
    data = np.random.default_rng(3).integers(0, 255, (180, 200), dtype=np.uint8)
    viewer.add_image(da.from_array(data, chunks=(64, 64)), name="lazy")
    prediction_dock.image.value = viewer.layers["lazy"]
    prediction_dock.network.value = "demo_membranes_2d"
    prediction_dock.run()
    wait_for_run(qtbot, prediction_dock)
    layer = viewer.layers["lazy · demo_membranes_2d"]
    assert isinstance(layer.data, da.Array)  # napari reads the zarr store lazily
    said = re.search(r"done in [\d.]+ s, (\d+) tiles? of (\d+) × (\d+) voxels", prediction_dock.message.value)
    assert said, prediction_dock.message.value
    assert int(said[1]) == prediction_dock.progress.max  # the tiles the progress bar counted
    expected = predict(demo_model(2).load()[1], data, device="cpu")[0]
    np.testing.assert_allclose(layer.data.compute(), expected, rtol=1e-5, atol=1e-5)


def test_a_layer_with_the_wrong_dims_is_refused_in_the_dock(viewer, prediction_dock, network_registry):
    network_registry.add(small_net(3, name="net3d"))
    viewer.add_image(np.zeros((50, 50), np.float32), name="flat")
    prediction_dock.image.value = viewer.layers["flat"]
    prediction_dock.network.value = "net3d"
    assert prediction_dock.run() is None
    assert "3D network" in prediction_dock.message.value
    assert len(viewer.layers) == 1


def test_preview_predicts_the_slice_in_view(qtbot, viewer, prediction_dock):
    viewer.open_sample("napari-dacapo", "em_volume")
    image = viewer.layers["synthetic EM 3D"]
    prediction_dock.image.value = image
    viewer.dims.current_step = (20, 64, 64)
    prediction_dock.preview.value = True
    qtbot.waitUntil(lambda: any(la.name.startswith("preview: ") for la in viewer.layers), timeout=60_000)
    layer = next(la for la in viewer.layers if la.name.startswith("preview: "))
    # the smallest valid input of the 3D net predicts a slab of slices around the one in view
    full = predict(demo_model(3).load()[1], image.data, device="cpu")[0]
    z0, y0, x0 = (round((t - o) / 8) for t, o in zip(layer.translate, image.translate, strict=True))
    d, h, w = layer.data.shape
    assert z0 <= 20 < z0 + d
    np.testing.assert_allclose(layer.data, full[z0 : z0 + d, y0 : y0 + h, x0 : x0 + w], rtol=1e-5, atol=1e-5)
    # scrolling to another slice of the slab shows its predicted voxels with no new run
    qtbot.waitUntil(lambda: not prediction_dock._preview_worker.is_running, timeout=10_000)
    other = z0 + d - 1 if z0 + d - 1 != 20 else z0
    workers = prediction_dock._preview_worker
    viewer.dims.current_step = (other, 64, 64)
    assert prediction_dock.refresh_preview() is None and prediction_dock._preview_worker is workers
    assert d > 1 and other != 20
    prediction_dock.preview.value = False
    assert not any(la.name.startswith("preview: ") for la in viewer.layers)


# -- sample data and reader ----------------------------------------------------------------


def test_sample_data_opens_with_its_voxel_size(viewer):
    viewer.open_sample("napari-dacapo", "em_volume")
    layer = viewer.layers["synthetic EM 3D"]
    assert layer.data.shape == (64, 128, 128) and layer.data.dtype == np.uint8
    np.testing.assert_allclose(layer.scale, (8, 8, 8))


def test_opening_a_config_file_fills_the_architecture_dock(viewer):
    from napari_dacapo._reader import get_config_reader

    path = example_config_paths()["superres_unet3d"]
    assert get_config_reader(str(path)) is not None
    viewer.open(str(path), plugin="napari-dacapo")
    dock = viewer.window.dock_widgets["DaCapo architecture (napari-dacapo)"]
    assert len(viewer.layers) == 0
    assert dock.form.config() == load_config(path)


def test_the_reader_leaves_other_yaml_files_alone(tmp_path):
    from napari_dacapo._reader import get_config_reader

    other = tmp_path / "env.yaml"
    other.write_text("dependencies: [numpy]\n")
    assert get_config_reader(str(other)) is None


# -- a 2D network on a 3D image: slice by slice ----------------------------------------------


def test_a_2d_network_predicts_a_3d_layer_slice_by_slice(qtbot, viewer, prediction_dock):
    data = np.random.default_rng(4).integers(0, 255, (3, 70, 90), dtype=np.uint8)
    viewer.add_image(data, name="stack", scale=(30, 4, 4), translate=(100, 10, 20))
    prediction_dock.image.value = viewer.layers["stack"]
    prediction_dock.network.value = "demo_membranes_2d"
    prediction_dock.pad.value = "valid"
    prediction_dock.run()
    wait_for_run(qtbot, prediction_dock)
    layer = viewer.layers["stack · demo_membranes_2d"]
    network = demo_model(2).load()[1]
    expected = np.stack([predict(network, plane, pad="valid", device="cpu")[0] for plane in data])
    np.testing.assert_allclose(layer.data, expected, rtol=1e-5, atol=1e-5)
    # z keeps the stack's placement; y and x move by half the 2D context (40 voxels of 4 nm)
    np.testing.assert_allclose(layer.scale, (30, 4, 4))
    np.testing.assert_allclose(layer.translate, (100, 10 + 20 * 4, 20 + 20 * 4))


def test_preview_of_a_2d_network_on_a_3d_layer_predicts_the_slice_in_view(qtbot, viewer, prediction_dock):
    data = np.random.default_rng(5).integers(0, 255, (4, 100, 100), dtype=np.uint8)
    viewer.add_image(data, name="stack", scale=(30, 4, 4))
    prediction_dock.image.value = viewer.layers["stack"]
    prediction_dock.network.value = "demo_membranes_2d"
    viewer.dims.current_step = (2, 50, 50)
    prediction_dock.preview.value = True
    qtbot.waitUntil(lambda: any(la.name.startswith("preview: ") for la in viewer.layers), timeout=60_000)
    layer = next(la for la in viewer.layers if la.name.startswith("preview: "))
    assert layer.data.shape[0] == 1 and layer.translate[0] == 60  # slice 2 of 30 nm
    full = predict(demo_model(2).load()[1], data[2], device="cpu")[0]
    y0, x0 = (round(t / 4) for t in layer.translate[1:])
    h, w = layer.data.shape[1:]
    np.testing.assert_allclose(layer.data[0], full[y0 : y0 + h, x0 : x0 + w], rtol=1e-5, atol=1e-5)


def test_preview_waits_until_the_view_stops_changing(qtbot, viewer, prediction_dock):
    viewer.open_sample("napari-dacapo", "em_image")
    prediction_dock.image.value = viewer.layers["synthetic EM 2D"]
    prediction_dock.preview.value = True
    qtbot.waitUntil(lambda: prediction_dock._preview_worker is not None, timeout=5_000)
    qtbot.waitUntil(lambda: any(la.name.startswith("preview: ") for la in viewer.layers), timeout=60_000)
    runs = []
    original = prediction_dock.refresh_preview
    prediction_dock.refresh_preview = lambda: runs.append(time.perf_counter()) or original()
    prediction_dock._preview_timer = None  # the timer binds refresh_preview when first created
    camera = viewer.scene.camera
    pans = []
    for step in range(10):  # ten pans, 50 ms apart: one burst of view changes
        pans.append(time.perf_counter())  # before the pan, which (re)starts the timer
        camera.center = (0, 100 + step, 100 + step)
        qtbot.wait(50)
    qtbot.waitUntil(lambda: len(runs) >= 1, timeout=5_000)
    qtbot.wait(400)
    # a preview starts only once the view has been still for 250 ms: a timer never fires
    # before its time (a coarse Qt timer may by 5 %), so these bounds hold however busy the
    # machine is. One preview for the burst, and one more for each pause the machine made
    # between two pans that was as long as that (none on an idle machine).
    still = 0.25 * 0.95
    pauses = sum(b - a >= still for a, b in zip(pans, pans[1:], strict=False))
    assert 1 <= len(runs) <= 1 + pauses
    for run in runs:
        before = [t for t in pans if t < run]
        assert run - before[-1] >= still


def test_outputs_follow_an_input_shown_through_an_affine(qtbot, viewer, prediction_dock):
    data = np.random.default_rng(6).integers(0, 255, (100, 120), dtype=np.uint8)
    angle = np.deg2rad(30)
    rotation = np.array([[np.cos(angle), -np.sin(angle), 7.0], [np.sin(angle), np.cos(angle), -3.0], [0, 0, 1]])
    image = viewer.add_image(data, name="tilted", scale=(4, 4), translate=(10, 20), affine=rotation)
    prediction_dock.image.value = image
    prediction_dock.network.value = "demo_membranes_2d"
    prediction_dock.pad.value = "valid"
    prediction_dock.run()
    wait_for_run(qtbot, prediction_dock)
    output = viewer.layers["tilted · demo_membranes_2d"]
    # output voxel (i, j) is the prediction for input voxel (i + 20, j + 20): same world point
    for i, j in [(0, 0), (5, 40), (59, 79)]:
        np.testing.assert_allclose(output.data_to_world((i, j)), image.data_to_world((i + 20, j + 20)), atol=1e-6)


def test_a_rotated_layer_is_refused_with_a_reason(viewer, prediction_dock):
    viewer.add_image(np.zeros((100, 100), np.uint8), name="rotated", rotate=15)
    prediction_dock.image.value = viewer.layers["rotated"]
    prediction_dock.network.value = "demo_membranes_2d"
    assert prediction_dock.run() is None
    assert "rotated or sheared" in prediction_dock.message.value


def test_both_docks_fit_a_laptop_screen_with_predict_in_view(qtbot, make_napari_viewer):
    """At 1280 × 800 the window does not grow past the screen (it grew to 1406 px before the
    fields scrolled), and Predict, Cancel, the progress bar and the message stay in view."""
    viewer = make_napari_viewer(show=True)
    window = viewer.window._qt_window
    window.resize(1280, 800)
    viewer.open_sample("napari-dacapo", "em_volume")
    _, architecture = viewer.window.add_plugin_dock_widget("napari-dacapo", "DaCapo architecture")
    _, prediction = viewer.window.add_plugin_dock_widget("napari-dacapo", "DaCapo prediction")
    architecture.start_from.value = "cellmap_unet3d"  # a 3-level network: the longest form
    prediction.show_error("a long message " * 40)
    qtbot.wait(50)
    assert window.height() <= 800
    for widget in (prediction.predict_button, prediction.cancel_button, prediction.progress, prediction.message):
        corner = widget.native.mapTo(window, widget.native.rect().bottomLeft())
        assert widget.native.isVisible() and 0 <= corner.y() <= window.height(), widget
    corner = architecture.build_button.native.mapTo(window, architecture.build_button.native.rect().bottomLeft())
    assert 0 <= corner.y() <= window.height()
    # nothing is cut on the right: every field (three downsample levels of three axes, the
    # summary) fits the width of its dock's scroll area, which never scrolls sideways
    from qtpy.QtWidgets import QScrollArea

    for dock in (architecture, prediction):
        area = dock.native.findChild(QScrollArea)
        assert area.widget().minimumSizeHint().width() <= area.viewport().width(), type(dock).__name__
    levels = architecture.form.fields["downsample_factors"][1]
    assert len(levels.rows) == 3 and all(len(row) == 3 for row in levels.rows)
    viewport = architecture.native.findChild(QScrollArea).viewport()
    for widget in (levels, architecture.summary, architecture.form.fields["input_shape"][1]):
        assert widget.native.mapTo(viewport, widget.native.rect().topRight()).x() <= viewport.width(), widget


def test_weights_follow_the_network_they_were_chosen_for(architecture_dock, network_registry):
    dock = architecture_dock
    dock.start_from.value = "demo_membranes_3d"
    assert Path(dock.weights_file.value) == demo_model(3).weights_path
    dock.start_from.value = "unet2d"  # another network: the demo's weights no longer apply
    assert str(dock.weights_file.value) in ("", ".")
    entry = dock.build()
    assert entry is not None and entry.weights is None and entry.label == "unet2d (untrained)"


def test_choosing_the_same_start_again_reloads_it(architecture_dock):
    dock = architecture_dock
    dock.start_from.value = "unet2d"
    dock.form.fields["num_fmaps"][1].value = 5
    assert dock.form.config().num_fmaps == 5
    dock.start_from.native.activated.emit(dock.start_from.native.currentIndex())  # the user picks it again
    assert dock.form.config().num_fmaps != 5


def test_a_file_that_does_not_load_leaves_verify_telling_the_same_story(architecture_dock, tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("__type__: CNNectomeUNetConfig\ninput_shape: [1, 2\n")
    assert not architecture_dock.load_config(broken)
    assert architecture_dock.message.value.startswith("✗ ") and "broken.yaml" in architecture_dock.message.value
    assert "broken.yaml was not loaded" in architecture_dock.status.value


def test_batch_size_says_auto(prediction_dock):
    assert prediction_dock.batch_size.native.currentText() == "auto"  # what the user sees
    assert prediction_dock.options().batch_size == "auto"
    prediction_dock.batch_size.value = 2
    assert prediction_dock.options().batch_size == 2


def test_a_rerun_from_the_plugin_dock_updates_its_layer_in_place(qtbot, make_napari_viewer):
    """napari hands a plugin's dock a proxy of the viewer whose layers are proxies too; the
    re-run must still find and update its layer (it removed and re-added it before)."""
    viewer = make_napari_viewer()
    viewer.open_sample("napari-dacapo", "em_image")
    _, dock = viewer.window.add_plugin_dock_widget("napari-dacapo", "DaCapo prediction")
    dock.image.value = dock.viewer.layers["synthetic EM 2D"]
    dock.network.value = "demo_membranes_2d"
    dock.run()
    wait_for_run(qtbot, dock)
    first = viewer.layers["synthetic EM 2D · demo_membranes_2d"]
    removed = []
    viewer.layers.events.removed.connect(lambda event: removed.append(event.value.name))
    dock.pad.value = "valid"
    dock.run()
    wait_for_run(qtbot, dock)
    assert removed == []
    assert viewer.layers["synthetic EM 2D · demo_membranes_2d"] is first
    assert first.data.shape == (256 - 40, 256 - 40)


def test_the_summary_counts_the_channels_of_the_run_head(architecture_dock):
    """The demo's U-Net has 8 output feature maps; its run checkpoint's 1×1×1 head makes them
    the 1 channel its prediction has."""
    architecture_dock.start_from.value = "demo_membranes_3d"
    state = torch.load(demo_model(3).weights_path, weights_only=True)
    state = state.get("model", state)
    head = state["prediction_head.weight"].shape[0]
    assert head == 1
    assert f"1 → 8 channels, {head} after the run's prediction head" in architecture_dock.summary.value
    architecture_dock.weights_file.line_edit.value = ""
    assert "prediction head" not in architecture_dock.summary.value


def test_the_architecture_dock_exports_to_bioimageio(qtbot, architecture_dock, tmp_path):
    from bioimageio.spec import load_description

    dock = architecture_dock
    dock.start_from.value = "demo_membranes_2d"
    dock.export_file.value = tmp_path / "demo.zip"
    worker = dock.export()  # no authors: bioimage.io requires them, the dock asks by name
    qtbot.waitUntil(lambda: dock.export_button.enabled, timeout=60_000)
    assert worker is not None and "authors" in dock.message.value and not (tmp_path / "demo.zip").exists()
    dock.authors.value = "A. Tester"
    dock.export()
    qtbot.waitUntil(lambda: dock.export_button.enabled and "exported" in dock.message.value, timeout=120_000)
    description = load_description(tmp_path / "demo.zip")
    assert description.name and [a.name for a in description.authors] == ["A. Tester"]
