"""Architecture configs on disk, in DaCapo's serialised form (YAML or JSON).

A document is the dict DaCapo's cattrs converter writes: the config's fields under their
attribute names (``_eval_shape_increase``), Coordinates as lists, and the class name under
``__type__``. A DaCapo run config (with an ``architecture_config`` entry) is accepted too.

Files may be hostile or just wrong, and are refused with one line that starts with the file's
name (and names the field where there is one) before they cost time or memory: files over
:data:`MAX_FILE_BYTES`, anything that is not a regular file, binary data, text that is not
UTF-8 (or UTF-16/32 with a byte-order mark), YAML beyond what :mod:`.safe_yaml` reads (alias
bombs, code-running tags, deep nesting, several documents), duplicate keys, and documents of
more than :data:`~.safe_yaml.MAX_NODES` values or an architecture of more than
:data:`MAX_CONFIG_VALUES`. Values are echoed at most a few dozen characters long.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attr
import cattrs
import yaml
from cattrs.errors import IterableValidationError, IterableValidationNote
from funlib.geometry import Coordinate

from ..architectures.architecture_config import ArchitectureConfig
from ..architectures.cnnectome_unet_config import CNNectomeUNetConfig, short_repr
from ..architectures.dummy_architecture_config import DummyArchitectureConfig
from .config_text import MAX_FILE_BYTES, ConfigError, _decode, _format, _label, _parse, _read_bytes
from .safe_yaml import MAX_DEPTH, one_line

__all__ = [
    "CONFIG_TYPES",
    "MAX_CONFIG_VALUES",
    "MAX_FILE_BYTES",
    "ConfigError",
    "config_from_dict",
    "config_to_dict",
    "load_config",
    "load_document",
    "save_config",
]

CONFIG_TYPES: dict[str, type[ArchitectureConfig]] = {
    cls.__name__: cls for cls in (CNNectomeUNetConfig, DummyArchitectureConfig)
}

MAX_CONFIG_VALUES = 5_000
"""Most values (scalars and lists, aliases expanded) in the architecture part of a document.
One of 32 levels with three kernels per convolution pass has about 1,000."""

_MAX_ERRORS_SHOWN = 5


# -- structuring: DaCapo's converter, strict about types, terse about values ----------------


def _strict(kind: type, label: str) -> Callable[[Any, Any], Any]:
    def structure(value: Any, _type: Any) -> Any:
        if isinstance(value, bool) and kind is not bool:
            raise TypeError(f"expected {label}, got {short_repr(value)}")
        if not isinstance(value, kind):
            raise TypeError(f"expected {label}, got {short_repr(value)}")
        return value

    return structure


def _structure_coordinate(value: Any, _type: Any) -> Coordinate:
    if not isinstance(value, list | tuple) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise TypeError(f"expected a list of integers, got {short_repr(value)}")
    return Coordinate(value)


def _first_error_only(item_hook: Callable[[Any, Any], Any], item_type: Any) -> Callable[[Any, Any], list]:
    """A list hook that stops at the first bad item (with its index), not one error per item."""

    def structure(value: Any, list_type: Any) -> list:
        if not isinstance(value, list | tuple):
            raise TypeError(f"expected a list, got {short_repr(value)}")
        items = []
        for index, item in enumerate(value):
            try:
                items.append(item_hook(item, item_type))
            except Exception as error:
                note = IterableValidationNote(f"Structuring {list_type} @ index {index}", index, item_type)
                error.__notes__ = [*getattr(error, "__notes__", []), note]
                raise IterableValidationError(f"While structuring {list_type!r}", [error], list_type) from None
        return items

    return structure


def _make_converter() -> cattrs.Converter:
    converter = cattrs.Converter(forbid_extra_keys=True)
    converter.register_structure_hook(Coordinate, _structure_coordinate)
    converter.register_unstructure_hook(Coordinate, lambda c: [int(v) for v in c])
    converter.register_structure_hook(int, _strict(int, "an integer"))
    converter.register_structure_hook(bool, _strict(bool, "true or false"))
    converter.register_structure_hook(str, _strict(str, "a string"))
    coordinates = _first_error_only(_structure_coordinate, Coordinate)
    kernel_lists = _first_error_only(coordinates, list[Coordinate])
    converter.register_structure_hook_func(lambda t: t == list[Coordinate], coordinates)
    converter.register_structure_hook_func(lambda t: t == list[list[Coordinate]], kernel_lists)
    for cls in CONFIG_TYPES.values():
        attr.resolve_types(cls)
    return converter


_CONVERTER = _make_converter()


def config_to_dict(config: ArchitectureConfig) -> dict[str, Any]:
    """The document DaCapo would write for ``config`` (``__type__`` first)."""
    body = _CONVERTER.unstructure(config)
    return {"__type__": type(config).__name__, **body}


# -- the document: its size, its keys, its fields -------------------------------------------


def _kind(value: Any) -> str:
    names = {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    name = next((n for t, n in names.items() if isinstance(value, t)), f"a {type(value).__name__}")
    return "nothing (null)" if value is None else f"{name} {short_repr(value)}"


def _children(value: Any) -> Iterator[tuple[Any, Any]] | None:
    if isinstance(value, dict):
        return iter(value.items())
    if isinstance(value, list | tuple):
        return enumerate(value)
    return None


def _child_path(path: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    key = key if isinstance(key, str) else short_repr(key, 30)
    return f"{path}.{one_line(key, 40)}" if path else one_line(key, 40)


def _check_size(document: Any, source: str, max_values: int, what: str) -> None:
    """Refuse documents nested deeper than ``MAX_DEPTH`` or holding more than ``max_values``
    values (shared ones counted each time they occur), without building anything."""
    children = _children(document)
    if children is None:
        return
    count = 1
    stack: list[tuple[Iterator[tuple[Any, Any]], str]] = [(children, "")]
    while stack:
        children, path = stack[-1]
        item = next(children, None)
        if item is None:
            stack.pop()
            continue
        key, value = item
        count += 1
        if count > max_values:
            raise ConfigError(f"{source}: {what} holds more than {max_values:,} values")
        grandchildren = _children(value)
        if grandchildren is not None:
            child_path = _child_path(path, key)
            if len(stack) >= MAX_DEPTH:
                raise ConfigError(f"{source}: nested more than {MAX_DEPTH} levels deep (at {one_line(child_path, 80)})")
            stack.append((grandchildren, child_path))


def _check_keys(document: dict, source: str) -> None:
    for key in document:
        if not isinstance(key, str):
            raise ConfigError(f"{source}: field names must be strings, got {_kind(key)}")


def _listing(names: list[str]) -> str:
    shown = ", ".join(short_repr(n, 40) for n in names[:_MAX_ERRORS_SHOWN])
    more = len(names) - _MAX_ERRORS_SHOWN
    return shown + (f" (+{more:,} more)" if more > 0 else "")


def _architecture_document(document: Any, source: str) -> tuple[dict, str]:
    """The architecture's mapping (of a run config too) and how to name it in messages."""
    if document is None:
        raise ConfigError(f"{source}: the document is empty; expected a mapping of config fields")
    if not isinstance(document, dict):
        raise ConfigError(f"{source}: expected a mapping of config fields, got {_kind(document)}")
    _check_keys(document, source)
    if "architecture_config" in document:  # a whole DaCapo run config
        document = document["architecture_config"]
        source = f"{source} (architecture_config)"
        if not isinstance(document, dict):
            raise ConfigError(f"{source}: expected a mapping of config fields, got {_kind(document)}")
        _check_keys(document, source)
    _check_size(document, source, MAX_CONFIG_VALUES, "the architecture config")
    return dict(document), source


def _config_type(document: dict, source: str) -> tuple[str, type[ArchitectureConfig]]:
    type_name = document.pop("__type__", "CNNectomeUNetConfig")
    if not isinstance(type_name, str):
        raise ConfigError(f"{source}: __type__ must be a string naming the config class, got {_kind(type_name)}")
    if type_name not in CONFIG_TYPES:
        raise ConfigError(f"{source}: unknown __type__ {short_repr(type_name)} (known: {', '.join(CONFIG_TYPES)})")
    return type_name, CONFIG_TYPES[type_name]


def config_from_dict(document: dict[str, Any], source: str = "<dict>") -> ArchitectureConfig:
    """Build a config from a DaCapo document; errors name ``source`` and the field.

    Only the architecture's part of the document is looked into (a run config's other
    sections are not), and refused when nested deeper than ``MAX_DEPTH`` or larger than
    :data:`MAX_CONFIG_VALUES`.
    """
    document, source = _architecture_document(document, source)
    type_name, cls = _config_type(document, source)
    if "eval_shape_increase" in document and hasattr(cls, "eval_shape_increase"):
        if "_eval_shape_increase" in document:
            raise ConfigError(f"{source}: both 'eval_shape_increase' and '_eval_shape_increase'")
        document["_eval_shape_increase"] = document.pop("eval_shape_increase")
    known = {a.name for a in attr.fields(cls)}
    unknown = sorted(set(document) - known)
    if unknown:
        raise ConfigError(
            f"{source}: unknown field {_listing(unknown)} for {type_name} (fields: {', '.join(sorted(known))})"
        )
    missing = [a.name for a in attr.fields(cls) if a.default is attr.NOTHING and a.name not in document]
    if missing:
        raise ConfigError(f"{source}: missing field {', '.join(map(repr, missing))} for {type_name}")
    try:
        return _CONVERTER.structure(document, cls)
    except cattrs.BaseValidationError as error:
        details = cattrs.transform_error(error, path=type_name, format_exception=_describe)
        more = len(details) - _MAX_ERRORS_SHOWN
        shown = "; ".join(one_line(d, 200) for d in details[:_MAX_ERRORS_SHOWN])
        raise ConfigError(f"{source}: {shown}" + (f" (+{more} more)" if more > 0 else "")) from None
    except (TypeError, ValueError) as error:  # a converter or attrs itself, on a value nothing expects
        raise ConfigError(f"{source}: {one_line(str(error) or type(error).__name__, 200)}") from None


def _describe(error: BaseException, _type: Any) -> str:
    return one_line(str(error) or repr(error), 200)


def load_document(path: str | os.PathLike[str]) -> Any:
    """The document in a DaCapo YAML or JSON file, read with every limit of this module
    (:class:`ConfigError` if refused)."""
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"expected the path of a config file, got {type(path).__name__}")
    path = Path(path)
    label = _label(path)
    kind = _format(path, label)
    text = _decode(_read_bytes(path, label), label)
    return _parse(text, kind, label)


def load_config(path: str | os.PathLike[str]) -> ArchitectureConfig:
    """Read an architecture config from a DaCapo YAML or JSON file (:class:`ConfigError` if not)."""
    return config_from_dict(load_document(path), _label(Path(path)))


def save_config(config: ArchitectureConfig, path: str | Path) -> None:
    """Write ``config`` as DaCapo would serialise it, as YAML or JSON by the file's suffix."""
    path = Path(path)
    document = config_to_dict(config)
    if _format(path, _label(path)) == "yaml":
        path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    else:
        path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
