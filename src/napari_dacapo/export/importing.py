"""Open a bioimage.io package that napari-dacapo exported: the same network, weights and
input normalisation, so its predictions equal those of the network it was made from.

Read without bioimageio.core (the package's ``rdf.yaml`` through the bounded safe YAML
reader, its state dict with ``weights_only=True`` after checking its sha256). A package of
another tool is refused with one line: run it with bioimageio.core.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

__all__ = ["ImportedPackage", "PackageError", "is_dacapo_package", "open_package"]

_MAX_RDF = 1 << 20
_MAX_WEIGHTS = 4 << 30
_CALLABLE = ("napari_dacapo.export.model", "dacapo_network")


class PackageError(ValueError):
    """A package that is not napari-dacapo's, or whose files do not check out."""


@dataclass(frozen=True)
class ImportedPackage:
    name: str
    config: Any  # the ArchitectureConfig
    network: torch.nn.Module
    channel_names: tuple[str, ...] | None = None


class _Files:
    """The members of a package: a .zip or a folder."""

    def __init__(self, path: Path):
        self.path = path
        self.zip = zipfile.ZipFile(path) if path.is_file() else None

    def names(self) -> list[str]:
        if self.zip is not None:
            return self.zip.namelist()
        return [p.name for p in self.path.iterdir()] if self.path.is_dir() else []

    def read(self, name: str, limit: int) -> bytes:
        if self.zip is not None:
            info = self.zip.getinfo(name)
            if info.file_size > limit:
                raise PackageError(f"{self.path}: {name} is larger than {limit >> 20} MiB")
            return self.zip.read(name)
        target = self.path / name
        if target.stat().st_size > limit:
            raise PackageError(f"{self.path}: {name} is larger than {limit >> 20} MiB")
        return target.read_bytes()


def _description(files: _Files) -> dict:
    from ..io.safe_yaml import YamlRefused, load_yaml

    names = files.names()
    rdf = next((n for n in ("rdf.yaml", "bioimageio.yaml") if n in names), None)
    if rdf is None:
        raise PackageError(f"{files.path}: not a bioimage.io package (no rdf.yaml)")
    try:
        document = load_yaml(files.read(rdf, _MAX_RDF).decode("utf-8"))
    except (YamlRefused, UnicodeDecodeError) as error:
        raise PackageError(f"{files.path}: its {rdf} cannot be read ({error})") from None
    if not isinstance(document, dict):
        raise PackageError(f"{files.path}: its {rdf} is not a model description")
    return document


def _state_dict_weights(document: dict) -> dict:
    weights = document.get("weights") or {}
    entry = weights.get("pytorch_state_dict") if isinstance(weights, dict) else None
    architecture = entry.get("architecture") if isinstance(entry, dict) else None
    if not isinstance(architecture, dict):
        return {}
    if (architecture.get("import_from"), architecture.get("callable")) != _CALLABLE:
        return {}
    return entry


def _open(source: str | Path) -> tuple[_Files, dict]:
    path = Path(source)
    try:
        files = _Files(path)
    except (zipfile.BadZipFile, OSError) as error:
        raise PackageError(f"{path}: not a bioimage.io package ({error})") from None
    return files, _description(files)


def is_dacapo_package(source: str | Path) -> bool:
    """Whether ``source`` is a bioimage.io package (zip or folder) that napari-dacapo wrote."""
    try:
        _files, document = _open(source)
    except (PackageError, OSError, KeyError):
        return False
    return bool(_state_dict_weights(document))


def open_package(source: str | Path) -> ImportedPackage:
    """The network of a package napari-dacapo exported, with its weights and normalisation."""
    from ..runs.normalisation import Normalisation
    from .model import dacapo_network

    files, document = _open(source)
    entry = _state_dict_weights(document)
    if not entry:
        raise PackageError(
            f"{files.path}: a bioimage.io model that napari-dacapo did not export; run it with bioimageio.core"
        )
    name = str(entry.get("source", ""))
    if "/" in name or name not in files.names():
        raise PackageError(f"{files.path}: its weights file {name!r} is missing")
    data = files.read(name, _MAX_WEIGHTS)
    expected = entry.get("sha256")
    if expected and hashlib.sha256(data).hexdigest() != expected:
        raise PackageError(f"{files.path}: {name} does not match its sha256 (damaged?)")
    kwargs = entry["architecture"].get("kwargs") or {}
    try:
        network = dacapo_network(kwargs.get("config") or {}, kwargs.get("head"))  # halo: only for blocking
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        if kwargs.get("halo"):  # the blocking-friendly variant: the same network inside
            state = {k.removeprefix("network."): v for k, v in state.items()}
        network.load_state_dict(state, strict=True)
    except Exception as error:  # a config that does not verify, weights that do not fit
        raise PackageError(
            f"{files.path}: {str(error).splitlines()[0] if str(error) else type(error).__name__}"
        ) from None
    gain, offset = _scaling(document)
    if (gain, offset) != (1 / 255, 0.0):
        low = -offset / gain
        network.input_normalisation = Normalisation(low, low + 1 / gain, "the package's scale_linear")
    from ..io import config_from_dict

    config = config_from_dict(dict(kwargs["config"]), f"{files.path} (architecture kwargs)")
    return ImportedPackage(str(document.get("name") or config.name), config, network.eval(), _channels(document))


def _scaling(document: dict) -> tuple[float, float]:
    inputs = document.get("inputs") or [{}]
    for step in inputs[0].get("preprocessing") or []:
        if isinstance(step, dict) and step.get("id") == "scale_linear":
            kwargs = step.get("kwargs") or {}
            return float(kwargs.get("gain", 1.0)), float(kwargs.get("offset", 0.0))
    return 1 / 255, 0.0


def _channels(document: dict) -> tuple[str, ...] | None:
    outputs = document.get("outputs") or [{}]
    for axis in outputs[0].get("axes") or []:
        if isinstance(axis, dict) and axis.get("type") == "channel" and axis.get("channel_names"):
            return tuple(str(c) for c in axis["channel_names"])
    return None
