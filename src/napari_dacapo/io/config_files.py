"""Architecture configs on disk, in DaCapo's serialised form (YAML or JSON).

A document is the dict DaCapo's cattrs converter writes: the config's fields under their
attribute names (``_eval_shape_increase``), Coordinates as lists, and the class name under
``__type__``. A DaCapo run config (with an ``architecture_config`` entry) is accepted too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attr
import cattrs
import yaml
from funlib.geometry import Coordinate

from ..architectures import ArchitectureConfig, CNNectomeUNetConfig, DummyArchitectureConfig

CONFIG_TYPES: dict[str, type[ArchitectureConfig]] = {
    cls.__name__: cls for cls in (CNNectomeUNetConfig, DummyArchitectureConfig)
}


class ConfigError(ValueError):
    """A config file that cannot be read; the message names the file and the field."""


class _DaCapoYamlLoader(yaml.SafeLoader):
    """Safe YAML loader that also reads ``!!python/tuple`` (DaCapo writes Coordinates so)."""


_DaCapoYamlLoader.add_constructor(
    "tag:yaml.org,2002:python/tuple",
    lambda loader, node: list(loader.construct_sequence(node, deep=True)),
)


def _strict(kind: type, label: str):
    def structure(value: Any, _type: Any) -> Any:
        if isinstance(value, bool) and kind is not bool:
            raise TypeError(f"expected {label}, got {value!r}")
        if not isinstance(value, kind):
            raise TypeError(f"expected {label}, got {value!r}")
        return value

    return structure


def _structure_coordinate(value: Any, _type: Any) -> Coordinate:
    if not isinstance(value, list | tuple) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise TypeError(f"expected a list of integers, got {value!r}")
    return Coordinate(value)


def _make_converter() -> cattrs.Converter:
    converter = cattrs.Converter(forbid_extra_keys=True)
    converter.register_structure_hook(Coordinate, _structure_coordinate)
    converter.register_unstructure_hook(Coordinate, lambda c: [int(v) for v in c])
    converter.register_structure_hook(int, _strict(int, "an integer"))
    converter.register_structure_hook(bool, _strict(bool, "true or false"))
    converter.register_structure_hook(str, _strict(str, "a string"))
    for cls in CONFIG_TYPES.values():
        attr.resolve_types(cls)
    return converter


_CONVERTER = _make_converter()


def config_to_dict(config: ArchitectureConfig) -> dict[str, Any]:
    """The document DaCapo would write for ``config`` (``__type__`` first)."""
    body = _CONVERTER.unstructure(config)
    return {"__type__": type(config).__name__, **body}


def config_from_dict(document: dict[str, Any], source: str = "<dict>") -> ArchitectureConfig:
    """Build a config from a DaCapo document; errors name ``source`` and the field."""
    if not isinstance(document, dict):
        raise ConfigError(f"{source}: expected a mapping of config fields, got {document!r}")
    if "architecture_config" in document:  # a whole DaCapo run config
        document = document["architecture_config"]
        source = f"{source} (architecture_config)"
        if not isinstance(document, dict):
            raise ConfigError(f"{source}: expected a mapping of config fields")
    document = dict(document)
    type_name = document.pop("__type__", "CNNectomeUNetConfig")
    if type_name not in CONFIG_TYPES:
        raise ConfigError(f"{source}: unknown __type__ {type_name!r} (known: {', '.join(CONFIG_TYPES)})")
    cls = CONFIG_TYPES[type_name]
    if "eval_shape_increase" in document and hasattr(cls, "eval_shape_increase"):
        if "_eval_shape_increase" in document:
            raise ConfigError(f"{source}: both 'eval_shape_increase' and '_eval_shape_increase'")
        document["_eval_shape_increase"] = document.pop("eval_shape_increase")
    known = {a.name for a in attr.fields(cls)}
    unknown = sorted(set(document) - known)
    if unknown:
        raise ConfigError(
            f"{source}: unknown field {', '.join(map(repr, unknown))} for {type_name} "
            f"(fields: {', '.join(sorted(known))})"
        )
    missing = [a.name for a in attr.fields(cls) if a.default is attr.NOTHING and a.name not in document]
    if missing:
        raise ConfigError(f"{source}: missing field {', '.join(map(repr, missing))} for {type_name}")
    try:
        return _CONVERTER.structure(document, cls)
    except cattrs.BaseValidationError as error:
        details = cattrs.transform_error(error, path=type_name, format_exception=lambda e, _t: str(e) or repr(e))
        raise ConfigError(f"{source}: " + "; ".join(details)) from None


def _format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        return "yaml"
    if suffix == ".json":
        return "json"
    raise ConfigError(f"{path}: unknown config format {suffix!r} (use .yaml, .yml or .json)")


def load_config(path: str | Path) -> ArchitectureConfig:
    """Read an architecture config from a DaCapo YAML or JSON file."""
    path = Path(path)
    kind = _format(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise ConfigError(f"{path}: cannot read ({error.strerror})") from None
    try:
        document = yaml.load(text, Loader=_DaCapoYamlLoader) if kind == "yaml" else json.loads(text)
    except (yaml.YAMLError, json.JSONDecodeError) as error:
        raise ConfigError(f"{path}: not valid {kind.upper()}: {error}") from None
    return config_from_dict(document, str(path))


def save_config(config: ArchitectureConfig, path: str | Path) -> None:
    """Write ``config`` as DaCapo would serialise it, as YAML or JSON by the file's suffix."""
    path = Path(path)
    document = config_to_dict(config)
    if _format(path) == "yaml":
        path.write_text(yaml.safe_dump(document, sort_keys=False))
    else:
        path.write_text(json.dumps(document, indent=2) + "\n")
