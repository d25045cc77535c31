"""DaCapo runs, opened from a file store that dacapo-ml 0.3.5 itself wrote
(tests/data/dacapo/runs/make_runs.py): the same outputs as DaCapo's Model in eval mode, from
the raw data, the task's head, activation and normalisation included."""

import shutil

import numpy as np
import pytest
import torch
from conftest import DACAPO

from napari_dacapo import predict
from napari_dacapo.labels import label_rule, segment
from napari_dacapo.runs import RunError, open_run

RUNS = DACAPO / "runs"
STORE = RUNS / "store"
TASK_RUNS = [
    "distance",
    "distance_plain_raw",
    "inner_distance",
    "hot_distance",
    "one_hot",
    "affinities",
    "affinities_lsds",
    "dummy",
    "pretrained_distance",
]


def reference(name):
    return torch.load(RUNS / f"{name}_reference.pt", weights_only=True)


@pytest.mark.parametrize("name", TASK_RUNS)
def test_the_run_model_predicts_what_dacapo_predicts(name):
    ref = reference(name)
    model = open_run(STORE, name).model(ref["iteration"])
    with torch.no_grad():
        y = model(ref["x"])
    torch.testing.assert_close(y, ref["y"], rtol=1e-5, atol=1e-5)


# the dummy run's same-padding 3D net has a 12³ prediction tile, smaller than twice its
# receptive border: the engine refuses such a tile (its output would not be tile-exact)
@pytest.mark.parametrize("name", [n for n in TASK_RUNS if n != "dummy"])
def test_the_engine_on_the_raw_data_normalises_as_the_datasplit(name):
    ref = reference(name)
    model = open_run(STORE, name).model()  # latest: 200, the reference's iteration
    raw = ref["raw"].numpy()
    assert raw.dtype == np.uint8
    y = predict(model, raw, pad="valid", device="cpu")
    expected = ref["y"][0].numpy()
    # the engine's forward (channels last, oneDNN) sums in another order than DaCapo's plain
    # one; these tiny fixtures have heads with weights up to 39, so compare on the output's scale
    assert np.abs(y - expected).max() <= 1e-5 * np.abs(expected).max()


def test_heads_activations_and_channels_of_each_task():
    expected = {
        "distance": (("mito", "er"), 1, None, "threshold"),
        "inner_distance": (("nuc",), 1, None, "threshold"),
        "hot_distance": (("mito", "mito_distance"), 3, None, "threshold"),
        "one_hot": (("background", "mito", "er"), 3, None, "argmax"),
        "affinities": (("aff_1.0", "aff_0.1", "aff_3.0"), 1, "sigmoid", "watershed"),
        "dummy": (("c0", "c1"), 1, None, "none"),
        "pretrained_distance": (("mito", "er"), 1, None, "threshold"),
    }
    for name, (channels, kernel, activation, post) in expected.items():
        task = open_run(STORE, name).task
        assert (task.channels, task.head_kernel, task.activation, task.post_processor.kind) == (
            channels,
            kernel,
            activation,
            post,
        ), name


def test_normalisation_follows_the_raw_array_config():
    assert open_run(STORE, "distance").normalisation.describe().startswith("(x − 20) / (220 − 20)")
    assert open_run(STORE, "distance_plain_raw").normalisation.describe().startswith("raw values as they are")
    ref = reference("distance")
    model = open_run(STORE, "distance").model(normalisation="dtype")  # dacapo.predict's choice
    raw = ref["raw"].numpy()
    with torch.no_grad():
        expected = model(torch.from_numpy(raw.astype(np.float32) / 255)[None, None])[0].numpy()
    assert np.abs(predict(model, raw, pad="valid", device="cpu") - expected).max() <= 1e-5 * np.abs(expected).max()


def test_a_checkpoint_in_dacapo_mains_layout_loads_strictly():
    ref = reference("affinities")
    path = RUNS / "main_layout" / "affinities" / "checkpoints" / "iterations" / "200"
    model = open_run(STORE, "affinities").model(checkpoint=path)
    assert model.origin.layout == "main"
    with torch.no_grad():
        torch.testing.assert_close(model(ref["x"]), ref["y"], rtol=1e-5, atol=1e-6)


def test_iterations_latest_and_best():
    run = open_run(STORE, "affinities")
    assert run.iterations() == (100, 200)
    assert run.model().origin.iteration == 200
    assert run.model("best").origin.iteration == reference("affinities")["validation"]["true_best_iteration"]
    assert run.model(100).origin.iteration == 100
    torch.testing.assert_close(
        run.model(100)(reference("affinities")["x"]).detach(), reference("affinities")["y_iteration_100"]
    )


def test_a_run_opens_from_its_folder_its_config_or_the_store():
    by_store = open_run(STORE, "distance")
    by_folder = open_run(STORE / "distance")
    by_config = open_run(STORE / "configs" / "runs" / "distance.yaml")
    assert by_store.files == by_folder.files == by_config.files


def test_distance_labels_match_dacapos_threshold_on_its_uint8_output():
    ref = reference("distance")
    y = ref["y"][0].numpy()
    run = open_run(STORE, "distance")
    # DaCapo writes uint8 floor((y + 1) / 2 * 255) and keeps > 127: y >= 1/255 here
    threshold = float(np.nextafter(np.float32(1 / 255), np.float32(-1)))
    for channel in range(2):
        labels = segment(y, label_rule(run.task.post_processor, threshold, channel))
        np.testing.assert_array_equal(labels != 0, ref["labels"][channel].numpy() == 1)


def test_one_hot_labels_are_dacapos_argmax():
    ref = reference("one_hot")
    labels = segment(ref["y"][0].numpy(), label_rule(open_run(STORE, "one_hot").task.post_processor))
    np.testing.assert_array_equal(labels, ref["labels_float_validation_path"].numpy())


@pytest.mark.parametrize("bias_index", range(5))
def test_affinity_instances_are_dacapos_mutex_watershed(bias_index):
    ref = reference("affinities")
    bias = (0.1, 0.25, 0.5, 0.75, 0.9)[bias_index]
    dacapo = ref["labels_by_bias_no_random"][f"{bias}"].numpy()
    ours = segment(ref["y"][0].numpy(), label_rule(open_run(STORE, "affinities").task.post_processor, bias))
    pairs = set(zip(ours.ravel().tolist(), dacapo.ravel().tolist(), strict=True))
    assert len(pairs) == len(np.unique(ours)) == len(np.unique(dacapo))  # the same objects
    np.testing.assert_array_equal(ours == 0, dacapo == 0)  # and the same voxels left unjoined


def test_bad_runs_get_one_clear_line(tmp_path):
    store = tmp_path / "store"
    shutil.copytree(STORE, store, symlinks=True)
    with pytest.raises(RunError, match=r"no checkpoint for iteration 150 \(saved: 100, 200\)"):
        open_run(store, "distance").model(150)
    with pytest.raises(RunError, match=r"no run 'nope' \(runs: affinities, "):
        open_run(store, "nope")
    with pytest.raises(RunError, match="a store of 9 runs; name one"):
        open_run(store)
    shutil.rmtree(store / "distance" / "checkpoints")
    with pytest.raises(RunError, match="run 'distance' has no checkpoints"):
        open_run(store, "distance").model()
    wrong = store / "affinities" / "checkpoints" / "iterations" / "200"
    with pytest.raises(RunError, match="head writes 3 channels with a kernel of 1; the run's task expects 1"):
        open_run(store, "inner_distance").model(checkpoint=wrong)
    config = store / "configs" / "runs" / "one_hot.yaml"
    config.write_text(config.read_text().replace("OneHotTaskConfig", "CountingTaskConfig"))
    with pytest.raises(RunError, match=r"unsupported task type 'CountingTaskConfig' \(supported: DistanceTaskConfig"):
        open_run(store, "one_hot")
    post = open_run(store, "affinities").task.post_processor
    with pytest.raises(RunError, match="bias 1.5 is out of range: choose 0 to 1"):
        post.check(1.5)


def test_an_unsupported_raw_array_says_so_and_dtype_still_predicts(tmp_path):
    store = tmp_path / "store"
    shutil.copytree(STORE, store, symlinks=True)
    config = store / "configs" / "runs" / "distance.yaml"
    config.write_text(config.read_text().replace("IntensitiesArrayConfig", "HistogramEqualisedArrayConfig"))
    run = open_run(store, "distance")
    with pytest.raises(RunError, match="raw array config type 'HistogramEqualisedArrayConfig' is not supported"):
        run.model()
    assert run.model(normalisation="dtype").input_normalisation.by_dtype
