"""Short, one-line reprs of values that may be huge, for messages about configs and files.

:func:`short_repr` never builds the full repr of a large value; :func:`squeeze_numbers`
shortens long runs of digits in text that is already built.
"""

from __future__ import annotations

import math
import re
import reprlib
from typing import Any


class _ShortRepr(reprlib.Repr):
    """``reprlib`` that never builds the full repr of a large value (Coordinates, huge ints included)."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel = 3
        self.maxtuple = self.maxlist = 8
        self.maxdict = self.maxset = self.maxfrozenset = 4
        self.maxstring = self.maxother = 50
        self.maxlong = 30

    def repr1(self, x: Any, level: int) -> str:
        if isinstance(x, bool) or x is None:
            return repr(x)
        for kind in (int, str, tuple, list, dict):
            if isinstance(x, kind):
                return getattr(self, f"repr_{kind.__name__}")(x, level)
        if isinstance(x, bytes | bytearray):
            return repr(bytes(x[: self.maxstring])) + ("…" if len(x) > self.maxstring else "")
        return super().repr1(x, level)

    def repr_int(self, x: int, level: int) -> str:
        if x.bit_length() > 256:
            return f"<an integer of ~{int(x.bit_length() * math.log10(2)) + 1:,} digits>"
        return super().repr_int(int(x), level)


_SHORT_REPR = _ShortRepr()


def short_repr(value: Any, limit: int = 60) -> str:
    """``repr(value)`` on one line and at most ``limit`` characters (…), without building more."""
    text = _SHORT_REPR.repr(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


_LONG_NUMBER = re.compile(r"\d{25,}")


def squeeze_numbers(text: str) -> str:
    """``text`` with every run of 25 or more digits replaced by how many digits it has."""
    return _LONG_NUMBER.sub(lambda match: f"<a {len(match.group()):,}-digit number>", text)
