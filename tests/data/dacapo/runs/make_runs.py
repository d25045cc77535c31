"""Write DaCapo run stores and reference outputs, made with the real dacapo-ml 0.3.5, one run per task type.

Set-up (a throwaway venv; a full `pip install dacapo-ml` spends a very long time resolving):
    python3 -m venv /tmp/venv-dacapo
    /tmp/venv-dacapo/bin/pip install torch==2.13.0
    /tmp/venv-dacapo/bin/pip install --no-deps dacapo-ml==0.3.5      # or the wheel file
    /tmp/venv-dacapo/bin/pip install funlib.geometry attrs cattrs numpy pyyaml scipy xarray mwatershed \
        "universal_pathlib<1.0.0,>=0.2.2" "zarr<3" "funlib.persistence<0.6"
Use:
    /tmp/venv-dacapo/bin/python make_runs.py [--main-src DIR]
--main-src: a checkout of DaCapo's main branch (its folder holding dacapo/); when given, the main-layout
checkpoint is also loaded into main's own Model (strict) in a subprocess and its output compared.

Everything is (re)written next to this file:
    store/                      a DaCapo "files" store, i.e. what Options.runs_base_dir points at:
      configs/{runs,tasks,architectures,trainers,datasplits}/<name>.yaml   (DaCapo's FileConfigStore)
      <run>/checkpoints/iterations/{100,200}                               (LocalWeightsStore.store_weights)
      <run>/checkpoints/validate0/<criterion>{,.json}                      (LocalWeightsStore.store_best)
      stats/validation_scores/<run>                                        (FileStatsStore, a pickle)
      pretrained_weights/distance_chain.pt                                 (PretrainedTaskConfig.weights)
    <run>_reference.pt          {"x", "raw", "y", "iteration", post-processing results, facts}
    main_layout/                the affinities run's iteration-200 weights in DaCapo main's key layout
Load the references with torch.load(path, weights_only=True); the checkpoints are pickled
dacapo.store.weights_store.Weights objects (weights_only=False, or an unpickler that maps that class).

dacapo/__init__.py imports the whole framework (daisy, gunpowder, neuroglancer, ...). This script
keeps DaCapo's own modules but replaces packages the code paths used here never touch by empty
stub modules (STUB_ROOTS below); all of DaCapo's configs, tasks, predictors, Model, stores and the
post-processors' numerical cores are DaCapo's real code.
"""

import argparse
import copy
import importlib.abc
import importlib.machinery
import json
import os
import shutil
import subprocess
import sys
import tempfile
import types
from types import SimpleNamespace

# ---------------------------------------------------------------------------------------------
# stubs for heavy packages that the code paths used here do not need
STUB_ROOTS = {
    "fibsem_tools",
    "gunpowder",
    "daisy",
    "neuroglancer",
    "lsd",
    "cellmap_models",
    "neuclease",
    "SimpleITK",
    "numpy_indexed",
    "lazy_property",
    "skimage",
    "IPython",
    "bson",
    "augment",
    "empanada",
    "empanada_napari",
    "bioimageio",
    "xarray_einstats",
}


class _Dummy:
    def __init__(self, *a, **k):
        pass

    def __call__(self, *a, **k):
        return _Dummy()

    def __getattr__(self, name):
        return _Dummy()


class _StubModule(types.ModuleType):
    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        cls = type(name, (_Dummy,), {})
        setattr(self, name, cls)
        return cls


class _StubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path, target=None):
        if fullname.split(".")[0] in STUB_ROOTS:
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)

    def create_module(self, spec):
        module = _StubModule(spec.name)
        module.__path__ = []
        return module

    def exec_module(self, module):
        pass


def install_stubs(dacapo_dir):
    """dacapo_dir: the folder holding dacapo/ (site-packages, or a source checkout)."""
    sys.meta_path.insert(0, _StubFinder())
    package = types.ModuleType("dacapo")  # skip dacapo/__init__.py (it imports train/predict/blockwise)
    package.__path__ = [os.path.join(dacapo_dir, "dacapo")]
    sys.modules["dacapo"] = package
    return package


if __name__ == "__main__" and os.environ.get("MAKE_RUNS_MAIN_CHECK"):
    # subprocess mode: load the main-layout checkpoint into DaCapo main's own Model (see check_main)
    src, weights_path, ref_path = sys.argv[1:4]
    install_stubs(src)
    sys.modules["dacapo.experiments"] = types.ModuleType("dacapo.experiments")
    sys.modules["dacapo.experiments"].__path__ = [os.path.join(src, "dacapo", "experiments")]

    class Weights:  # main's dacapo.store.weights_store.Weights has the same two attributes; importing
        pass  # that module would pull in main's whole config tree (newer funlib.persistence etc.)

    store = types.ModuleType("dacapo.store.weights_store")
    store.Weights = Weights
    sys.modules["dacapo.store"] = types.ModuleType("dacapo.store")
    sys.modules["dacapo.store.weights_store"] = store
    import torch
    from dacapo.experiments.architectures import CNNectomeUNetConfig
    from dacapo.experiments.model import Model
    from funlib.geometry import Coordinate

    ref = torch.load(ref_path, weights_only=True)
    arch = ref["architecture_kwargs"]
    cfg = CNNectomeUNetConfig(
        name="main",
        input_shape=Coordinate(arch["input_shape"]),
        fmaps_out=arch["fmaps_out"],
        fmaps_in=arch["fmaps_in"],
        num_fmaps=arch["num_fmaps"],
        fmap_inc_factor=arch["fmap_inc_factor"],
        downsample_factors=[Coordinate(f) for f in arch["downsample_factors"]],
        eval_shape_increase=Coordinate(arch["eval_shape_increase"]),
    )
    head = torch.nn.Conv2d(arch["fmaps_out"], ref["y"].shape[1], kernel_size=1)
    model = Model(cfg, head, eval_activation=torch.nn.Sigmoid())
    weights = torch.load(weights_path, weights_only=False)
    assert sorted(model.state_dict()) == sorted(weights.model), (sorted(model.state_dict()), sorted(weights.model))
    model.load_state_dict(weights.model, strict=True)
    with torch.no_grad():
        y = model.eval()(ref["x"])
    print(json.dumps({"keys": list(model.state_dict()), "max_abs_diff": float((y - ref["y"]).abs().max())}))
    sys.exit(0)

site = next(p for p in sys.path if p.endswith("site-packages"))
install_stubs(site)
from dacapo.options import Options  # noqa: E402

sys.modules["dacapo"].Options = Options  # dacapo.blockwise does `from dacapo import Options`

import mwatershed as mws  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from dacapo.experiments import Run, RunConfig, ValidationIterationScores, ValidationScores  # noqa: E402
from dacapo.experiments.architectures import CNNectomeUNetConfig  # noqa: E402
from dacapo.experiments.datasplits import TrainValidateDataSplitConfig  # noqa: E402
from dacapo.experiments.datasplits.datasets import RawGTDatasetConfig  # noqa: E402
from dacapo.experiments.datasplits.datasets.arrays import IntensitiesArrayConfig, ZarrArrayConfig  # noqa: E402
from dacapo.experiments.tasks import (  # noqa: E402
    AffinitiesTaskConfig,
    DistanceTaskConfig,
    DummyTaskConfig,
    HotDistanceTaskConfig,
    InnerDistanceTaskConfig,
    OneHotTaskConfig,
    PretrainedTaskConfig,
)
from dacapo.experiments.trainers import GunpowderTrainerConfig  # noqa: E402
from dacapo.store.converter import converter  # noqa: E402
from dacapo.store.file_config_store import FileConfigStore  # noqa: E402
from dacapo.store.file_stats_store import FileStatsStore  # noqa: E402
from dacapo.store.local_weights_store import LocalWeightsStore  # noqa: E402
from dacapo.store.weights_store import Weights  # noqa: E402
from funlib.geometry import Coordinate  # noqa: E402
from funlib.persistence import prepare_ds  # noqa: E402
from upath import UPath as Path  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
STORE = os.path.join(HERE, "store")
VALIDATION_DATASET = "validate0"
RAW_MIN, RAW_MAX = 20.0, 220.0  # floats: see normalisation note in the report / README

# ---------------------------------------------------------------------------------------------
# configs


def architecture_2d():
    return CNNectomeUNetConfig(
        name="tiny_unet_2d",
        input_shape=Coordinate(44, 44),
        fmaps_out=3,
        fmaps_in=1,
        num_fmaps=2,
        fmap_inc_factor=2,
        downsample_factors=[Coordinate(2, 2)],
        eval_shape_increase=Coordinate(8, 8),
    )


def architecture_3d():
    # DummyPredictor always builds a Conv3d head, so the dummy task needs a 3D architecture
    return CNNectomeUNetConfig(
        name="tiny_unet_3d_same",
        input_shape=Coordinate(8, 8, 8),
        fmaps_out=3,
        fmaps_in=1,
        num_fmaps=2,
        fmap_inc_factor=2,
        downsample_factors=[Coordinate(2, 2, 2)],
        eval_shape_increase=Coordinate(4, 4, 4),
        padding="same",
    )


def trainer():
    return GunpowderTrainerConfig(name="gp_trainer", batch_size=2, learning_rate=1e-3, num_data_fetchers=1)


def datasplit(normalised):
    def dataset(name):
        raw = ZarrArrayConfig(name=f"{name}_raw", file_name=Path(f"data/{name}.zarr"), dataset="raw", mode="r")
        if normalised:
            raw = IntensitiesArrayConfig(
                name=f"{name}_raw_normalised", source_array_config=raw, min=RAW_MIN, max=RAW_MAX
            )
        gt = ZarrArrayConfig(name=f"{name}_gt", file_name=Path(f"data/{name}.zarr"), dataset="gt", mode="r")
        return RawGTDatasetConfig(name=name, raw_config=raw, gt_config=gt)

    return TrainValidateDataSplitConfig(
        name="train_validate_intensities" if normalised else "train_validate_plain",
        train_configs=[dataset("train0")],
        validate_configs=[dataset(VALIDATION_DATASET)],
    )


def distance_task(name="distance_mito_er"):
    return DistanceTaskConfig(
        name=name, channels=["mito", "er"], clip_distance=40.0, tol_distance=10.0, scale_factor=50.0
    )


PRETRAINED_WEIGHTS = "pretrained_weights/distance_chain.pt"  # relative to the store (see report)

# run name -> (task config, architecture, normalised raw?, criterion for store_best, seed)
RUNS = {
    "distance": (distance_task, architecture_2d, True, "mito__voi", 1),
    "distance_plain_raw": (distance_task, architecture_2d, False, "mito__voi", 2),
    "inner_distance": (
        lambda: InnerDistanceTaskConfig(
            name="inner_distance_nuc", channels=["nuc"], clip_distance=40.0, tol_distance=10.0, scale_factor=50.0
        ),
        architecture_2d,
        True,
        "nuc__voi",
        3,
    ),
    "hot_distance": (
        lambda: HotDistanceTaskConfig(
            name="hot_distance_mito", channels=["mito"], clip_distance=40.0, tol_distance=10.0, scale_factor=50.0
        ),
        architecture_2d,
        True,
        "mito__voi",
        14,
    ),
    "one_hot": (
        lambda: OneHotTaskConfig(name="one_hot_3classes", classes=["background", "mito", "er"]),
        architecture_2d,
        True,
        "frizz_level",
        5,
    ),
    "affinities": (
        lambda: AffinitiesTaskConfig(
            name="affinities_3offsets", neighborhood=[Coordinate(1, 0), Coordinate(0, 1), Coordinate(3, 0)]
        ),
        architecture_2d,
        True,
        "voi",
        6,
    ),
    "affinities_lsds": (
        lambda: AffinitiesTaskConfig(
            name="affinities_3offsets_lsds",
            neighborhood=[Coordinate(1, 0), Coordinate(0, 1), Coordinate(3, 0)],
            lsds=True,
        ),
        architecture_2d,
        True,
        "voi",
        7,
    ),
    "dummy": (
        lambda: DummyTaskConfig(name="dummy_task", embedding_dims=2, detection_threshold=0.5),
        architecture_3d,
        True,
        "frizz_level",
        8,
    ),
    "pretrained_distance": (
        lambda: PretrainedTaskConfig(
            name="pretrained_distance",
            sub_task_config=distance_task("distance_mito_er_sub"),
            weights=Path(PRETRAINED_WEIGHTS),
        ),
        architecture_2d,
        True,
        "mito__voi",
        9,
    ),
}


def run_config(run_name):
    task, arch, normalised, _, _ = RUNS[run_name]
    return RunConfig(
        task_config=task(),
        architecture_config=arch(),
        trainer_config=trainer(),
        datasplit_config=datasplit(normalised),
        name=run_name,
        repetition=0,
        num_iterations=200,
        validation_interval=100,
    )


# ---------------------------------------------------------------------------------------------
# data


def make_raw(shape, seed):
    """A smooth uint8 image spanning 0..255, so values below RAW_MIN / above RAW_MAX occur."""
    from scipy.ndimage import gaussian_filter

    field = gaussian_filter(np.random.default_rng(seed).normal(size=shape), sigma=2.0)
    field = (field - field.min()) / (field.max() - field.min())
    return np.round(field * 255).astype(np.uint8)


def normalise_like_dacapo(raw_config, raw, tmp):
    """Read `raw` through DaCapo's own array config (IntensitiesArrayConfig.array() -> lazy
    (data - min) / (max - min)), exactly as training / validation read the datasplit's raw."""
    config = copy.deepcopy(raw_config)
    source = config.source_array_config if isinstance(config, IntensitiesArrayConfig) else config
    source.file_name = Path(tmp) / "raw.zarr"
    array = prepare_ds(
        str(source.file_name / source.dataset),
        shape=raw.shape,
        offset=(0,) * raw.ndim,
        voxel_size=(1,) * raw.ndim,
        axis_names=["z", "y", "x"][-raw.ndim :],
        units=["nm"] * raw.ndim,
        dtype=np.uint8,
        mode="w",
    )
    array[array.roi] = raw
    array = config.array("r")
    data = np.asarray(array[array.roi])
    # GunpowderTrainer: torch.as_tensor(raw[raw.roi]).float(); predict_local: torch.from_numpy(x).float()
    return torch.as_tensor(data).float()[None, None], str(data.dtype)


def to_uint8_like_predict_worker(prediction, eval_activation):
    """dacapo/blockwise/predict_worker.py, verbatim, for an output array of dtype uint8
    (dacapo.predict's default output_dtype, used by dacapo.apply)."""
    output = prediction.copy()
    if "sigmoid" not in str(eval_activation).lower():
        output += 1
        output /= 2
    output *= 255
    output = output.clip(0, 255)
    output = output.astype(np.uint8)
    return output


# ---------------------------------------------------------------------------------------------
# a pretend training loop: one real optimizer step (so the optimizer state is real) plus a
# deterministic multiplicative perturbation so that iterations 100 and 200 differ visibly


def advance(run, seed):
    generator = torch.Generator().manual_seed(seed)
    model = run.model.train()
    x = torch.randn((run.trainer.batch_size, model.num_in_channels, *model.input_shape), generator=generator)
    run.optimizer.zero_grad()
    out = model(x)
    target = out.detach() + 0.1 * torch.randn(out.shape, generator=generator)  # pretend targets near the output
    (out - target).pow(2).mean().backward()
    run.optimizer.step()
    run.trainer.scheduler.step()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.mul_(1 + 0.1 * torch.randn(parameter.shape, generator=generator))


def spread_head(run, x, target_std=1.5):
    """Rescale the head so that, on the reference input, each output channel's pre-activation has
    median 0 and standard deviation `target_std`: a random network's output otherwise has one sign
    everywhere and every post-processor would return a trivial (constant) result."""
    head = run.model.prediction_head
    with torch.no_grad():
        features = run.model.eval().chain[0](x)
        raw = (
            torch.nn.functional.conv2d(features, head.weight)
            if features.dim() == 4
            else torch.nn.functional.conv3d(features, head.weight)
        )
        for c in range(raw.shape[1]):
            if not raw[0, c].std() > 0:
                return  # constant output; degenerate() rejects it
            scale = target_std / raw[0, c].std()
            head.weight[c] *= scale
            head.bias[c] = -(raw[0, c] * scale).median()


# ---------------------------------------------------------------------------------------------


def degenerate(run, x, max_tied=0.2):
    """True when, for some output channel, more than `max_tied` of the voxels share (nearly) one
    value: dead ReLUs in a tiny random network make the output constant over large areas."""
    with torch.no_grad():
        out = run.model.eval().chain(x)[0]
    for channel in out:
        flat = channel.flatten()
        if not flat.std() > 0 or ((flat - flat.median()).abs() < 1e-3 * flat.std()).float().mean() > max_tied:
            return True
    return False


def head_facts(model):
    head = model.prediction_head
    return {
        "class": type(head).__name__,
        "in_channels": head.in_channels,
        "out_channels": head.out_channels,
        "kernel_size": list(head.kernel_size),
        "padding": list(head.padding),
        "bias": head.bias is not None,
    }


def validation_scores(run, criterion):
    """Scores for iterations 100 and 200 with 100 the better one for every criterion, stored by
    DaCapo's FileStatsStore; returns facts incl. what DaCapo's own best-finding code says."""
    task = run.task
    scores = ValidationScores(task.parameters, [SimpleNamespace(name=VALIDATION_DATASET)], task.evaluation_scores)
    criteria = list(scores.criteria)
    for iteration in (100, 200):
        values = []
        for p, _ in enumerate(task.parameters):
            row = []
            for c, name in enumerate(criteria):
                good = 0.5 + 0.01 * c + 0.001 * p
                worse = good - 0.1 if task.evaluation_scores.higher_is_better(name) else good + 0.1
                row.append(round(good if iteration == 100 else worse, 6))
            values.append(row)
        scores.add_iteration_scores(ValidationIterationScores(iteration, [values]))
    stats_store = FileStatsStore(Path(STORE) / "stats")
    stats_store.store_validation_iteration_scores(run.name, scores)
    # what DaCapo itself would pick (Evaluator.set_best -> ValidationScores.get_best)
    read_back = ValidationScores(
        task.parameters,
        [SimpleNamespace(name=VALIDATION_DATASET)],
        task.evaluation_scores,
        scores=stats_store.retrieve_validation_iteration_scores(run.name),
    )
    task.evaluator.set_best(read_back)
    dacapo_best = {
        f"{p}|{crit}": list(v) if v is not None else None for (_, p, crit), v in task.evaluator.best_scores.items()
    }
    return {
        "criteria": criteria,
        "criterion": criterion,
        "higher_is_better": task.evaluation_scores.higher_is_better(criterion),
        "true_best_iteration": 100,
        "dacapo_set_best": dacapo_best,
    }


def post_process(task_config, run, y, full):
    """Apply DaCapo's post-processing cores to the reference prediction y (1, C, *spatial)."""
    pp = run.task.post_processor
    params = list(pp.enumerate_parameters())
    prediction = y[0].numpy()
    uint8 = to_uint8_like_predict_worker(prediction, run.model.eval_activation)
    out = {
        "post_processor": type(pp).__name__,
        "post_processor_parameters": [converter.unstructure(p) for p in params],
        "prediction_uint8": torch.from_numpy(uint8),
    }
    name = type(pp).__name__
    if name == "ThresholdPostProcessor":
        # ThresholdPostProcessor.process_block: (input_array[write_roi] > parameters.threshold).astype(np.uint8)
        (p,) = params
        out["labels"] = torch.from_numpy((uint8 > p.threshold).astype(np.uint8))
        out["labels_from"] = "prediction_uint8 (dacapo.predict / dacapo.apply path)"
        # validation path (predict_local writes float32): the same 127 threshold on the raw float output
        out["labels_float_validation_path_all_zero"] = bool(not (prediction > p.threshold).any())
    elif name == "ArgmaxPostProcessor":
        # ArgmaxPostProcessor.process_block: np.argmax(input, axis=<c^ index>).astype(np.uint8)
        out["labels"] = torch.from_numpy(np.argmax(uint8, axis=0).astype(np.uint8))
        out["labels_from"] = "prediction_uint8 (dacapo.predict / dacapo.apply path)"
        out["labels_float_validation_path"] = torch.from_numpy(np.argmax(prediction, axis=0).astype(np.uint8))
    elif name == "WatershedPostProcessor":
        # WatershedPostProcessor.process: data = input.to_ndarray(roi).astype(float);
        #   mws.agglom(data - parameters.bias, offsets=self.offsets, randomized_strides=True)
        offsets = pp.offsets
        as_float = prediction.astype(float)  # validation path: predict_local writes float32 (sigmoid, [0, 1])
        as_uint8 = uint8.astype(float)  # apply path: dacapo.predict writes uint8 = y * 255 (0..255)
        bias = 0.5
        out["bias"] = bias
        out["offsets"] = [list(o) for o in offsets]
        labels = mws.agglom(as_float - bias, offsets=offsets, randomized_strides=True)
        no_random = mws.agglom(as_float - bias, offsets=offsets, randomized_strides=False)
        again = mws.agglom(as_float - bias, offsets=offsets, randomized_strides=True)
        out["labels_dtype_dacapo_writes"] = str(labels.dtype)  # stored here as int64 (torch has little uint64)
        out["randomized_strides_repeatable"] = bool((again == labels).all())
        out["randomized_equals_no_random"] = bool((labels == no_random).all())
        out["labels_no_random"] = torch.from_numpy(no_random.astype(np.int64))
        # equal results are stored as one tensor (torch.save keeps one copy of a shared tensor)
        out["labels"] = (
            out["labels_no_random"] if out["randomized_equals_no_random"] else torch.from_numpy(labels.astype(np.int64))
        )
        out["labels_from"] = "y (float32 sigmoid output in [0, 1], validation path)"
        if not full:
            return out
        out["labels_by_bias_no_random"] = {
            str(p.bias): out["labels_no_random"]
            if p.bias == bias
            else torch.from_numpy(
                mws.agglom(as_float - p.bias, offsets=offsets, randomized_strides=False).astype(np.int64)
            )
            for p in params
        }
        out["labels_uint8_path_no_random"] = torch.from_numpy(
            mws.agglom(as_uint8 - bias, offsets=offsets, randomized_strides=False).astype(np.int64)
        )
    elif name == "DummyPostProcessor":
        out["labels"] = None  # DummyPostProcessor ignores the prediction: np.ones((10, 10, 10)) * min_size
    return out


def main_layout_state(state):
    """DaCapo main: Model.__init__ builds chain = Sequential(architecture.module(), head) from an
    ArchitectureConfig (no nn.Module wrapper), so `architecture.*` keys vanish and `chain.0.unet.X`
    becomes `chain.0.X`; `prediction_head` is still a registered submodule there."""
    out = {}
    for key, value in state.items():
        if key.startswith("architecture."):
            continue
        if key.startswith("chain.0.unet."):
            key = "chain.0." + key[len("chain.0.unet.") :]
        out[key] = value
    return out


def make_run(run_config):
    """Run(run_config) with the CWD at the store: PretrainedTask.create_model does
    torch.load(str(weights)), so the relative PretrainedTaskConfig.weights resolves against the CWD."""
    cwd = os.getcwd()
    os.chdir(STORE)
    try:
        return Run(run_config)
    finally:
        os.chdir(cwd)


def check_main(main_src, weights_path, ref_path):
    env = dict(os.environ, MAKE_RUNS_MAIN_CHECK="1")
    result = subprocess.run(
        [sys.executable, os.path.abspath(__file__), main_src, weights_path, ref_path],
        env=env,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-3000:])
    return json.loads(result.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--main-src", default=None)
    args = parser.parse_args()
    for stale in [STORE, os.path.join(HERE, "main_layout")] + [
        os.path.join(HERE, f) for f in os.listdir(HERE) if f.endswith("_reference.pt")
    ]:
        if os.path.isdir(stale):
            shutil.rmtree(stale)
        elif os.path.exists(stale):
            os.remove(stale)
    os.makedirs(STORE)
    config_store = FileConfigStore(Path(STORE) / "configs")  # = create_config_store() for runs_base_dir=STORE
    weights_store = LocalWeightsStore(Path(STORE))  # = create_weights_store()
    # 1. all configs first: OneHot/HotDistance tasks set kernel_size = 3 on their config object when
    # it is None, so constructing a task before storing would change what the YAML says.
    for run_name in RUNS:
        config = run_config(run_name)
        config_store.store_datasplit_config(config.datasplit_config)
        config_store.store_architecture_config(config.architecture_config)
        config_store.store_task_config(config.task_config)
        config_store.store_trainer_config(config.trainer_config)
        config_store.store_run_config(config)

    summary = {}
    with tempfile.TemporaryDirectory() as tmp:
        for run_name, (_, _, normalised, criterion, seed) in RUNS.items():
            # as dacapo.train does: config_store.retrieve_run_config(name) -> Run(run_config)
            loaded = config_store.retrieve_run_config(run_name)
            if run_name == "pretrained_distance":
                # PretrainedTask.create_model: torch.load(str(weights))["model"] -> model.chain.load_state_dict
                source = torch.load(
                    os.path.join(STORE, "distance", "checkpoints", "iterations", "200"), weights_only=False
                )
                chain = {k[len("chain.") :]: v for k, v in source.model.items() if k.startswith("chain.")}
                os.makedirs(os.path.join(STORE, os.path.dirname(PRETRAINED_WEIGHTS)), exist_ok=True)
                torch.save({"model": chain}, os.path.join(STORE, PRETRAINED_WEIGHTS))
            torch.manual_seed(seed)
            run = make_run(loaded)
            initial_state = {k: v.clone() for k, v in run.model.state_dict().items()}
            advance(run, seed * 1000 + 100)
            weights_store.store_weights(run, 100)
            # reference input (the validation dataset's raw, read as DaCapo reads it)
            spatial = tuple(run.model.eval_input_shape)
            raw = make_raw(spatial, seed)
            x, x_dtype = normalise_like_dacapo(loaded.datasplit_config.validate_configs[0].raw_config, raw, tmp)
            snapshot = copy.deepcopy(
                (run.model.state_dict(), run.optimizer.state_dict(), run.trainer.scheduler.state_dict())
            )
            for attempt in range(20):
                advance(run, seed * 1000 + 200 + attempt)
                spread_head(run, x)
                if not degenerate(run, x):
                    break
                run.model.load_state_dict(snapshot[0])
                run.optimizer.load_state_dict(snapshot[1])
                run.trainer.scheduler.load_state_dict(snapshot[2])
            else:
                raise RuntimeError(f"{run_name}: no non-degenerate perturbation found")
            weights_store.store_weights(run, 200)
            # reference output: iteration 200 weights, eval mode, so eval_activation applied
            model = run.model.eval()
            with torch.no_grad():
                y = model(x)
            # the stored checkpoint reproduces y in a fresh Run
            fresh = make_run(config_store.retrieve_run_config(run_name))
            fresh.model.load_state_dict(weights_store.retrieve_weights(run_name, 200).model)
            with torch.no_grad():
                assert torch.equal(fresh.model.eval()(x), y)
            w100 = weights_store.retrieve_weights(run_name, 100).model
            model_100 = copy.deepcopy(run.model)
            model_100.load_state_dict(w100)
            with torch.no_grad():
                y_100 = model_100.eval()(x)

            facts = validation_scores(run, criterion)
            weights_store.store_best(run_name, 100, VALIDATION_DATASET, criterion)
            best = Path(STORE) / run_name / "checkpoints" / VALIDATION_DATASET / criterion
            best.unlink()  # DaCapo wrote an absolute symlink; make it relative so the fixture is portable
            os.symlink(os.path.join("..", "iterations", "100"), str(best))

            task_config = loaded.task_config
            reference = {
                "run": run_name,
                "iteration": 200,
                "raw": torch.from_numpy(raw),
                "x": x,
                "y": y,
                "x_formula": (
                    "(raw - min) / (max - min) computed in float64, then .float()"
                    if normalised
                    else "raw as is, .float() (no IntensitiesArrayConfig -> no normalisation)"
                ),
                "x_source_dtype": x_dtype,
                "x_predict_formula": "raw.astype(float32) * (1.0 / 255)  (gunpowder.Normalize in predict_worker)",
                "task_config_type": type(task_config).__name__,
                "task_type": type(run.task).__name__,
                "predictor": type(run.task.predictor).__name__,
                "eval_activation": None if model.eval_activation is None else type(model.eval_activation).__name__,
                "head": head_facts(model),
                "channels": [
                    str(c)
                    for c in getattr(run.task.predictor, "channels", getattr(run.task.predictor, "classes", []) or [])
                ],
                "train_output_shape": list(model.output_shape),
                "eval_input_shape": list(spatial),
                "eval_output_shape": list(y.shape[2:]),
                "num_out_channels": int(model.num_out_channels),
                "architecture_kwargs": {
                    k: (list(v) if isinstance(v, tuple) else v)
                    for k, v in converter.unstructure(loaded.architecture_config).items()
                    if k in ("fmaps_out", "fmaps_in", "num_fmaps", "fmap_inc_factor")
                },
                "best": {"dataset": VALIDATION_DATASET, "criterion": criterion, "iteration": 100},
                "validation": facts,
                "state_dict_keys": list(initial_state),
            }
            arch = converter.unstructure(loaded.architecture_config)
            reference["architecture_kwargs"].update(
                input_shape=list(arch["input_shape"]),
                eval_shape_increase=list(arch["_eval_shape_increase"]),
                downsample_factors=[list(f) for f in arch["downsample_factors"]],
            )
            if run_name in ("distance", "affinities"):
                reference["y_iteration_100"] = y_100
            reference.update(post_process(task_config, run, y, full=run_name == "affinities"))
            ref_path = os.path.join(HERE, f"{run_name}_reference.pt")
            torch.save(reference, ref_path)

            if run_name == "affinities":
                weights = weights_store.retrieve_weights(run_name, 200)
                main_dir = os.path.join(HERE, "main_layout", run_name, "checkpoints", "iterations")
                os.makedirs(main_dir)
                main_state = main_layout_state(weights.model)
                torch.save(Weights(main_state, weights.optimizer), os.path.join(main_dir, "200"))
                if args.main_src:
                    summary["main_check"] = check_main(args.main_src, os.path.join(main_dir, "200"), ref_path)
            summary[run_name] = {k: reference[k] for k in ("eval_activation", "head", "channels", "eval_output_shape")}
            print(run_name, json.dumps(summary[run_name]))
    print(json.dumps(summary.get("main_check", "main layout not checked (no --main-src)")))


if __name__ == "__main__":
    main()
