"""YAML that may be hostile, read safely: DaCapo's documents, nothing that runs code or explodes.

DaCapo writes its configs with ``yaml.dump``: plain mappings, lists, scalars, ``!!python/tuple``
for Coordinates and ``&id001``/``*id001`` anchors for repeated values. That is all that is read.
The document is built in one pass over the parser's events (libyaml's parser when available),
with no node graph, so a refusal comes as soon as the parser reaches the offending spot and
memory never grows beyond the values built so far. Refused:

* more than one document;
* tags other than YAML's standard scalar and collection tags and ``!!python/tuple``
  (``!!python/object/apply:…`` and every custom tag are refused, never constructed);
* nesting deeper than :data:`MAX_DEPTH`;
* recursive aliases (``&a [*a]``), and documents that expand (aliases counted as often as
  they are used) to more than :data:`MAX_NODES` values: the "billion laughs";
* numbers written with more than :data:`MAX_NUMBER_CHARS` characters;
* duplicate keys, unhashable keys and scalars their explicit tag does not fit.

Aliases share the value of their anchor, as with PyYAML; merge keys (``<<: *defaults``) work
as in PyYAML. Every refusal is a :class:`YamlRefused` whose message is one line with the line
and column, the path of the value (``downsample_factors[1]``) where known, and no echoed
value longer than a few dozen characters.
"""

from __future__ import annotations

from typing import Any

import yaml

from ..architectures.cnnectome_unet_config import short_repr

__all__ = [
    "MAX_DEPTH",
    "MAX_NODES",
    "MAX_NUMBER_CHARS",
    "DaCapoYamlLoader",
    "PythonYamlLoader",
    "YamlRefused",
    "load_yaml",
    "one_line",
]

MAX_DEPTH = 64
"""Deepest nesting of collections. A DaCapo architecture config nests 4 deep, a run config ~12."""

MAX_NODES = 50_000
"""Most values a document may hold once its aliases are expanded (each one costs a few
microseconds to read). A DaCapo architecture config has under 200, a run config with a large
datasplit some thousands."""

MAX_NUMBER_CHARS = 100
"""Longest number, in characters. 64-bit integers have at most 20 digits; Python refuses to
convert integers of more than 4300 digits."""

_STANDARD = "tag:yaml.org,2002:"
_STR, _INT, _FLOAT, _MERGE = (_STANDARD + name for name in ("str", "int", "float", "merge"))
_SCALAR_TAGS = {None, "!", *(_STANDARD + name for name in ("str", "int", "float", "bool", "null"))}
_SEQUENCE_TAGS = {None, "!", _STANDARD + "seq", _STANDARD + "python/tuple"}
_MAPPING_TAGS = {None, "!", _STANDARD + "map"}
_IMPLICIT = (True, False)


class YamlRefused(ValueError):
    """YAML that is not read; the message is one line, without the file name."""


def one_line(text: str, limit: int = 300) -> str:
    """``text`` with all whitespace runs (newlines included) made single spaces, at most ``limit`` long."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _tuple_as_list(loader: Any, node: yaml.SequenceNode) -> list:
    return list(loader.construct_sequence(node, deep=True))


def _dacapo_loader(base: type) -> type:
    """``base`` (PyYAML's safe loader) that reads ``!!python/tuple`` as a list."""
    loader = type(f"DaCapo{base.__name__}", (base,), {"__doc__": _dacapo_loader.__doc__})
    loader.add_constructor(_STANDARD + "python/tuple", _tuple_as_list)
    return loader


PythonYamlLoader: type = _dacapo_loader(yaml.SafeLoader)
"""PyYAML's pure-Python safe loader, reading ``!!python/tuple`` as a list."""

DaCapoYamlLoader: type = (
    _dacapo_loader(yaml.CSafeLoader) if getattr(yaml, "__with_libyaml__", False) else PythonYamlLoader
)
"""The loader :func:`load_yaml` takes its parser, resolver and scalar constructors from
(libyaml's parser when available); it builds collections itself. Loading with it directly
(``yaml.load``) is safe too, but has none of :func:`load_yaml`'s limits."""


def _where(mark: Any) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""


def _tag_name(tag: str) -> str:
    return "!!" + tag[len(_STANDARD) :] if tag.startswith(_STANDARD) else tag


class _Collection:
    """A sequence or mapping being built: its items (a mapping's as key, value, key, ...),
    its anchor, and where its count of expanded values started."""

    __slots__ = ("anchor", "items", "keys", "mapping", "start_count")

    def __init__(self, event: Any, start_count: int):
        self.mapping = isinstance(event, yaml.MappingStartEvent)
        self.anchor = event.anchor
        self.start_count = start_count
        self.items: list[Any] = []
        self.keys: set = set()

    def expects_key(self) -> bool:
        return self.mapping and len(self.items) % 2 == 0

    def step(self) -> str:
        """How the item being read is named inside this collection."""
        if not self.mapping:
            return f"[{len(self.items)}]"
        if len(self.items) % 2 == 0:
            return ""  # a key: named by its mapping
        key = self.items[-1]
        return "." + (one_line(key, 40) if isinstance(key, str) else short_repr(key, 40))


_MERGE_KEY = object()  # stands for ``<<`` among a mapping's items


class _Builder:
    """One pass over the parser's events: checks what :mod:`.safe_yaml` refuses, builds the rest."""

    def __init__(self, loader: Any):
        self.loader = loader
        self.stack: list[_Collection] = []
        self.anchors: dict[str, tuple[Any, int]] = {}  # value, and how many values it expands to
        self.count = 0
        self.documents = 0
        self.aliases = 0
        self.result: Any = None

    # -- messages -----------------------------------------------------------------------

    def refuse(self, event: Any, problem: str, path: str | None = None) -> YamlRefused:
        where = _where(event.start_mark)
        path = path if path is not None else self.path()
        at = f" ({one_line(path, 80)})" if path else ""
        return YamlRefused(f"{where}{at}: {problem}" if where else problem + at)

    def path(self) -> str:
        text = "".join(collection.step() for collection in self.stack[:12]).removeprefix(".")
        return text + ("…" if len(self.stack) > 12 else "")

    # -- the events ---------------------------------------------------------------------

    def run(self) -> Any:
        check_event, get_event = self.loader.check_event, self.loader.get_event
        while check_event():
            event = get_event()
            if isinstance(event, yaml.ScalarEvent):
                self.scalar(event)
            elif isinstance(event, yaml.CollectionStartEvent):
                self.start(event)
            elif isinstance(event, yaml.CollectionEndEvent):
                self.end(event)
            elif isinstance(event, yaml.AliasEvent):
                self.alias(event)
            elif isinstance(event, yaml.DocumentStartEvent):
                self.documents += 1
                if self.documents > 1:
                    raise self.refuse(event, "a second YAML document ('---'); a config file holds one", "")
        return self.result

    def scalar(self, event: Any) -> None:
        if event.tag not in _SCALAR_TAGS:
            raise self.refuse_tag(event, "scalar")
        self.count_values(event, 1)
        value = self.scalar_value(event)
        if event.anchor is not None:
            self.anchors[event.anchor] = (value, 1)
        self.add(event, value)

    def start(self, event: Any) -> None:
        mapping = isinstance(event, yaml.MappingStartEvent)
        if event.tag not in (_MAPPING_TAGS if mapping else _SEQUENCE_TAGS):
            raise self.refuse_tag(event, "mapping" if mapping else "sequence")
        if len(self.stack) >= MAX_DEPTH:
            raise self.refuse(event, f"nested more than {MAX_DEPTH} levels deep")
        self.count_values(event, 1)
        self.stack.append(_Collection(event, self.count - 1))

    def end(self, event: Any) -> None:
        collection = self.stack[-1]
        value = self.mapping_value(collection, event) if collection.mapping else collection.items
        self.stack.pop()
        if collection.anchor is not None:
            self.anchors[collection.anchor] = (value, self.count - collection.start_count)
        self.add(event, value)

    def alias(self, event: Any) -> None:
        self.aliases += 1
        name = event.anchor
        if any(collection.anchor == name for collection in self.stack):
            raise self.refuse(event, f"recursive alias *{one_line(name, 40)} (a value that contains itself)")
        if name not in self.anchors:
            raise self.refuse(event, f"alias *{one_line(name, 40)} refers to no anchor before it")
        value, size = self.anchors[name]
        self.count_values(event, size)
        self.add(event, value)

    # -- building -----------------------------------------------------------------------

    def count_values(self, event: Any, values: int) -> None:
        self.count += values
        if self.count > MAX_NODES:
            how = f" once its {self.aliases} aliases are expanded" if self.aliases else ""
            raise self.refuse(event, f"the document holds more than {MAX_NODES:,} values{how}")

    def add(self, event: Any, value: Any) -> None:
        if not self.stack:
            self.result = value
            return
        collection = self.stack[-1]
        if collection.expects_key() and value is not _MERGE_KEY:
            try:
                duplicate = value in collection.keys
            except TypeError:
                kind = type(value).__name__
                raise self.refuse(event, f"found unhashable key, a {kind} (keys must be plain values)") from None
            if duplicate:
                raise self.refuse(event, f"found duplicate key {short_repr(value)}")
            collection.keys.add(value)
        collection.items.append(value)

    def scalar_value(self, event: Any) -> Any:
        value, tag = event.value, event.tag
        if tag is None or tag == "!":
            implicit = event.implicit if tag is None else (False, False)
            tag = self.loader.resolve(yaml.ScalarNode, value, implicit)
        elif tag != _STR:  # an explicit !!int, !!float, !!bool or !!null: the value must be one
            resolved = self.loader.resolve(yaml.ScalarNode, value, _IMPLICIT)
            if resolved != tag and not (tag == _FLOAT and resolved == _INT):
                raise self.refuse(event, f"{short_repr(value, 40)} is not a valid {_tag_name(tag)}")
        if tag in (_INT, _FLOAT) and len(value) > MAX_NUMBER_CHARS:
            raise self.refuse(event, f"a number of {len(value):,} characters (at most {MAX_NUMBER_CHARS})")
        if tag == _MERGE and self.stack and self.stack[-1].expects_key():
            return _MERGE_KEY
        constructor = self.loader.yaml_constructors.get(tag)
        if constructor is None or tag == _MERGE:  # "=" (YAML's value tag) or "<<" as a value: a string
            return value
        node = yaml.ScalarNode(tag, value, event.start_mark, event.end_mark, event.style)
        try:
            return constructor(self.loader, node)
        except (ValueError, TypeError, KeyError, OverflowError) as error:  # "2024-13-45": no date
            problem = f"{short_repr(value, 40)} is not a valid {_tag_name(tag)} ({one_line(str(error), 80)})"
            raise self.refuse(event, problem) from None

    def mapping_value(self, collection: _Collection, event: Any) -> dict:
        """The mapping's dict: merged mappings first (the first one given wins), then its own keys."""
        merged: dict = {}
        own: dict = {}
        items = collection.items
        for key, value in zip(items[0::2], items[1::2], strict=True):
            if key is not _MERGE_KEY:
                own[key] = value
                continue
            for source in value if isinstance(value, list) else [value]:
                if not isinstance(source, dict):
                    raise self.refuse(event, "'<<' must merge a mapping or a list of mappings")
                for merged_key, merged_value in source.items():
                    merged.setdefault(merged_key, merged_value)
        if not merged:
            return own
        merged.update(own)
        return merged

    def refuse_tag(self, event: Any, kind: str) -> YamlRefused:
        tag = event.tag
        allowed = _SCALAR_TAGS | _SEQUENCE_TAGS | _MAPPING_TAGS
        if tag in allowed:
            return self.refuse(event, f"tag {_tag_name(tag)} does not fit a {kind}")
        return self.refuse(
            event,
            f"tag {short_repr(_tag_name(tag), 60)} is not allowed "
            "(a DaCapo config uses plain YAML values and !!python/tuple; nothing else is constructed)",
        )


def _problem(error: yaml.YAMLError) -> str:
    """A YAML error as one line: where, and what (never the snippet of the offending line)."""
    if isinstance(error, yaml.MarkedYAMLError):
        mark = error.problem_mark or error.context_mark
        problem = error.problem or error.context or "invalid YAML"
        where = _where(mark)
        return one_line(f"{where}: {problem}" if where else problem, 200)
    if isinstance(error, yaml.reader.ReaderError):
        character = error.character
        shown = f"#x{character:04x}" if isinstance(character, int) else short_repr(character, 20)
        return one_line(f"character {shown} at position {error.position}: {error.reason}", 200)
    return one_line(str(error), 200)


def load_yaml(text: str, loader_class: type | None = None) -> Any:
    """The one document in ``text``, read as :mod:`.safe_yaml` describes; :class:`YamlRefused`
    if not. ``loader_class`` (default :data:`DaCapoYamlLoader`) supplies the parser."""
    loader = None
    try:
        loader = (loader_class or DaCapoYamlLoader)(text)  # the pure-Python reader checks the text here
        return _Builder(loader).run()
    except YamlRefused:
        raise
    except yaml.YAMLError as error:
        raise YamlRefused(_problem(error)) from None
    except RecursionError:
        raise YamlRefused(f"nested too deeply (more than {MAX_DEPTH} levels)") from None
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as error:
        raise YamlRefused(f"cannot read a value: {one_line(str(error) or type(error).__name__, 120)}") from None
    finally:
        if loader is not None:
            loader.dispose()
