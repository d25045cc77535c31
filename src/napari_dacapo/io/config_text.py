"""From a path to a parsed document: the config file's kind, its bytes, its text, its document.

The size is checked before anything is read (at most :data:`MAX_FILE_BYTES`, regular files
only); binary data and text that is not UTF-8 (or UTF-16/32 with a byte-order mark) are
refused; JSON is bounded in depth and values before it is parsed, and YAML is read by
:mod:`.safe_yaml`. Every problem is a :class:`ConfigError` of one line naming the file.
"""

from __future__ import annotations

import itertools
import json
import re
import stat
from pathlib import Path
from typing import Any

from ..architectures.short_repr import short_repr
from ..architectures.unet_size import format_bytes
from .safe_yaml import MAX_DEPTH, MAX_NODES, MAX_NUMBER_CHARS, YamlRefused, load_yaml, one_line

MAX_FILE_BYTES = 1 << 20
"""Largest config file read: 1 MiB. DaCapo's architecture configs are under 2 KiB, run configs
a few dozen KiB."""


class ConfigError(ValueError):
    """A config file that cannot be read; the message is one line naming the file and the field."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).splitlines()))


class _Refused(Exception):
    """A problem found while decoding JSON (raised from the decoder's hooks)."""


def _label(path: Path) -> str:
    """The path as messages show it: as given, unless it holds characters that break a line."""
    text = str(path)
    return text if text.isprintable() else repr(text)[1:-1]


def _format(path: Path, label: str) -> str:
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        return "yaml"
    if suffix == ".json":
        return "json"
    raise ConfigError(f"{label}: unknown config format {short_repr(suffix, 30)} (use .yaml, .yml or .json)")


def _too_large(label: str, size: int | None) -> ConfigError:
    size_text = f"is {format_bytes(size)}" if size is not None else "holds more than that"
    return ConfigError(
        f"{label}: too large for a config file: it {size_text}, the limit is {format_bytes(MAX_FILE_BYTES)}"
    )


def _reason(error: OSError) -> str:
    return error.strerror or type(error).__name__


def _read_bytes(path: Path, label: str) -> bytes:
    """The file's bytes, read only if it is a regular file of at most ``MAX_FILE_BYTES``."""
    try:
        info = path.stat()
    except OSError as error:
        raise ConfigError(f"{label}: cannot read ({_reason(error)})") from None
    except ValueError:  # a NUL in the path
        raise ConfigError(f"{label}: cannot read (not a valid path)") from None
    if stat.S_ISDIR(info.st_mode):
        raise ConfigError(f"{label}: cannot read (it is a directory, not a config file)")
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"{label}: cannot read (not a regular file but a device, pipe or socket)")
    if info.st_size > MAX_FILE_BYTES:
        raise _too_large(label, info.st_size)
    try:
        with path.open("rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise ConfigError(f"{label}: cannot read ({_reason(error)})") from None
    if len(data) > MAX_FILE_BYTES:  # it grew, or its size was not told
        raise _too_large(label, None)
    return data


_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"GIF8", "a GIF image"),
    (b"PK\x03\x04", "a zip archive (a torch checkpoint? weights are loaded separately)"),
    (b"\x1f\x8b", "gzip-compressed data"),
    (b"\x89HDF\r\n\x1a\n", "an HDF5 file"),
    (b"\x93NUMPY", "a NumPy array"),
    (b"\x7fELF", "an executable"),
    (b"%PDF-", "a PDF document"),
    *((b"\x80" + bytes([protocol]), "pickled Python data (a torch checkpoint?)") for protocol in range(2, 6)),
)

_BYTE_ORDER_MARKS = (
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xfe\xff", "utf-16"),
    (b"\xff\xfe", "utf-16"),
)


def _not_text(data: bytes, label: str) -> ConfigError | None:
    """Why ``data`` (no byte-order mark) is no text file, if it is not."""
    for signature, what in _SIGNATURES:
        if data.startswith(signature):
            return ConfigError(f"{label}: not a config file: binary data, {what}")
    nul = data.find(b"\x00")
    if nul < 0:
        return None
    head = data[:256]
    if head[1::2].count(0) > len(head) // 4 or head[0::2].count(0) > len(head) // 4:
        return ConfigError(f"{label}: looks like UTF-16 text without a byte-order mark; save it as UTF-8")
    return ConfigError(f"{label}: not a config file: binary data (a NUL byte at offset {nul:,})")


def _decode(data: bytes, label: str) -> str:
    """The file's text: UTF-8 (a byte-order mark is fine), or UTF-16/32 with a byte-order mark."""
    if not data:
        raise ConfigError(f"{label}: the file is empty (0 bytes)")
    encoding = next((codec for mark, codec in _BYTE_ORDER_MARKS if data.startswith(mark)), None)
    if encoding is None:
        problem = _not_text(data, label)
        if problem is not None:
            raise problem
        encoding = "utf-8"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        shown = data[error.start : error.start + 1].hex()
        raise ConfigError(
            f"{label}: not {encoding.upper().replace('-SIG', '')} text: byte 0x{shown} at line {line} "
            f"(offset {error.start:,}) cannot be decoded; save the file as UTF-8"
        ) from None
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise ConfigError(f"{label}: the file is empty (only whitespace)")
    return text


def _json_int(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:
        raise _Refused(f"a number of {len(text):,} characters (at most {MAX_NUMBER_CHARS})")
    return int(text)


def _json_float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise _Refused(f"a number of {len(text):,} characters (at most {MAX_NUMBER_CHARS})")
    return float(text)


def _json_mapping(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    mapping: dict[str, Any] = {}
    for key, value in pairs:
        if key in mapping:
            raise _Refused(f"duplicate key {short_repr(key)}")
        mapping[key] = value
    return mapping


_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')


def _check_json_structure(text: str) -> None:
    """Refuse JSON nested deeper than ``MAX_DEPTH`` or of more than ``MAX_NODES`` values
    before it is parsed, from its brackets and commas outside strings."""
    skeleton = _JSON_STRING.sub("", text)
    opening = skeleton.count("[") + skeleton.count("{")
    if opening > MAX_DEPTH:
        steps = {"[": 1, "{": 1, "]": -1, "}": -1}
        depths = itertools.accumulate(steps[c] for c in skeleton if c in steps)
        if any(depth > MAX_DEPTH for depth in depths):
            raise _Refused(f"nested more than {MAX_DEPTH} levels deep")
    if opening + skeleton.count(",") > MAX_NODES:  # each comma starts a value, each bracket is one
        raise _Refused(f"the document holds more than {MAX_NODES:,} values")


def _load_json(text: str) -> Any:
    _check_json_structure(text)
    return json.loads(text, object_pairs_hook=_json_mapping, parse_int=_json_int, parse_float=_json_float)


def _parse(text: str, kind: str, label: str) -> Any:
    try:
        return load_yaml(text) if kind == "yaml" else _load_json(text)
    except YamlRefused as error:
        raise ConfigError(f"{label}: not valid YAML: {error}") from None
    except json.JSONDecodeError as error:
        where = f"line {error.lineno}, column {error.colno}"
        raise ConfigError(f"{label}: not valid JSON: {where}: {one_line(error.msg, 100)}") from None
    except _Refused as error:
        raise ConfigError(f"{label}: not valid JSON: {error}") from None
    except RecursionError:
        raise ConfigError(f"{label}: not valid JSON: nested more than {MAX_DEPTH} levels deep") from None
