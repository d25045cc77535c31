"""Compact per-axis editors for ``funlib.geometry.Coordinate`` values: a row of button-less
spin boxes for one Coordinate, a column of such rows for a per-level list of them. Both fit
a dock of a laptop screen (three axes in about 150 px)."""

from __future__ import annotations

from collections.abc import Iterable

from funlib.geometry import Coordinate
from magicgui.widgets import Container, PushButton, SpinBox

__all__ = ["CoordinateEdit", "CoordinateListEdit", "resize"]

_AXES = "zyx"


def resize(value, dims: int) -> tuple[int, ...]:
    """A coordinate-like value for another number of dims (drops or repeats the first axis)."""
    value = tuple(value)
    if len(value) > dims:
        return value[len(value) - dims :]
    return (value[0],) * (dims - len(value)) + value


def _compact(box: SpinBox, axis: str) -> SpinBox:
    """A spin box without arrow buttons (arrow keys and the wheel still step it) that shrinks
    with its dock."""
    from qtpy.QtWidgets import QAbstractSpinBox, QSizePolicy

    box.native.setButtonSymbols(QAbstractSpinBox.ButtonSymbols.NoButtons)
    # napari's style sheet gives every spin box 70 px + padding; a widget's own sheet wins
    box.native.setStyleSheet("min-width: 28px; padding: 1px 4px;")
    box.native.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
    box.native.setToolTip(axis)
    return box


class CoordinateEdit(Container):
    """One spin box per axis; ``value`` is a Coordinate; ``dims`` can change."""

    def __init__(self, value=(1, 1, 1), *, minimum: int = 0, maximum: int = 100_000, **kwargs):
        kwargs.setdefault("layout", "horizontal")
        kwargs.setdefault("labels", False)
        super().__init__(**kwargs)
        self.margins = (0, 0, 0, 0)
        self.native.layout().setSpacing(3)
        self._minimum, self._maximum = minimum, maximum
        self.value = value

    @property
    def dims(self) -> int:
        return len(self)

    @property
    def value(self) -> Coordinate:
        return Coordinate(int(box.value) for box in self)

    @value.setter
    def value(self, value) -> None:
        value = tuple(int(v) for v in value)
        with self.changed.blocked():
            while len(self) > len(value):
                self.pop()
            while len(self) < len(value):
                self.append(SpinBox(min=self._minimum, max=self._maximum))
            axes = _AXES[-len(value) :] if len(value) <= len(_AXES) else [str(i) for i in range(len(value))]
            for box, v, axis in zip(self, value, axes, strict=True):
                _compact(box, axis)
                box.value = v
        self.changed.emit(self)


class CoordinateListEdit(Container):
    """A column of :class:`CoordinateEdit` rows, one per level, each with a remove button, and
    an "add level" button; ``value`` is a list of tuples, ``dims`` resizes every row."""

    def __init__(self, value: Iterable = (), *, dims: int = 3, default: int = 2, **kwargs):
        kwargs.setdefault("layout", "vertical")
        kwargs.setdefault("labels", False)
        super().__init__(**kwargs)
        self.margins = (0, 0, 0, 0)
        self.native.layout().setSpacing(2)
        self._dims, self._default = dims, default
        self._add = PushButton(text="+ level")
        self._add.native.setToolTip("add a level (a new row of factors)")
        self._add.changed.connect(lambda: self._append_row((self._default,) * self._dims, emit=True))
        self.append(self._add)
        self.value = list(value)

    @property
    def rows(self) -> list[CoordinateEdit]:
        return [row[0] for row in list(self)[:-1]]

    @property
    def dims(self) -> int:
        return self._dims

    @dims.setter
    def dims(self, dims: int) -> None:
        values = [tuple(v) for v in self.value]
        self._dims = dims
        self.value = [resize(v, dims) for v in values]

    @property
    def value(self) -> list[tuple[int, ...]]:
        return [tuple(row.value) for row in self.rows]

    @value.setter
    def value(self, value) -> None:
        with self.changed.blocked():
            while len(self) > 1:
                self.remove(self[0])
            for item in value:
                self._append_row(tuple(item), emit=False)
        self.changed.emit(self)

    def _append_row(self, item: tuple[int, ...], emit: bool) -> None:
        edit = CoordinateEdit(item, minimum=1)
        edit.changed.connect(lambda *_: self.changed.emit(self))
        remove = PushButton(text="−")
        remove.native.setFixedWidth(28)
        remove.native.setToolTip("remove this level")
        row = Container(layout="horizontal", labels=False, widgets=[edit, remove])
        row.margins = (0, 0, 0, 0)
        remove.changed.connect(lambda: self._remove_row(row))
        self.insert(len(self) - 1, row)
        if emit:
            self.changed.emit(self)

    def _remove_row(self, row: Container) -> None:
        self.remove(row)
        self.changed.emit(self)
