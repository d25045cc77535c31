"""A per-axis spin-box row for a ``funlib.geometry.Coordinate``."""

from __future__ import annotations

from funlib.geometry import Coordinate
from magicgui.widgets import Container, SpinBox


class CoordinateEdit(Container):
    """One spin box per axis; ``value`` is a Coordinate; ``dims`` can change."""

    def __init__(self, value=(1, 1, 1), *, minimum: int = 0, maximum: int = 100_000, **kwargs):
        kwargs.setdefault("layout", "horizontal")
        kwargs.setdefault("labels", False)
        super().__init__(**kwargs)
        self.margins = (0, 0, 0, 0)
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
            for box, v in zip(self, value, strict=True):
                box.value = v
        self.changed.emit(self)
