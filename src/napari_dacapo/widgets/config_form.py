"""A form generated from an attrs config class: one control per field, chosen by its type."""

from __future__ import annotations

import typing
from typing import Any

import attr
import yaml
from funlib.geometry import Coordinate
from magicgui.widgets import CheckBox, ComboBox, Container, LineEdit, SpinBox, Widget

from ..architectures import CNNectomeUNetConfig
from ..architectures.cnnectome_unet_config import PADDINGS
from .coordinate_edit import CoordinateEdit, CoordinateListEdit, resize

_CHOICES = {"padding": PADDINGS}
_LABELS = {"downsample_factors": "downsample", "upsample_factors": "upsample", "eval_shape_increase": "eval increase"}


def _kind(field_type: Any) -> str:
    """Classify a (resolved) attrs field type: coordinate, coordinates, kernels, int, bool, str."""
    args = [a for a in typing.get_args(field_type) if a is not type(None)]
    if args and typing.get_origin(field_type) in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        field_type = args[0]
    if field_type is Coordinate:
        return "coordinate"
    if typing.get_origin(field_type) is list:
        (inner,) = typing.get_args(field_type)
        return "coordinates" if inner is Coordinate else "kernels"
    return {int: "int", bool: "bool", str: "str"}[field_type]


def _public(name: str) -> str:
    return name.lstrip("_")


class ConfigForm(Container):
    """Every field of ``config_class`` editable; ``config()`` builds the config (not verified).

    Coordinates get a row of per-axis spin boxes, per-level lists a column of such rows, kernel
    sizes (a list per level of per-convolution Coordinates) a YAML line, booleans check boxes
    and fields with fixed choices a combo box. The ``dims`` choice resizes every
    per-axis control, keeping the values it can.
    """

    def __init__(self, config_class: type = CNNectomeUNetConfig, dims: int = 3, **kwargs):
        super().__init__(**kwargs)
        self.config_class = config_class
        attr.resolve_types(config_class)
        self.dims_choice = ComboBox(name="dims", label="dims", choices=[("2D", 2), ("3D", 3)], value=dims)
        self.dims_choice.tooltip = "Number of spatial dimensions: every per-axis field follows."
        self.append(self.dims_choice)
        self.fields: dict[str, tuple[str, Widget]] = {}
        for field in attr.fields(config_class):
            kind = _kind(field.type)
            widget = self._make(field, kind, dims)
            widget.tooltip = field.metadata.get("help_text", "")
            self.fields[_public(field.name)] = (kind, widget)
            self.append(widget)
        self.dims_choice.changed.connect(self._on_dims)

    def _make(self, field, kind: str, dims: int) -> Widget:
        name = _public(field.name)
        label = _LABELS.get(name, name.replace("_", " "))
        if kind == "coordinate":
            return CoordinateEdit((0,) * dims, name=name, label=label)
        if kind == "coordinates":
            return CoordinateListEdit([], dims=dims, name=name, label=label)
        if kind == "kernels":
            widget = LineEdit(value="", name=name, label=label)
            widget.native.setPlaceholderText("default: 3×3(×3), two per level")
            widget.native.setMinimumWidth(60)
            return widget
        if kind == "int":
            return SpinBox(value=1, min=0, max=100_000, name=name, label=label)
        if kind == "bool":
            return CheckBox(value=False, name=name, label=label)
        if name in _CHOICES:
            return ComboBox(choices=list(_CHOICES[name]), name=name, label=label)
        return LineEdit(value="", name=name, label=label)

    @property
    def dims(self) -> int:
        return int(self.dims_choice.value)

    def _on_dims(self, dims: int) -> None:
        with self.changed.blocked():
            for kind, widget in list(self.fields.values()):
                if kind == "coordinate":
                    widget.value = resize(widget.value, dims)
                elif kind == "coordinates":
                    widget.dims = dims
                elif kind == "kernels":
                    widget.value = ""  # kernel lists are per level and per axis: back to the default
        self.changed.emit(self)

    def set_config(self, config) -> None:
        """Fill the form from a config (switches dims first)."""
        dims = len(config.input_shape)
        with self.changed.blocked():
            self.dims_choice.value = dims
            for name, (kind, widget) in self.fields.items():
                value = getattr(config, name)
                if kind == "coordinate":
                    widget.value = value if value is not None else (0,) * dims
                elif kind == "coordinates":
                    widget.value = [tuple(v) for v in value] if value else []
                elif kind == "kernels":
                    widget.value = (
                        ""
                        if value is None
                        else yaml.safe_dump([[list(k) for k in lv] for lv in value], default_flow_style=True).strip()
                    )
                else:
                    widget.value = value
        self.changed.emit(self)

    def values(self) -> dict[str, Any]:
        """The form as config keyword arguments (raises ValueError for unreadable text)."""
        values: dict[str, Any] = {}
        for name, (kind, widget) in self.fields.items():
            value = widget.value
            if kind == "coordinate":
                value = None if name == "eval_shape_increase" and not any(value) else value
            elif kind == "coordinates":
                value = [Coordinate(v) for v in value] if value or name == "downsample_factors" else None
            elif kind == "kernels":
                value = self._kernels(name, value)
            values[name] = value
        return values

    def _kernels(self, name: str, text: str):
        if not text.strip():
            return None
        from ..io.safe_yaml import YamlRefused, load_yaml

        label = name.replace("_", " ")
        try:  # bounded like a config file: an alias bomb pasted here is refused, not expanded
            levels = load_yaml(text)
        except YamlRefused as error:
            raise ValueError(f"{label}: {error}") from None
        if not isinstance(levels, list) or not all(isinstance(lv, list) for lv in levels):
            shown = text if len(text) <= 60 else text[:59] + "…"
            raise ValueError(f"{label}: expected a list per level of kernel shapes, got {shown!r}")
        return levels

    def config(self):
        """The config the form describes; ``verify()`` it to know whether it builds."""
        return self.config_class(**self.values())
