"""The architecture dock: edit or load a DaCapo config, verify it live, load weights, build."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from magicgui.widgets import ComboBox, Container, FileEdit, Label, LineEdit, PushButton

from ..networks import build_network, demo_models, example_config, example_config_paths
from ..summary import summarize_config
from ..tiling.devices import available_devices, free_memory
from .config_form import ConfigForm
from .layout import message_label, scrolling_body, show_text
from .registry import NetworkRegistry, RegisteredNetwork, registry

_OK, _BAD = "color: #4caf50;", "color: #f44336;"

if TYPE_CHECKING:
    import napari


class ArchitectureDock(Container):
    """Form for a ``CNNectomeUNetConfig``, live ``verify()``, summary, load/save, weights, Build."""

    def __init__(self, napari_viewer: napari.viewer.Viewer | None = None, network_registry: NetworkRegistry = registry):
        from qtpy.QtWidgets import QSizePolicy

        super().__init__(labels=False)
        self.viewer = napari_viewer
        self.native.setMinimumWidth(380)
        self.native.setMaximumWidth(520)
        self.registry = network_registry
        starts = sorted(example_config_paths()) + sorted(demo_models())
        self.start_from = ComboBox(label="start from", choices=["—", *starts], value="—")
        self.start_from.tooltip = "Fill the form with a bundled example or demo model config."
        self.config_file = FileEdit(
            label="config file", mode="r", filter="DaCapo config or bioimage.io package (*.yaml *.yml *.json *.zip)"
        )
        self.form = ConfigForm(labels=True, scrollable=False)
        self.status = Label(label="verify", value="")
        self.summary = Label(label="summary", value="")
        self.summary.native.setWordWrap(True)  # "field: value" lines that wrap with the dock
        self.summary.native.setMinimumWidth(120)  # else Qt guesses a width from the longest line
        self.summary.native.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.weights_file = FileEdit(label="weights", mode="r", filter="checkpoint (*)")
        self.weights_file.tooltip = "A DaCapo run checkpoint (checkpoints/iterations/N) or a state dict."
        self.save_file = FileEdit(label="save config as", mode="w", filter="DaCapo config (*.yaml *.json)")
        self.save_button = PushButton(text="Save config")
        self.export_file = FileEdit(label="export to", mode="w", filter="bioimage.io package (*.zip)")
        self.export_file.tooltip = "A bioimage.io model package (.zip) of this network and its weights."
        self.authors = LineEdit(label="authors", value="")
        self.authors.native.setPlaceholderText("required by bioimage.io: A; B")
        self.export_button = PushButton(text="Export to bioimage.io")
        self.export_worker = None
        self.run_folder = FileEdit(label="DaCapo run", mode="d")
        self.run_folder.tooltip = (
            "A DaCapo file store (runs_base_dir) or one run's folder; a run config file works in 'config file'."
        )
        self.run_name = ComboBox(label="run", choices=[], visible=False)
        self.iteration = ComboBox(label="iteration", choices=["latest"], value="latest")
        self.iteration.tooltip = "The checkpoint: latest, best (where DaCapo's validation recorded it) or a number."
        self.open_run_button = PushButton(text="Open run")
        self.dacapo_run = None  # the run chosen in the dock (runs.DacapoRun)
        self.build_button = PushButton(text="Build")
        self.message = message_label()
        # verify's verdict and the summary span the dock's width (no label column beside them)
        self.body = scrolling_body(
            self,
            [
                Container(labels=True, widgets=[self.run_folder, self.run_name, self.iteration, self.open_run_button]),
                Container(labels=True, widgets=[self.start_from, self.config_file, self.form]),
                self.status,
                self.summary,
                Container(labels=True, widgets=[self.weights_file, self.save_file, self.save_button]),
                Container(labels=True, widgets=[self.export_file, self.authors, self.export_button]),
            ],
            [self.build_button, self.message],
            labels=False,
        )
        self.status.native.setWordWrap(True)
        self.status.native.setMinimumWidth(120)
        self.status.native.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.start_from.changed.connect(self._on_start_from)
        # choosing the same entry again reloads it (magicgui's `changed` fires only on a change)
        self.start_from.native.activated.connect(lambda _index: self._on_start_from(self.start_from.value, again=True))
        self._started_from: str | None = None
        self.config_file.changed.connect(self._on_config_file)
        self.run_folder.changed.connect(lambda path: self.choose_run(path) if str(path) not in ("", ".") else None)
        self._run_source = None  # the store, run folder or run config chosen last
        self.run_name.changed.connect(lambda name: self.choose_run(self._run_source, name) if name else None)
        self.open_run_button.changed.connect(self.open_run)
        self.form.changed.connect(self.refresh)
        self.weights_file.changed.connect(self.refresh)  # a run's head changes the channel count
        self.save_button.changed.connect(lambda: self.save_config(self.save_file.value))
        self.export_button.changed.connect(self.export)
        self.build_button.changed.connect(self.build)
        self.form.set_config(demo_models()["demo_membranes_3d"].load()[0] if demo_models() else _fallback())

    # -- actions -------------------------------------------------------------------------
    def _on_start_from(self, name: str, again: bool = False) -> None:
        """Fill the form from a bundled example (no weights) or demo model (its weights)."""
        if again and name != self._started_from:
            return  # a new choice: `changed` handles it
        self._started_from = name
        if name in example_config_paths():
            self.load_config(example_config_paths()[name])
        elif name in demo_models():
            model = demo_models()[name]
            if self.load_config(model.config_path):
                self.weights_file.value = model.weights_path
                self.show_message(f"loaded the demo model {name} with its trained weights")

    def _on_config_file(self, path) -> None:
        if str(path) in ("", "."):
            return
        from ..runs import is_run_source

        if is_run_source(path):  # a run config: the whole run, not only its architecture
            self.choose_run(path)
        elif Path(path).suffix.lower() == ".zip":
            self.open_package(path)
        else:
            self.load_config(path)

    def open_package(self, path) -> RegisteredNetwork | None:
        """Open a bioimage.io package napari-dacapo exported: its network, weights and input
        normalisation, registered for the prediction dock; the form shows its config."""
        from ..export.importing import PackageError, open_package

        try:
            package = open_package(path)
        except (PackageError, OSError) as error:
            self.show_error(str(error))
            return None
        self.form.set_config(package.config)
        self.weights_file.line_edit.value = ""
        entry = RegisteredNetwork(package.name, package.config, package.network, Path(path))
        self.registry.add(entry)
        self.show_message(f"opened the bioimage.io package {Path(path).name}: {package.name}, ready to predict")
        return entry

    def choose_run(self, source, name: str | None = None) -> bool:
        """Read a DaCapo run (store, run folder or run config): its iterations fill the list."""
        from ..runs import RunError, open_run, run_names

        if source is None:
            return False
        self._run_source = source
        names = run_names(Path(source))
        self.run_name.visible = len(names) > 1
        if len(names) > 1:
            name = name if name in names else names[0]
            if list(self.run_name.choices) != list(names):
                with self.run_name.changed.blocked():
                    self.run_name.choices = names
            with self.run_name.changed.blocked():
                self.run_name.value = name
        try:
            run = open_run(source, name if len(names) > 1 else None)
        except (RunError, OSError) as error:
            self.dacapo_run = None
            self.show_error(str(error))
            return False
        self.dacapo_run = run
        best = ["best"] if run.best_summary() else []
        self.iteration.choices = ["latest", *best, *map(str, reversed(run.iterations()))]
        self.iteration.value = "latest"
        self.form.set_config(run.architecture_config)
        self.weights_file.line_edit.value = ""
        saved = run.iterations()
        self.show_message(
            f"run {run.name}: {run.task.kind} task, {len(saved)} checkpoints"
            + (f" (latest {saved[-1]})" if saved else "")
            + "; Open run to load one"
        )
        return True

    def open_run(self) -> RegisteredNetwork | None:
        """Load the chosen iteration of the run and register its model (task head, activation,
        channel names and input normalisation included) for the prediction dock."""
        from ..runs import RunError

        run = self.dacapo_run
        if run is None:
            self.show_error("choose a DaCapo run first (a store or run folder, or a run config file)")
            return None
        try:
            model = run.model(self.iteration.value)
        except (RunError, OSError) as error:
            self.show_error(str(error))
            return None
        iteration = model.origin.iteration
        name = run.name if iteration is None else f"{run.name} @ {iteration}"
        weights = Path(model.origin.checkpoint) if model.origin.checkpoint else None
        entry = RegisteredNetwork(name, run.architecture_config, model, weights)
        self.registry.add(entry)
        self.show_message(f"opened {model.describe()}: ready in the prediction dock")
        return entry

    def load_config(self, path) -> bool:
        """Fill the form from a DaCapo config file; errors go to the dock."""
        from ..io import load_config

        try:
            config = load_config(path)
        except (OSError, ValueError) as error:
            self.show_error(str(error))
            self.refresh()
            self.status.value += f" (the form as it was: {Path(path).name} was not loaded)"
            return False
        self.form.set_config(config)
        self.weights_file.line_edit.value = ""  # weights belong to the network they were chosen for
        self.show_message(f"loaded {Path(path).name}; choose its weights, or Build it untrained")
        return True

    def save_config(self, path) -> bool:
        from ..io import save_config

        if str(path) in ("", "."):
            self.show_error("choose a file to save the config to")
            return False
        try:
            save_config(self.form.config(), path)
        except (OSError, ValueError, TypeError) as error:
            self.show_error(f"could not save: {error}")
            return False
        self.show_message(f"saved {path}")
        return True

    def export(self) -> Any:
        """Write the network and its weights as a bioimage.io package, in a worker thread;
        returns the worker (None if the dock refused)."""
        from napari.qt.threading import thread_worker

        config, valid, reason = self._verified()
        path = self.export_file.value
        if not valid:
            self.show_error(f"cannot export: {reason}")
            return None
        if str(path) in ("", "."):
            self.show_error("choose a file to export to (export to …)")
            return None
        try:
            from ..export import export_bioimageio
        except ImportError as error:
            self.show_error(f"bioimage.io export needs its extra: pip install 'napari-dacapo[bioimageio]' ({error})")
            return None
        weights = self.weights_file.value
        weights = None if str(weights) in ("", ".") else Path(weights)
        authors = self.authors.value.strip() or None

        def work():
            try:
                return export_bioimageio(config, path, weights=weights, authors=authors)
            except (ValueError, OSError, RuntimeError) as error:  # the cause, for the dock to show
                return ("failed", str(error))  # (a returned exception would be raised by the worker)

        def done(out) -> None:
            if isinstance(out, tuple):
                self.show_error(f"export failed: {out[1]}")
            else:
                self.show_message(f"exported {Path(out).name} (bioimage.io 0.5)")

        worker = thread_worker(work, start_thread=False)()
        worker.returned.connect(done)
        worker.errored.connect(lambda error: self.show_error(f"export failed: {error}"))
        worker.finished.connect(lambda: setattr(self.export_button, "enabled", True))
        self.export_button.enabled = False
        self.show_message(f"exporting {config.name} to {Path(path).name} …")
        self.export_worker = worker
        worker.start()
        return worker

    def build(self) -> RegisteredNetwork | None:
        """Build the network (with the chosen weights) and register it under its name."""
        config, valid, reason = self._verified()
        if not valid:
            self.show_error(f"cannot build: {reason}")
            return None
        weights = self.weights_file.value
        weights = None if str(weights) in ("", ".") else Path(weights)
        try:
            network = build_network(config, weights)
        except (OSError, ValueError) as error:
            self.show_error(str(error))
            return None
        entry = RegisteredNetwork(config.name, config, network.eval(), weights)
        self.registry.add(entry)
        self.show_message(f"built {entry.label}: ready in the prediction dock")
        return entry

    # -- live feedback -------------------------------------------------------------------
    def _verified(self):
        try:
            config = self.form.config()
        except (ValueError, TypeError) as error:
            return None, False, str(error)
        valid, reason = config.verify()
        if valid and not config.name:
            valid, reason = False, "the network needs a name"
        return config, valid, reason

    def refresh(self, *_args) -> None:
        """Verify the form and show the result and the summary (called on every edit)."""
        config, valid, reason = self._verified()
        self.status.value = "✓ valid" if valid else f"✗ {reason}"
        self.status.native.setStyleSheet(_OK if valid else _BAD)
        if not valid:
            self.summary.value = ""
            return
        summary = summarize_config(config)  # arithmetic: nothing is built on a keystroke
        lines = summary.lines()[1:]
        head = _head_channels(self.weights_file.value)
        if head is not None and head != summary.num_out_channels:
            lines[0] += f", {head} after the run's prediction head (the chosen weights)"
        free = [f"{name} {b / 2**30:.1f} GiB" for name in available_devices() if (b := free_memory(name)) is not None]
        if free:
            lines.append(f"free now:           {', '.join(free)}")
        self.summary.value = _as_wrapping_lines(lines)

    def show_error(self, text: str) -> None:
        """The cause in one line; the rest (missing keys, shapes…) behind "details"."""
        show_text(self.message, f"✗ {text}", _BAD)

    def show_message(self, text: str) -> None:
        show_text(self.message, text)


@lru_cache(maxsize=8)
def _head_channels_of(path: str, _mtime: float) -> int | None:
    from ..io.checkpoints import is_run_checkpoint, read_checkpoint, split_run_state

    try:
        state = read_checkpoint(path)
    except (OSError, ValueError):
        return None  # Build says why
    if not is_run_checkpoint(state):
        return None
    weight = split_run_state(state)[1].get("weight")  # the head, in any of DaCapo's layouts
    return int(weight.shape[0]) if weight is not None else None


def _head_channels(path) -> int | None:
    """The output channels of a DaCapo run checkpoint's prediction head (None for a plain
    state dict, no file, or one that does not load)."""
    if str(path) in ("", ".") or not Path(path).is_file():
        return None
    return _head_channels_of(str(path), Path(path).stat().st_mtime)


def _as_wrapping_lines(lines: list[str]) -> str:
    """The summary's aligned ``field:   value`` lines as rich text that wraps in a narrow dock."""
    from html import escape

    rows = []
    for line in lines:
        field, _, value = line.partition(":")
        rows.append(
            f"<b>{escape(field.strip(), False)}</b>: {escape(value.strip(), False)}" if value else escape(line, False)
        )
    return "<br>".join(rows)


def _fallback():
    return example_config("unet2d")
