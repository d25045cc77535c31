"""Dock layout that fits a laptop screen: a scrolling body of fields above a fixed footer
(buttons, progress, messages) that is always in view."""

from __future__ import annotations

from magicgui.widgets import Container, Label, Widget

__all__ = ["message_label", "scrolling_body", "show_text"]

_SHORT = 160  # characters of a message shown before "details"


def scrolling_body(dock: Container, fields: list[Widget], footer: list[Widget], labels: bool = True) -> Container:
    """Put ``fields`` (with their labels) in a vertical scroll area that fills ``dock`` and
    ``footer`` below it; returns the body. napari docks a magicgui widget's inner widget, not
    magicgui's own scroll area (``scrollable=True`` is lost there), so the scroll area is made
    here, inside the dock. ``labels=False``: the fields bring their own (labelled containers
    and full-width texts)."""
    from qtpy.QtCore import Qt
    from qtpy.QtWidgets import QFrame, QScrollArea, QSizePolicy

    body = Container(labels=labels, widgets=fields)
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
    label.native.setTextInteractionFlags(
        Qt.TextInteractionFlag.TextSelectableByMouse | Qt.TextInteractionFlag.LinksAccessibleByMouse
    )
    label.native.setMaximumHeight(96)
    label.native.linkActivated.connect(lambda _link: _toggle_details(label))
    return label


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= _SHORT else line[: _SHORT - 1].rstrip() + "…"


def show_text(label: Label, text: str, style: str = "") -> None:
    """Show ``text`` in a :func:`message_label`: its first line, and, when there is more, a
    "details" link that expands it (the full text is also the tooltip)."""
    from html import escape

    label.native.setStyleSheet(style)
    short = _first_line(text)
    label.native.setProperty("full_text", text if short != text.strip() else None)
    label.native.setProperty("expanded", False)
    label.tooltip = text if short != text.strip() else None
    if short == text.strip():
        label.value = text
        return
    label.native.setMaximumHeight(96)
    label.value = f'{escape(short, quote=False)} <a href="details">details</a>'


def _toggle_details(label: Label) -> None:
    from html import escape

    full = label.native.property("full_text")
    if not full or 'href="' not in label.value:  # another message replaced it since
        return
    expanded = not label.native.property("expanded")
    label.native.setProperty("expanded", expanded)
    if expanded:
        body = escape(full, quote=False).replace("\n", "<br>")
        label.native.setMaximumHeight(16777215)
        label.value = f'{body} <a href="less">less</a>'
    else:
        label.native.setMaximumHeight(96)
        label.value = f'{escape(_first_line(full), quote=False)} <a href="details">details</a>'
