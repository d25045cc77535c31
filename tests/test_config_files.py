"""Config files in DaCapo's serialised form: read, write, round-trip, clear errors."""

import json

import pytest
import yaml
from conftest import DACAPO, DATA
from funlib.geometry import Coordinate

from napari_dacapo.architectures import CNNectomeUNetConfig, DummyArchitectureConfig
from napari_dacapo.io import ConfigError, config_to_dict, load_config, save_config
from napari_dacapo.networks import example_config, example_config_paths

DACAPO_FACTS_EXAMPLE = {
    "__type__": "CNNectomeUNetConfig",
    "name": "u",
    "input_shape": [52, 52, 52],
    "fmaps_out": 3,
    "fmaps_in": 1,
    "num_fmaps": 4,
    "fmap_inc_factor": 2,
    "downsample_factors": [[2, 2, 2]],
    "kernel_size_down": None,
    "kernel_size_up": None,
    "_eval_shape_increase": [8, 8, 8],
    "upsample_factors": None,
    "constant_upsample": True,
    "padding": "valid",
    "use_attention": False,
    "batch_norm": False,
}


def write(path, document):
    path.write_text(json.dumps(document))
    return path


def test_reads_the_dacapo_json_document(tmp_path):
    config = load_config(write(tmp_path / "u.json", DACAPO_FACTS_EXAMPLE))
    assert isinstance(config, CNNectomeUNetConfig)
    assert config.input_shape == Coordinate(52, 52, 52)
    assert isinstance(config.input_shape, Coordinate)
    assert config.downsample_factors == [Coordinate(2, 2, 2)]
    assert config.eval_shape_increase == Coordinate(8, 8, 8)


def test_writes_exactly_what_dacapo_writes():
    config = CNNectomeUNetConfig(
        name="u",
        input_shape=(52, 52, 52),
        fmaps_out=3,
        fmaps_in=1,
        num_fmaps=4,
        fmap_inc_factor=2,
        downsample_factors=[(2, 2, 2)],
        eval_shape_increase=(8, 8, 8),
    )
    assert config_to_dict(config) == DACAPO_FACTS_EXAMPLE
    assert list(config_to_dict(config))[0] == "__type__"


def test_reads_yaml_written_by_dacapo_file_store():
    # yaml.dump of DaCapo's document: !!python/tuple tags and &id001/*id001 anchors
    config = load_config(DATA / "dacapo_dump.yaml")
    assert config.downsample_factors == [Coordinate(2, 2, 2), Coordinate(2, 2, 2)]
    assert config.input_shape == Coordinate(52, 52, 52)
    assert config.eval_shape_increase == Coordinate(8, 8, 8)


def test_accepts_eval_shape_increase_without_underscore(tmp_path):
    document = dict(DACAPO_FACTS_EXAMPLE)
    document["eval_shape_increase"] = document.pop("_eval_shape_increase")
    assert load_config(write(tmp_path / "u.json", document)).eval_shape_increase == (8, 8, 8)


def test_reads_the_architecture_of_a_run_config(tmp_path):
    run = {"name": "run", "architecture_config": DACAPO_FACTS_EXAMPLE, "num_iterations": 10}
    assert load_config(write(tmp_path / "run.json", run)).name == "u"


@pytest.mark.parametrize("suffix", [".json", ".yaml", ".yml"])
@pytest.mark.parametrize("source", sorted(DACAPO.glob("unet*.json")), ids=lambda p: p.stem)
def test_round_trip_is_lossless(tmp_path, suffix, source):
    config = load_config(source)
    save_config(config, tmp_path / f"copy{suffix}")
    again = load_config(tmp_path / f"copy{suffix}")
    assert again == config
    assert config_to_dict(again) == json.loads(source.read_text())


def test_dummy_config_round_trips(tmp_path):
    config = DummyArchitectureConfig(name="d", num_in_channels=1, num_out_channels=2)
    save_config(config, tmp_path / "d.yaml")
    assert load_config(tmp_path / "d.yaml") == config


@pytest.mark.parametrize(
    "change, message",
    [
        ({"fmaps_ou": 3}, "unknown field 'fmaps_ou'"),
        ({"fmaps_in": "one"}, "expected an integer, got 'one' @ CNNectomeUNetConfig.fmaps_in"),
        ({"fmaps_in": 1.5}, "CNNectomeUNetConfig.fmaps_in"),
        ({"padding": 3}, "expected a string, got 3 @ CNNectomeUNetConfig.padding"),
        ({"batch_norm": "yes"}, "CNNectomeUNetConfig.batch_norm"),
        ({"input_shape": [52, "a", 52]}, "CNNectomeUNetConfig.input_shape"),
        ({"downsample_factors": [[2, 2, 2.5]]}, "CNNectomeUNetConfig.downsample_factors[0]"),
        ({"__type__": "UNet9000"}, "unknown __type__ 'UNet9000'"),
    ],
)
def test_bad_fields_name_the_field_and_the_file(tmp_path, change, message):
    path = write(tmp_path / "bad.json", {**DACAPO_FACTS_EXAMPLE, **change})
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert str(path) in str(error.value)
    assert message in str(error.value)


def test_missing_field_is_named(tmp_path):
    document = {k: v for k, v in DACAPO_FACTS_EXAMPLE.items() if k != "num_fmaps"}
    with pytest.raises(ConfigError, match="missing field 'num_fmaps'"):
        load_config(write(tmp_path / "m.json", document))


def test_yaml_never_constructs_python_objects(tmp_path):
    path = tmp_path / "evil.yaml"
    path.write_text("!!python/object/apply:os.system ['touch pwned']\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path)
    assert not (tmp_path / "pwned").exists()


def test_unreadable_and_unknown_files(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.yaml")
    with pytest.raises(ConfigError, match="unknown config format"):
        load_config(tmp_path / "config.txt")
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_config(tmp_path / "broken.json")


@pytest.mark.parametrize("name", sorted(example_config_paths()))
def test_bundled_examples_load_and_verify(name):
    config = example_config(name)
    assert config.verify() == (True, "valid")
    assert yaml.safe_load(example_config_paths()[name].read_text())["__type__"] == "CNNectomeUNetConfig"
