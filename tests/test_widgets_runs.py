"""A DaCapo run in napari: opened in the architecture dock (or dropped on the viewer), its
channels by name in the prediction dock, and labels that follow the bias without running the
network again."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import DACAPO

from napari_dacapo import predict
from napari_dacapo.labels import label_rule, segment
from napari_dacapo.runs import open_run
from napari_dacapo.widgets import ArchitectureDock, PredictionDock
from napari_dacapo.widgets.registry import NetworkRegistry

STORE = DACAPO / "runs" / "store"


@pytest.fixture
def docks(make_napari_viewer):
    viewer = make_napari_viewer()
    registry = NetworkRegistry()
    architecture = ArchitectureDock(viewer, network_registry=registry)
    prediction = PredictionDock(viewer, network_registry=registry)
    viewer.window.add_dock_widget(architecture)
    viewer.window.add_dock_widget(prediction)
    return viewer, architecture, prediction


def raw_image(shape=(80, 96), seed=0):
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    return (ndimage.gaussian_filter(rng.normal(size=shape), 2) * 400 + 120).clip(0, 255).astype(np.uint8)


def test_opening_a_run_lists_its_iterations_and_registers_its_model(docks):
    _viewer, architecture, prediction = docks
    assert architecture.choose_run(STORE)  # a store of several runs: the first, and a list of them
    assert not architecture.run_name.native.isHidden() and "affinities" in architecture.run_name.choices
    architecture.run_name.value = "affinities"
    assert list(architecture.iteration.choices) == ["latest", "best", "200", "100"]
    assert architecture.form.config().name == "tiny_unet_2d"
    architecture.iteration.value = "100"
    entry = architecture.open_run()
    assert entry.name == "affinities @ 100"
    assert entry.network.channel_names == ("aff_1.0", "aff_0.1", "aff_3.0")
    assert "affinities @ 100" in prediction.network.choices
    assert "opened run affinities (iteration 100)" in architecture.message.value


def test_a_bad_run_folder_says_why_in_the_dock(docks, tmp_path):
    _viewer, architecture, _prediction = docks
    assert not architecture.choose_run(tmp_path)
    assert "not a DaCapo file store" in architecture.message.value


def test_predicting_a_run_shows_named_channels_and_its_labels(qtbot, docks):
    viewer, architecture, prediction = docks
    architecture.choose_run(STORE / "affinities")
    architecture.open_run()
    raw = raw_image()
    viewer.add_image(raw, name="raw", scale=(4, 4))
    prediction.image.value = viewer.layers["raw"]
    prediction.network.value = "affinities @ 200"
    assert prediction.output.value == "task"
    slider = prediction.label_parameter
    assert not slider.native.isHidden() and slider.label == "bias" and prediction.threshold.native.isHidden()
    assert (slider.value, slider.min, slider.max) == (0.5, 0.0, 1.0)
    prediction.run()
    qtbot.waitUntil(lambda: prediction.worker is None, timeout=60_000)
    qtbot.waitUntil(lambda: prediction.labels_worker is None, timeout=60_000)
    base = "raw · affinities @ 200"
    model = open_run(STORE, "affinities").model()
    expected = predict(model, raw, device="cpu")
    for c, name in enumerate(("aff_1.0", "aff_0.1", "aff_3.0")):
        layer = viewer.layers[f"{base} [{name}]"]
        np.testing.assert_allclose(np.asarray(layer.data), expected[c], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(layer.scale, (4, 4))
    labels = viewer.layers[f"{base} labels"]
    post = model.post_processor
    np.testing.assert_array_equal(labels.data, segment(np.asarray(expected), label_rule(post, 0.5)))

    # a new bias relabels the same prediction: the network does not run again
    forward_calls = []
    network = prediction.registry.get("affinities @ 200").network
    handle = network.register_forward_hook(lambda *_: forward_calls.append(1))
    prediction.label_parameter.value = 0.75  # the slider released at 0.75
    qtbot.waitUntil(lambda: prediction.labels_worker is None, timeout=60_000)
    assert prediction.worker is None and not forward_calls
    handle.remove()
    layer = viewer.layers[f"{base} labels"]
    assert layer is labels  # updated in place
    np.testing.assert_array_equal(layer.data, segment(np.asarray(expected), label_rule(post, 0.75)))


def test_dropping_a_run_folder_opens_it_in_the_architecture_dock(make_napari_viewer):
    from napari_dacapo._reader import get_run_reader

    viewer = make_napari_viewer()
    assert get_run_reader(str(STORE / "distance")) is not None
    assert get_run_reader(str(DACAPO)) is None  # a folder that is no run: other readers may have it
    viewer.open(str(STORE / "distance"), plugin="napari-dacapo")
    dock = viewer.window.dock_widgets["DaCapo architecture (napari-dacapo)"]
    assert dock.dacapo_run.name == "distance"
    assert len(viewer.layers) == 0


def test_a_bioimageio_package_we_exported_opens_in_the_architecture_dock(docks, tmp_path):
    from napari_dacapo.export import export_bioimageio

    _viewer, architecture, prediction = docks
    package = export_bioimageio(STORE / "one_hot", tmp_path / "one_hot.zip", authors="A. Author")
    architecture.config_file.value = package
    assert "one_hot" in prediction.network.choices
    assert "opened the bioimage.io package one_hot.zip" in architecture.message.value
    assert architecture.form.config().name == "tiny_unet_2d"
    raw = raw_image()
    network = prediction.registry.get("one_hot").network
    expected = predict(open_run(STORE, "one_hot").model(), raw, device="cpu")
    np.testing.assert_array_equal(predict(network, raw, device="cpu"), expected)


def test_the_bias_relabels_the_previewed_region_without_running_the_network(qtbot, docks):
    viewer, architecture, prediction = docks
    architecture.choose_run(STORE / "affinities")
    architecture.open_run()
    raw = raw_image()
    viewer.add_image(raw, name="raw")
    prediction.image.value = viewer.layers["raw"]
    prediction.network.value = "affinities @ 200"
    prediction.preview.value = True
    name = "preview: raw · affinities @ 200"
    qtbot.waitUntil(lambda: f"{name} labels" in viewer.layers, timeout=60_000)
    qtbot.waitUntil(lambda: not prediction._preview_worker.is_running, timeout=60_000)
    channels = np.stack([np.asarray(viewer.layers[f"{name} [{c}]"].data) for c in ("aff_1.0", "aff_0.1", "aff_3.0")])
    full = predict(open_run(STORE, "affinities").model(), raw, device="cpu")
    assert channels.shape == full.shape  # the whole small image is in view: the region is all of it
    np.testing.assert_allclose(channels, full, rtol=1e-5, atol=1e-5)
    network = prediction.registry.get("affinities @ 200").network
    calls = []
    handle = network.register_forward_hook(lambda *_: calls.append(1))
    prediction.label_parameter.value = 0.25
    qtbot.waitUntil(lambda: prediction.labels_worker is None, timeout=60_000)
    qtbot.wait(300)  # no preview of the network is started either
    handle.remove()
    assert not calls
    post = open_run(STORE, "affinities").task.post_processor
    np.testing.assert_array_equal(viewer.layers[f"{name} labels"].data, segment(channels, label_rule(post, 0.25)))
