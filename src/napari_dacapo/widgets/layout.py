"""Dock layout that fits a laptop screen: a scrolling body of fields above a fixed footer
(buttons, progress, messages) that is always in view."""

from __future__ import annotations

from magicgui.widgets import Container, Label, Widget

__all__ = ["message_label", "scrolling_body"]


def scrolling_body(dock: Container, fields: list[Widget], footer: list[Widget]) -> Container:
    """Put ``fields`` (with their labels) in a vertical scroll area that fills ``dock`` and
    ``footer`` below it; returns the body. napari docks a magicgui widget's inner widget, not
    magicgui's own scroll area (``scrollable=True`` is lost there), so the scroll area is made
    here, inside the dock."""
    from qtpy.QtCore import Qt
    from qtpy.QtWidgets import QFrame, QScrollArea, QSizePolicy

    body = Container(labels=True, widgets=fields)
    dock.append(body)
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    area.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)
    area.setMinimumHeight(120)
    layout = dock.native.layout()
    index = layout.indexOf(body.native)
    area.setWidget(body.native)  # takes the body out of the dock's layout
    layout.insertWidget(index, area, 1)
    dock.extend(footer)
    return body


def message_label() -> Label:
    """A label for messages: word-wrapped, selectable, never taller than a few lines (the
    full text is in its tooltip)."""
    from qtpy.QtCore import Qt
    from qtpy.QtWidgets import QSizePolicy

    label = Label(value="")
    label.native.setWordWrap(True)
    label.native.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
    label.native.setMinimumWidth(320)  # a word-wrapped label otherwise settles on a narrow column
    label.native.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.native.setMaximumHeight(96)
    label.changed.connect(lambda text: setattr(label, "tooltip", text if len(text) > 120 else None))
    return label
