"""Bad and hostile input: config files, the networks they describe, and weights files.

A specification, case by case. Every refusal is a ``ConfigError`` (a ``ValueError``) or a
``CheckpointError`` whose message is one line, starts with the file's name, names what is
wrong (the field where there is one), never echoes a long or expanded value, and costs no
memory worth mentioning: bombs are refused while the file is still small.
"""

from __future__ import annotations

import json
import os
import sys
import tracemalloc
from pathlib import Path

import pytest
import torch
import yaml
from conftest import DACAPO

from napari_dacapo.architectures import CNNectomeUNet, CNNectomeUNetConfig, as_architecture
from napari_dacapo.architectures.cnnectome_unet_config import (
    MAX_LEVELS,
    MAX_PARAMETERS,
    MAX_TILE_BYTES,
    format_bytes,
    short_repr,
    unet_parameters,
    unet_tile_bytes,
)
from napari_dacapo.io import CheckpointError, ConfigError, config_from_dict, load_config, read_checkpoint
from napari_dacapo.io.config_files import MAX_CONFIG_VALUES, MAX_FILE_BYTES
from napari_dacapo.io.safe_yaml import MAX_DEPTH, MAX_NODES
from napari_dacapo.networks import example_config, example_config_paths

GOOD = {
    "__type__": "CNNectomeUNetConfig",
    "name": "u",
    "input_shape": [52, 52, 52],
    "fmaps_out": 3,
    "fmaps_in": 1,
    "num_fmaps": 4,
    "fmap_inc_factor": 2,
    "downsample_factors": [[2, 2, 2]],
}
GOOD_YAML = yaml.safe_dump(GOOD, sort_keys=False)
MAX_MESSAGE = 600  # characters after the file name
MAX_PEAK_BYTES = 4 * 2**20  # what loading a hostile file may allocate (Python objects, at peak)


def yaml_with(**changes) -> str:
    return yaml.safe_dump({**GOOD, **changes}, sort_keys=False)


def yaml_raw(field: str, raw: str) -> str:
    """GOOD as YAML, with ``field`` written as ``raw`` YAML text (last)."""
    return yaml.safe_dump({k: v for k, v in GOOD.items() if k != field}, sort_keys=False) + f"{field}: {raw}\n"


def json_raw(field: str, raw: str) -> str:
    """GOOD as JSON, with ``field`` written as ``raw`` JSON text (last)."""
    return json.dumps({k: v for k, v in GOOD.items() if k != field})[:-1] + f', "{field}": {raw}}}'


def billion_laughs(levels: int = 9, width: int = 9) -> str:
    lines = ['a0: &a0 ["lol"]']
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]")
    return "\n".join(lines) + "\n"


def check_one_line(message: str, path: Path | str, *expected: str) -> None:
    assert "\n" not in message and "\r" not in message, message
    assert message.startswith(str(path)), message
    assert len(message) - len(str(path)) <= MAX_MESSAGE, message
    for text in expected:
        assert text in message, f"{text!r} not in {message!r}"


def refused(path: Path, *expected: str) -> str:
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert isinstance(error.value, ValueError)
    message = str(error.value)
    check_one_line(message, path, *expected)
    return message


def peak_while(function) -> int:
    """Peak bytes of Python allocations while ``function`` runs."""
    tracemalloc.start()
    try:
        function()
    except (ConfigError, CheckpointError, ValueError):
        pass
    finally:
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak


# -- text: (file name, content, what the message says) ------------------------------------

TEXT_CASES = {
    # alias bombs and recursion
    "billion_laughs": ("bomb.yaml", billion_laughs(), ["aliases are expanded", f"{MAX_NODES:,}"]),
    "alias_bomb_in_a_field": (
        "field_bomb.yaml",
        billion_laughs() + GOOD_YAML.replace("input_shape:", "input_shape: *a9\nignored:"),
        ["aliases"],
    ),
    "alias_bomb_in_a_run_config": (
        "run_bomb.yaml",
        billion_laughs(12, 4) + "architecture_config:\n  name: *a12\n",
        ["aliases"],
    ),
    "recursive_sequence_alias": ("recursive.yaml", "a: &a [*a]\n", ["recursive alias *a"]),
    "recursive_mapping_alias": ("recursive_map.yaml", "a: &a {b: *a}\n", ["recursive alias *a", "a.b"]),
    "undefined_alias": ("undefined.yaml", yaml_with() + "x: *nowhere\n", ["alias *nowhere"]),
    # nesting
    "deep_flow_nesting": ("deep.yaml", "[" * 100_000 + "]" * 100_000, ["nest"]),
    "deep_flow_mapping": ("deep_map.yaml", "{a: " * 5000 + "1" + "}" * 5000, ["nest"]),
    "deep_block_nesting": (
        "deep_block.yaml",
        "".join("  " * i + "a:\n" for i in range(300)) + "  " * 300 + "1\n",
        ["nested more than"],
    ),
    "deep_json": ("deep.json", "[" * 100_000 + "]" * 100_000, ["nested"]),
    "deep_json_within_recursion_limit": ("deep2.json", "[" * 200 + "]" * 200, [f"nested more than {MAX_DEPTH}"]),
    "deep_json_objects": ("deep3.json", '{"a": ' * 500 + "1" + "}" * 500, ["nested"]),
    # tags
    "python_object_apply": (
        "evil.yaml",
        "!!python/object/apply:os.system ['touch pwned']\n",
        ["tag", "python/object/apply:os.system", "not allowed"],
    ),
    "python_object_in_a_field": (
        "evil_field.yaml",
        yaml_raw("name", "!!python/object/apply:os.system ['touch pwned']"),
        ["not allowed"],
    ),
    "python_name": ("name.yaml", "name: !!python/name:os.system\n", ["not allowed"]),
    "python_module": ("module.yaml", "name: !!python/module:os\n", ["not allowed"]),
    "python_object_new": ("new.yaml", "x: !!python/object/new:os.system [ls]\n", ["not allowed"]),
    "tag_directive_alias_for_python": (
        "directive.yaml",
        "%TAG !p! tag:yaml.org,2002:python/object/apply:\n---\n!p!os.system ['touch pwned']\n",
        ["not allowed"],
    ),
    "custom_tag": ("custom.yaml", yaml_with() + "extra: !mytag 3\n", ["'!mytag' is not allowed"]),
    "verbatim_tag": ("verbatim.yaml", "a: !<tag:example.com,2000:app/x> 1\n", ["not allowed"]),
    "binary_tag": ("binary.yaml", "a: !!binary aGVsbG8=\n", ["!!binary"]),
    "set_tag": ("set.yaml", "a: !!set {x, y}\n", ["!!set"]),
    "bad_explicit_int": ("bad_int.yaml", yaml_raw("fmaps_in", "!!int abc"), ["not a valid !!int", "fmaps_in"]),
    "bad_explicit_bool": ("bad_bool.yaml", "a: !!bool maybe\n", ["not a valid !!bool"]),
    "python_tuple_on_a_mapping": ("tuple_map.yaml", "input_shape: !!python/tuple {a: 1}\n", ["line 1"]),
    # documents
    "two_documents": ("two.yaml", GOOD_YAML + "---\n" + GOOD_YAML, ["second YAML document"]),
    "empty_second_document": ("two_empty.yaml", GOOD_YAML + "---\n", ["second YAML document"]),
    "top_level_list": ("list.yaml", "- 1\n- 2\n", ["expected a mapping", "a list"]),
    "top_level_scalar": ("scalar.yaml", "hello\n", ["expected a mapping", "a string 'hello'"]),
    "top_level_number_json": ("number.json", "42", ["expected a mapping", "42"]),
    "top_level_null_json": ("null.json", "null", ["empty"]),
    "empty_text": ("empty.yaml", "", ["empty"]),
    "whitespace_only": ("blank.yaml", "  \n\n\t\n", ["empty"]),
    "comments_only": ("comments.yaml", "# nothing here\n# at all\n", ["empty"]),
    "empty_json": ("empty.json", "", ["empty"]),
    # keys
    "duplicate_key": ("dup.yaml", GOOD_YAML + "fmaps_in: 2\n", ["duplicate key 'fmaps_in'", "line"]),
    "duplicate_key_json": ("dup.json", json.dumps(GOOD)[:-1] + ', "fmaps_in": 2}', ["duplicate key 'fmaps_in'"]),
    "integer_key": ("int_key.yaml", GOOD_YAML + "1: 2\n", ["field names must be strings", "1"]),
    "null_key": ("null_key.yaml", GOOD_YAML + "null: 2\n", ["field names must be strings"]),
    "boolean_key": ("bool_key.yaml", GOOD_YAML + "yes: 2\n", ["field names must be strings", "True"]),
    "unhashable_key": ("complex_key.yaml", GOOD_YAML + "? [1, 2]\n: x\n", ["unhashable"]),
    "unknown_field": ("typo.yaml", yaml_with(fmaps_ou=3), ["unknown field 'fmaps_ou'"]),
    "very_many_unknown_keys": (
        "many.yaml",
        GOOD_YAML + "".join(f"k{i}: {i}\n" for i in range(1000)),
        ["unknown field 'k0', 'k1'", "more)"],
    ),
    "too_many_keys": (
        "too_many.yaml",
        GOOD_YAML + "".join(f"k{i}: {i}\n" for i in range(MAX_CONFIG_VALUES)),
        [f"more than {MAX_CONFIG_VALUES:,} values"],
    ),
    "too_many_values": ("values.yaml", "a: [" + ",".join(["1"] * (MAX_NODES + 5)) + "]\n", ["values"]),
    "too_many_values_json": ("values.json", '{"a": [' + ",".join(["1"] * (MAX_NODES + 5)) + "]}", ["values"]),
    "long_unknown_key": ("long_key.json", json.dumps({**GOOD, "x" * 200_000: 1}), ["unknown field 'xxxx"]),
    "long_yaml_key": ("long_key.yaml", GOOD_YAML + "? " + "x" * 200_000 + "\n: 1\n", ["unknown field 'xxxx"]),
    # __type__ and run configs
    "unknown_type": ("type.yaml", yaml_with(__type__="UNet9000"), ["unknown __type__ 'UNet9000'"]),
    "type_not_a_string": ("type_list.yaml", yaml_with(__type__=[1, 2]), ["__type__ must be a string"]),
    "type_null": ("type_null.yaml", yaml_with(__type__=None), ["__type__ must be a string"]),
    "type_long": ("type_long.yaml", yaml_with(__type__="T" * 100_000), ["unknown __type__ 'TTT"]),
    "run_config_architecture_not_a_mapping": (
        "run.yaml",
        "name: run\narchitecture_config: 5\n",
        ["(architecture_config)", "expected a mapping", "5"],
    ),
    "run_config_architecture_a_list": (
        "run_list.json",
        json.dumps({"name": "run", "architecture_config": [GOOD]}),
        ["(architecture_config)", "a list"],
    ),
    "run_config_architecture_bad_field": (
        "run_field.yaml",
        yaml.safe_dump({"name": "run", "architecture_config": {**GOOD, "fmaps_in": "one"}}),
        ["(architecture_config)", "CNNectomeUNetConfig.fmaps_in"],
    ),
    # numbers
    "huge_integer": ("huge_int.yaml", yaml_raw("fmaps_in", "1" + "0" * 100_000), ["number", "fmaps_in"]),
    "integer_over_str_limit": ("int5000.yaml", yaml_raw("fmaps_in", "9" * 5000), ["number"]),
    "huge_integer_in_a_list": (
        "huge_list_int.yaml",
        yaml_raw("input_shape", "[1" + "0" * 10_000 + ", 1, 1]"),
        ["input_shape[0]"],
    ),
    "huge_explicit_integer": ("huge_tag.yaml", 'fmaps_in: !!int "1' + "0" * 10_000 + '"\n', ["number"]),
    "huge_integer_json": ("huge_int.json", json.dumps(GOOD)[:-1] + ', "x": 1' + "0" * 100_000 + "}", ["number"]),
    "huge_float_json": ("huge_float.json", '{"fmaps_in": 1.' + "5" * 10_000 + "}", ["number"]),
    "exponent_as_text": ("e400.yaml", yaml_with(input_shape=["1e400", 1, 1]), ["input_shape", "'1e400'"]),
    "infinity_in_a_shape": ("inf.yaml", yaml_raw("input_shape", "[1.0e+400, 1, 1]"), ["inf", "input_shape"]),
    "infinity_json": ("inf.json", json_raw("fmaps_in", "1e400"), ["inf", "fmaps_in"]),
    "nan_json": ("nan.json", json_raw("fmaps_in", "NaN"), ["nan", "fmaps_in"]),
    "nan_yaml": ("nan.yaml", yaml_raw("num_fmaps", ".nan"), ["nan", "num_fmaps"]),
    "float_for_an_int": ("float.yaml", yaml_with(num_fmaps=4.0), ["expected an integer, got 4.0", "num_fmaps"]),
    "boolean_for_an_int": ("bool.yaml", yaml_with(fmaps_in=True), ["expected an integer, got True", "fmaps_in"]),
    "boolean_in_a_shape": ("bool_shape.yaml", yaml_with(input_shape=[True, 52, 52]), ["input_shape"]),
    "string_for_a_list": ("str_list.yaml", yaml_with(input_shape="52, 52, 52"), ["input_shape", "'52, 52, 52'"]),
    "number_for_a_list": ("num_list.yaml", yaml_with(downsample_factors=2), ["expected a list, got 2"]),
    "flat_list_for_list_of_lists": (
        "flat.yaml",
        yaml_with(downsample_factors=[2, 2, 2]),
        ["downsample_factors[0]", "got 2"],
    ),
    "mapping_for_a_list": ("map_list.yaml", yaml_with(downsample_factors={"a": 1}), ["downsample_factors"]),
    "bad_kernel_deep_inside": (
        "kernel.yaml",
        yaml_with(kernel_size_down=[[[3, 3, 3]], [[3, "x", 3]]]),
        ["kernel_size_down[1][0]", "'x'"],
    ),
    "thousands_of_bad_entries": (
        "bad_entries.yaml",
        yaml_with(downsample_factors=[["x"]] * 1000),
        ["downsample_factors[0]"],
    ),
    "string_for_a_boolean": ("str_bool.yaml", yaml_with(batch_norm="yes"), ["batch_norm"]),
    "date_for_a_name": (
        "date.yaml",
        GOOD_YAML.replace("name: u", "name: 2024-01-01"),
        ["CNNectomeUNetConfig.name", "datetime.date(2024, 1, 1)"],
    ),
    "impossible_date": (
        "bad_date.yaml",
        GOOD_YAML.replace("name: u", "name: 2024-13-45"),
        ["not a valid !!timestamp", "month must be in 1..12", "(name)"],
    ),
    # long values are never echoed in full
    "very_long_string_for_an_int": ("long_str.yaml", yaml_with(fmaps_in="x" * 500_000), ["fmaps_in", "..."]),
    "very_long_list_for_an_int": ("long_list.yaml", yaml_with(fmaps_in=list(range(2000))), ["fmaps_in", "..."]),
    "very_long_line_syntax_error": ("syntax.yaml", "a: b: " + "x" * 500_000 + "\n", ["not valid YAML", "line 1"]),
    # plain syntax errors, on one line
    "bad_indentation": ("indent.yaml", "a:\n  b: 1\n c: 2\n", ["not valid YAML", "line 3"]),
    "tab_indentation": ("tab.yaml", "a:\n\tb: 1\n", ["not valid YAML", "line 2"]),
    "unclosed_quote": ("quote.yaml", 'name: "unclosed\n', ["not valid YAML"]),
    "unclosed_flow": ("flow.yaml", "input_shape: [1, 2\n", ["not valid YAML"]),
    "control_character": ("bell.yaml", "name: a\x07b\n", ["not valid YAML", "#x0007"]),
    "broken_json": ("broken.json", "{", ["not valid JSON", "line 1"]),
    "json_trailing_garbage": ("trailing.json", json.dumps(GOOD) + " x", ["not valid JSON", "line 1"]),
    "json_single_quotes": ("quotes.json", "{'a': 1}", ["not valid JSON"]),
    "yaml_in_a_json_file": ("yaml.json", GOOD_YAML, ["not valid JSON"]),
}


@pytest.mark.parametrize("name, content, expected", TEXT_CASES.values(), ids=TEXT_CASES.keys())
def test_refused_text(tmp_path, monkeypatch, name, content, expected):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    refused(path, *expected)
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("name, content, expected", TEXT_CASES.values(), ids=TEXT_CASES.keys())
def test_refused_text_with_the_pure_python_parser(tmp_path, monkeypatch, name, content, expected):
    """The same without libyaml: the messages may word parse errors differently."""
    from napari_dacapo.io import safe_yaml

    monkeypatch.setattr(safe_yaml, "DaCapoYamlLoader", safe_yaml.PythonYamlLoader)
    monkeypatch.chdir(tmp_path)
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    message = refused(path)
    if "not valid YAML" not in message or not any(word in message for word in PARSER_WORDING):
        check_one_line(message, path, *expected)
    assert not (tmp_path / "pwned").exists()


PARSER_WORDING = ("expected", "found", "could not", "control characters", "special characters", "nesting depth")


SMALL_BOMBS = [
    "billion_laughs",
    "alias_bomb_in_a_field",
    "alias_bomb_in_a_run_config",
    "recursive_sequence_alias",
    "recursive_mapping_alias",
    "deep_flow_nesting",
    "deep_json",
    "huge_integer",
    "huge_integer_json",
    "python_object_apply",
]


@pytest.mark.parametrize("case", SMALL_BOMBS)
def test_bombs_cost_no_memory(tmp_path, case):
    name, content, _expected = TEXT_CASES[case]
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    assert peak_while(lambda: load_config(path)) < MAX_PEAK_BYTES


def test_alias_bomb_does_not_grow_the_process(tmp_path):
    import psutil  # in the testing extra

    path = tmp_path / "bomb.yaml"
    path.write_text(billion_laughs(levels=12, width=10), encoding="utf-8")  # 10^12 values expanded
    before = psutil.Process().memory_info().rss
    for _ in range(20):
        with pytest.raises(ConfigError, match="aliases"):
            load_config(path)
    assert psutil.Process().memory_info().rss - before < 64 * 2**20


def test_refused_messages_never_hold_an_expanded_value(tmp_path):
    path = tmp_path / "laughs.yaml"
    path.write_text(billion_laughs(), encoding="utf-8")
    assert "lol" not in refused(path)


# -- bytes: encodings and binary content ---------------------------------------------------

BINARY_CASES = {
    "nul_bytes": (b"name: u\x00\x00\x00\n", ["binary data", "NUL byte at offset 7"]),
    "png": (b"\x89PNG\r\n\x1a\n" + bytes(200), ["PNG image"]),
    "zip_checkpoint": (b"PK\x03\x04" + bytes(100), ["zip archive"]),
    "pickle": (b"\x80\x04\x95" + bytes(50), ["pickled Python data"]),
    "gzip": (b"\x1f\x8b\x08" + bytes(50), ["gzip"]),
    "random_bytes": (bytes(range(256)) * 4, ["binary data"]),
    "latin1": ("name: café\n".encode("latin-1"), ["not UTF-8 text", "byte 0xe9", "line 1", "save the file as UTF-8"]),
    "latin1_later_line": (
        GOOD_YAML.encode() + "x: é\n".encode("latin-1"),
        ["not UTF-8", f"line {GOOD_YAML.count(chr(10)) + 1}"],
    ),
    "cp1252_quotes": (b"name: \x93quoted\x94\n", ["not UTF-8 text", "0x93"]),
    "utf16_without_bom": (GOOD_YAML.encode("utf-16-le"), ["UTF-16", "byte-order mark", "UTF-8"]),
    "utf16_big_endian_without_bom": (GOOD_YAML.encode("utf-16-be"), ["UTF-16"]),
    "utf16_bom_odd_length": (b"\xff\xfea\x00b", ["not UTF-16 text"]),
    "lone_surrogate_bytes": (b"name: \xed\xa0\x80\n", ["not UTF-8 text"]),
    "empty_bytes": (b"", ["empty", "0 bytes"]),
}


@pytest.mark.parametrize("content, expected", BINARY_CASES.values(), ids=BINARY_CASES.keys())
@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_refused_bytes(tmp_path, suffix, content, expected):
    path = tmp_path / f"config{suffix}"
    path.write_bytes(content)
    refused(path, *expected)


@pytest.mark.parametrize(
    "encoding, bom",
    [
        ("utf-8", b"\xef\xbb\xbf"),
        ("utf-16-le", b"\xff\xfe"),
        ("utf-16-be", b"\xfe\xff"),
        ("utf-32-le", b"\xff\xfe\x00\x00"),
    ],
)
@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_text_with_a_byte_order_mark_is_read(tmp_path, encoding, bom, suffix):
    text = GOOD_YAML if suffix == ".yaml" else json.dumps(GOOD)
    path = tmp_path / f"bom{suffix}"
    path.write_bytes(bom + text.encode(encoding))
    assert load_config(path).input_shape == (52, 52, 52)


def test_non_ascii_utf8_is_read(tmp_path):
    path = tmp_path / "unicode.yaml"
    path.write_text(yaml_with(name="réseau_µ_网络"), encoding="utf-8")
    assert load_config(path).name == "réseau_µ_网络"


# -- files that are not files, or too large -------------------------------------------------


def test_missing_file(tmp_path):
    refused(tmp_path / "absent.yaml", "cannot read", "No such file")


def test_missing_directory(tmp_path):
    refused(tmp_path / "nowhere" / "absent.json", "cannot read")


def test_a_directory(tmp_path):
    (tmp_path / "config.yaml").mkdir()
    refused(tmp_path / "config.yaml", "directory")


def test_unknown_suffix(tmp_path):
    (tmp_path / "config.txt").write_text(GOOD_YAML)
    refused(tmp_path / "config.txt", "unknown config format '.txt'")


def test_long_suffix_is_not_echoed(tmp_path):
    path = tmp_path / ("config." + "x" * 200)
    refused(path, "unknown config format")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_permission_denied(tmp_path, monkeypatch):
    path = tmp_path / "secret.yaml"
    path.write_text(GOOD_YAML)
    if os.geteuid() != 0:
        path.chmod(0)
    else:  # root reads anything: make opening fail as it would for a user

        def denied(*_args, **_kwargs):
            raise PermissionError(13, "Permission denied")

        monkeypatch.setattr(Path, "open", denied)
    refused(path, "cannot read", "Permission denied")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
def test_a_named_pipe_is_refused_without_blocking(tmp_path):
    path = tmp_path / "pipe.yaml"
    os.mkfifo(path)
    refused(path, "not a regular file")


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_a_link_to_an_endless_device(tmp_path):
    path = tmp_path / "zero.yaml"
    path.symlink_to("/dev/zero")
    refused(path, "not a regular file")


def test_a_symlink_loop(tmp_path):
    path = tmp_path / "loop.yaml"
    path.symlink_to(tmp_path / "loop.yaml")
    refused(path, "cannot read")


def test_a_file_above_the_size_limit_is_not_read(tmp_path):
    path = tmp_path / "huge.yaml"
    with open(path, "wb") as file:
        file.truncate(2 * MAX_FILE_BYTES)  # sparse: costs no disk
    message = refused(path, "too large", "2.0 MiB", "1.0 MiB")
    assert "limit" in message
    assert peak_while(lambda: load_config(path)) < MAX_FILE_BYTES // 2


def test_a_file_just_at_the_size_limit_is_read(tmp_path):
    path = tmp_path / "padded.yaml"
    text = GOOD_YAML + "#" * (MAX_FILE_BYTES - len(GOOD_YAML) - 1) + "\n"
    path.write_text(text)
    assert path.stat().st_size == MAX_FILE_BYTES
    assert load_config(path).name == "u"


def test_a_path_with_a_newline_gives_one_line(tmp_path):
    path = tmp_path / "two\nlines.yaml"
    path.write_text("fmaps_in: [")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    message = str(error.value)
    assert "\n" not in message
    assert "two\\nlines.yaml" in message


def test_not_a_path():
    with pytest.raises(TypeError, match="path of a config file"):
        load_config(None)


# -- what is still read ----------------------------------------------------------------------


def test_dacapo_yaml_dump_with_tuples_and_aliases(tmp_path):
    # yaml.dump of DaCapo's document, where Coordinates (tuples) are shared: anchors and aliases
    factor, kernel = (2, 2, 2), (3, 3, 3)
    level = [kernel, kernel]
    document = {**GOOD, "downsample_factors": [factor, factor], "kernel_size_down": [level] * 3}
    text = yaml.dump(document)
    assert "&id" in text and "*id" in text and "!!python/tuple" in text
    path = tmp_path / "dump.yaml"
    path.write_text(text)
    config = load_config(path)
    assert config.downsample_factors == [factor, factor]
    assert config.kernel_size_down == [[kernel, kernel]] * 3


def test_merge_keys_are_read(tmp_path):
    text = (
        "defaults: &defaults\n  fmaps_in: 1\n  fmaps_out: 3\n  num_fmaps: 4\n  fmap_inc_factor: 2\n"
        "architecture_config:\n  <<: *defaults\n  name: merged\n  input_shape: [52, 52, 52]\n"
        "  downsample_factors: [[2, 2, 2]]\n  fmaps_out: 5\n"
    )
    path = tmp_path / "merge.yaml"
    path.write_text(text)
    config = load_config(path)
    assert (config.name, config.fmaps_in, config.fmaps_out) == ("merged", 1, 5)


def test_explicit_document_markers_and_standard_tags(tmp_path):
    tagged = GOOD_YAML.replace("name: u", "name: !!str u").replace("fmaps_in: 1", "fmaps_in: !!int 1")
    text = "%YAML 1.1\n---\n" + tagged
    path = tmp_path / "marked.yaml"
    path.write_text(text + "...\n")
    assert load_config(path).fmaps_in == 1


def test_a_run_config_with_other_sections(tmp_path):
    run = {
        "name": "run",
        "architecture_config": GOOD,
        "task_config": {"name": "t", "channels": ["mito"] * 50},
        "num_iterations": 10,
    }
    path = tmp_path / "run.json"
    path.write_text(json.dumps(run))
    assert load_config(path).name == "u"


def test_bundled_configs_still_load():
    for path in example_config_paths().values():
        assert load_config(path).verify() == (True, "valid")


def test_documents_passed_directly_are_bounded_too():
    cyclic: dict = dict(GOOD)
    cyclic["kernel_size_down"] = [cyclic]
    with pytest.raises(ConfigError, match="nested more than"):
        config_from_dict(cyclic, "cyclic")
    with pytest.raises(ConfigError, match=r"\(architecture_config\): expected a mapping"):
        config_from_dict({"architecture_config": "x" * 10_000}, "run")


# -- networks too large to build -------------------------------------------------------------


def unet(**changes) -> CNNectomeUNetConfig:
    fields = dict(
        name="big",
        input_shape=(216, 216, 216),
        fmaps_out=14,
        fmaps_in=1,
        num_fmaps=12,
        fmap_inc_factor=6,
        downsample_factors=[(2, 2, 2), (3, 3, 3), (3, 3, 3)],
    )
    fields.update(changes)
    return CNNectomeUNetConfig(**fields)


ABSURD = {
    "huge_input": ({"input_shape": (100_000,) * 3}, ["input_shape 100000 × 100000 × 100000", "needs ~", "EiB"]),
    "huge_eval_increase": ({"eval_shape_increase": (54_000,) * 3}, ["input_shape + eval_shape_increase", "needs ~"]),
    "huge_num_fmaps": ({"num_fmaps": 10**6}, ["parameters", "~1.6e+18", "(~5.6 EiB of float32 weights)"]),
    "huge_inc_factor": (
        {"fmap_inc_factor": 1000, "input_shape": (216,) * 3, "downsample_factors": [(1, 1, 1)] * 8},
        ["parameters", "~2^"],
    ),
    "huge_fmaps_in": ({"fmaps_in": 10**9}, ["parameters"]),
    "huge_fmaps_out": ({"fmaps_out": 10**7}, ["parameters"]),
    "huge_kernels": (
        {
            "input_shape": (52,) * 3,
            "downsample_factors": [(2, 2, 2)],
            "num_fmaps": 64,
            "kernel_size_down": [[(3, 3, 3)], [(1000, 1000, 1000)]],
        },
        ["parameters"],
    ),
    "absurd_integers": ({"input_shape": (10**400,) * 3}, ["needs ~2^", "bytes", "digit"]),
    "too_many_levels": ({"downsample_factors": [(1, 1, 1)] * (MAX_LEVELS + 1)}, [f"more than the {MAX_LEVELS}"]),
    "too_many_upsample_stages": (
        {"upsample_factors": [(1, 1, 1)] * (MAX_LEVELS + 1)},
        ["upsample_factors lists 33 levels"],
    ),
    "superresolution_explosion": ({"upsample_factors": [(8, 8, 8)] * 8}, ["needs ~"]),
}


@pytest.mark.parametrize("changes, expected", ABSURD.values(), ids=ABSURD.keys())
def test_absurd_networks_do_not_verify(changes, expected):
    valid, message = unet(**changes).verify()
    assert not valid
    assert "\n" not in message and len(message) < 700, message
    for text in expected:
        assert text in message, f"{text!r} not in {message!r}"


@pytest.mark.parametrize("changes, expected", ABSURD.values(), ids=ABSURD.keys())
def test_absurd_networks_are_not_built(monkeypatch, changes, expected):
    def allocate(_self):
        raise AssertionError("the network's layers were allocated")

    monkeypatch.setattr(CNNectomeUNet, "module", allocate)
    config = unet(**changes)
    with pytest.raises(ValueError, match="does not verify") as error:
        as_architecture(config)
    assert "\n" not in str(error.value)
    with pytest.raises(ValueError) as error:
        CNNectomeUNet(config)
    message = str(error.value)
    assert "\n" not in message and len(message) < 700
    assert "cannot build CNNectomeUNet" in message


def test_the_limits_are_what_the_messages_say():
    assert MAX_PARAMETERS == 2**31
    assert format_bytes(MAX_TILE_BYTES) == "1.0 TiB"
    _valid, message = unet(input_shape=(100_000,) * 3).verify()
    assert "more than the limit of 1.0 TiB" in message
    _valid, message = unet(num_fmaps=10**6).verify()
    assert "more than the limit of 2,147,483,648" in message


@pytest.mark.parametrize(
    "config",
    [
        unet(),  # COSEM: 12 fmaps, ×6, downsampling 2, 3, 3 (234 M parameters)
        unet(input_shape=(396,) * 3),  # the same on a 42 GiB tile
        unet(eval_shape_increase=(180,) * 3),
        example_config("cellmap_unet3d"),  # 5.4 M parameters, ~3.1 GiB per tile
        example_config("superres_unet3d"),
        example_config("unet2d"),
    ],
    ids=["cosem", "cosem_large_tile", "cosem_eval_increase", "cellmap", "superres", "unet2d"],
)
def test_realistic_networks_still_verify(config):
    assert config.verify() == (True, "valid")


DACAPO_CONFIGS = sorted(DACAPO.glob("unet*.json"))


@pytest.mark.parametrize("source", DACAPO_CONFIGS, ids=lambda p: p.stem)
def test_arithmetic_matches_the_built_network(source):
    """The parameter count is exact; the tile memory is what the tiling engine measures."""
    from napari_dacapo.tiling.memory import estimate_tile_memory

    config = load_config(source)
    network = as_architecture(config)
    geometry = config.geometry()
    assert unet_parameters(config, geometry) == sum(p.numel() for p in network.parameters())
    shape = config.input_shape
    assert unet_tile_bytes(config, geometry, shape) == pytest.approx(estimate_tile_memory(network, shape), rel=0.05)


def test_cellmap_tile_figure():
    config = example_config("cellmap_unet3d")
    shape = config.input_shape + config.eval_shape_increase
    assert 2.5 * 2**30 < unet_tile_bytes(config, config.geometry(), shape) < 4 * 2**30
    assert unet_parameters(config, config.geometry()) == 5_360_736


def test_short_repr_never_builds_the_whole_value():
    huge = list(range(10**6))
    assert len(short_repr(huge)) <= 60
    assert short_repr(10**100_000).startswith("<an integer of ~100,001 digits>")
    nested: list = []
    for _ in range(10_000):
        nested = [nested]
    assert len(short_repr(nested)) <= 60
    assert short_repr("a\nb") == "'a\\nb'"


# -- weights files ---------------------------------------------------------------------------


def write_bytes(name: str, content: bytes):
    def make(tmp_path: Path) -> Path:
        path = tmp_path / name
        path.write_bytes(content)
        return path

    return make


def truncated_checkpoint(tmp_path: Path) -> Path:
    torch.save({"w": torch.zeros(1000)}, tmp_path / "full.pt")
    data = (tmp_path / "full.pt").read_bytes()
    path = tmp_path / "truncated.pt"
    path.write_bytes(data[: len(data) // 2])
    return path


def truncated_legacy_checkpoint(tmp_path: Path) -> Path:
    torch.save({"w": torch.zeros(1000)}, tmp_path / "full.pt", _use_new_zipfile_serialization=False)
    data = (tmp_path / "full.pt").read_bytes()
    path = tmp_path / "truncated_legacy.pt"
    path.write_bytes(data[: len(data) // 2])
    return path


def foreign_zip(tmp_path: Path) -> Path:
    import zipfile

    path = tmp_path / "foreign.pt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "not weights")
    return path


def directory(tmp_path: Path) -> Path:
    (tmp_path / "weights.pt").mkdir()
    return tmp_path / "weights.pt"


def huge_sparse(tmp_path: Path) -> Path:
    path = tmp_path / "huge.pt"
    with open(path, "wb") as file:
        file.truncate(2**32)
    return path


CHECKPOINT_CASES = {
    "text": (
        write_bytes("text.pt", b"hello world\n"),
        ["not a readable torch checkpoint", "text file", "'hello world'"],
    ),
    "config_as_weights": (write_bytes("config.yaml", GOOD_YAML.encode()), ["text file", "a config file?"]),
    "empty": (write_bytes("empty.pt", b""), ["empty", "0 bytes"]),
    "truncated_zip": (truncated_checkpoint, ["zip archive", "truncated"]),
    "truncated_legacy": (truncated_legacy_checkpoint, ["pickled data", "truncated"]),
    "foreign_zip": (foreign_zip, ["zip archive"]),
    "png": (write_bytes("image.pt", b"\x89PNG\r\n\x1a\n" + bytes(100)), ["binary data"]),
    "random": (write_bytes("random.pt", bytes(range(256)) * 16), ["not a readable torch checkpoint"]),
    "directory": (directory, ["directory"]),
    "missing": (lambda tmp_path: tmp_path / "absent.pt", ["no such file"]),
    "huge_sparse_zeros": (huge_sparse, ["not a readable torch checkpoint"]),
}


@pytest.mark.parametrize("make, expected", CHECKPOINT_CASES.values(), ids=CHECKPOINT_CASES.keys())
def test_refused_weights_files(tmp_path, make, expected):
    path = make(tmp_path)
    with pytest.raises(CheckpointError) as error:
        read_checkpoint(path)
    message = str(error.value)
    check_one_line(message, path, *expected)
    assert "weights_only=False" not in message  # never advise running pickled code


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
def test_weights_from_a_named_pipe_are_refused_without_blocking(tmp_path):
    path = tmp_path / "pipe.pt"
    os.mkfifo(path)
    with pytest.raises(CheckpointError, match="not a regular file"):
        read_checkpoint(path)


def test_weights_permission_denied(tmp_path, monkeypatch):
    path = tmp_path / "locked.pt"
    torch.save({"w": torch.zeros(1)}, path)
    if os.geteuid() != 0:
        path.chmod(0)
    else:

        def denied(*_args, **_kwargs):
            raise PermissionError(13, "Permission denied")

        monkeypatch.setattr(torch, "load", denied)
    with pytest.raises(CheckpointError) as error:
        read_checkpoint(path)
    check_one_line(str(error.value), path, "cannot read", "Permission denied")


def test_weights_are_only_ever_loaded_weights_only(tmp_path, monkeypatch):
    calls = []
    original = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs.get("weights_only"))
        return original(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    torch.save({"w": torch.zeros(1)}, tmp_path / "w.pt")
    assert set(read_checkpoint(tmp_path / "w.pt")) == {"w"}
    assert calls == [True]
