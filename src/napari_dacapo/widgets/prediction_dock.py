"""The prediction dock: pick an image layer and a network, predict in a worker thread, show
the result as layers that sit exactly on the input."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from magicgui.widgets import (
    CheckBox,
    ComboBox,
    Container,
    FloatSlider,
    FloatSpinBox,
    ProgressBar,
    PushButton,
    SpinBox,
)

from ..placement import Placement
from ..tiling import (
    PAD_MODES,
    Monitor,
    PredictionCancelled,
    PredictOptions,
    available_devices,
    check_image,
    leading_axes,
    plan_prediction,
    predict_stack_steps,
    predict_steps,
)
from .layout import message_label, scrolling_body, show_text
from .output_layers import OUTPUT_FORMS, allocate_output, layer_data, show, spatial_affine
from .preview import PreviewMixin, viewer_camera
from .registry import NetworkRegistry, RegisteredNetwork, registry
from .task_outputs import TaskOutputsMixin, task_outputs, task_rule

_BAD = "color: #f44336;"

if TYPE_CHECKING:
    import napari


@dataclass(frozen=True)
class Job:
    """Everything one run needs, gathered from the dock on the main thread."""

    entry: RegisteredNetwork
    layer_name: str
    data: Any  # the chosen level's array (numpy, dask, zarr)
    placement: Placement  # of the output's axes after the channel axis
    options: PredictOptions
    out: Any
    units: tuple | None = None
    slices: bool = False  # a network with fewer dims than the image: slice by slice
    affine: Any = None  # the input layer's physical-to-world affine over the output's axes
    monitor: Monitor = field(default_factory=Monitor)  # cancel inside a tile; progress within one

    @property
    def steps(self):
        run = predict_stack_steps if self.slices else predict_steps
        return run(self.entry.network, self.data, self.options, out=self.out, monitor=self.monitor)

    @property
    def base_name(self) -> str:
        return f"{self.layer_name} · {self.entry.name}"


class PredictionDock(TaskOutputsMixin, PreviewMixin, Container):
    """Image, network, device, tiling options, output form; Predict / Cancel / Preview."""

    def __init__(self, napari_viewer: napari.viewer.Viewer | None = None, network_registry: NetworkRegistry = registry):
        super().__init__(labels=False)
        self.viewer = viewer = napari_viewer
        self.native.setMinimumWidth(380)
        self.native.setMaximumWidth(520)
        self.registry = network_registry
        self.image = ComboBox(label="image", choices=self._image_choices)
        self.level = SpinBox(label="level", value=0, min=0, max=0, visible=False)
        self.level.tooltip = "Multiscale image: the level to predict on (0: full resolution)."
        self.network = ComboBox(label="network", choices=self._network_choices)
        self.device = ComboBox(label="device", choices=[(d, n) for n, d in available_devices().items()])
        self.use_eval_shape_increase = CheckBox(text="larger prediction tiles", value=True)
        self.use_eval_shape_increase.tooltip = (
            "Tiles of input_shape + eval_shape_increase (DaCapo's prediction size), faster than the "
            "training size input_shape; untick if a tile does not fit in memory."
        )
        self.pad = ComboBox(label="padding", choices=list(PAD_MODES), value="reflect")
        self.pad.tooltip = "reflect/zero: output covers the whole image; valid: only voxels with full context."
        self.batch_size = ComboBox(
            label="batch size", choices=[("auto", "auto"), *((str(n), n) for n in (1, 2, 4, 8, 16, 32, 64))]
        )
        self.batch_size.tooltip = "Tiles per forward pass; auto: what fits in free GPU memory (1 on the CPU)."
        precisions = [("auto (bfloat16 where fast)", "auto"), *((p, p) for p in ("float32", "bfloat16", "float16"))]
        self.precision = ComboBox(label="precision", choices=precisions, value="auto")
        self.precision.tooltip = (
            "auto: bfloat16 on a GPU or CPU that computes it natively (3-4× faster on such CPUs), else float32. "
            "A lower precision is kept only if the first tile is within 2% (bfloat16) or 0.5% (float16) of the "
            "float32 result; the finished message says which was used."
        )
        self.output = ComboBox(label="output", choices=list(OUTPUT_FORMS.items()), value="stack")
        self.threshold = FloatSpinBox(label="threshold", value=0.5, min=-1e6, max=1e6, step=0.05)
        # a DaCapo run's post-processor parameter (threshold or bias): labels follow on release
        self.label_parameter = FloatSlider(label="bias", value=0.5, min=0.0, max=1.0, step=0.01, tracking=False)
        self.label_parameter.tooltip = "The task's post-processor parameter: the labels follow without a new run."
        self.keep_partial = CheckBox(text="keep a partial result on cancel", value=False)
        self.preview = CheckBox(text="preview (region in view, live)", value=False)
        self.predict_button = PushButton(text="Predict")
        self.cancel_button = PushButton(text="Cancel", enabled=False)
        self.progress = ProgressBar(label="tiles", value=0, min=0, max=1)
        self.message = message_label()
        self.body = scrolling_body(
            self,
            [
                self.image,
                self.level,
                self.network,
                self.device,
                self.use_eval_shape_increase,
                self.pad,
                self.batch_size,
                self.precision,
                self.output,
                self.threshold,
                self.label_parameter,
                self.keep_partial,
                self.preview,
            ],
            [self.predict_button, self.cancel_button, self.progress, self.message],
        )
        self.worker = None
        _warm_torch_imports()
        self._job: Job | None = None
        self._tiles = ""  # "N tiles of a × b voxels" of the running prediction
        self._preview_worker = None
        self._preview_generation = 0
        self.image.changed.connect(self._on_image)
        self.output.changed.connect(self._on_output_form)
        self.threshold.visible = False
        self.label_parameter.visible = False
        self.network.changed.connect(self._on_network)
        self.label_parameter.changed.connect(self._on_label_parameter)
        self._last: tuple[Job, Any] | None = None  # the last run and its prediction: labels redone from it
        self.labels_worker = None
        self._label_generations: dict[str, int] = {}  # the latest labels request per kind
        self.predict_button.changed.connect(self.run)
        self.cancel_button.changed.connect(self.cancel)
        self.preview.changed.connect(self._on_preview_toggled)
        self.registry.changed.connect(self.reset_choices)
        self._preview_timer = None
        if viewer is not None:
            camera = viewer_camera(viewer)
            events = (camera.events.center, camera.events.zoom, viewer.dims.events.current_step)
            for event in events:
                event.connect(self._schedule_preview)

            def disconnect(*_args) -> None:  # a closed dock stops following the view
                for event in events:
                    event.disconnect(self._schedule_preview)

            self.native.destroyed.connect(disconnect)
        self._on_image(self.image.value)

    # -- choices -------------------------------------------------------------------------
    def _image_choices(self, _widget=None):
        if self.viewer is None:
            return []
        from napari.layers import Image

        return [(layer.name, layer) for layer in self.viewer.layers if isinstance(layer, Image)]

    def _network_choices(self, _widget=None):
        return [(self.registry.get(name).label, name) for name in self.registry.names()]

    def _on_image(self, layer) -> None:
        multiscale = bool(layer is not None and layer.multiscale)
        self.level.visible = multiscale
        self.level.max = len(layer.data) - 1 if multiscale else 0
        if layer is not None and self.network.choices:  # a sensible default: the demo of the image's dims
            dims = layer.ndim - (1 if layer.rgb else 0)
            demo = f"demo_membranes_{dims}d"
            current = self.registry.get(self.network.value) if self.network.value else None
            if demo in self.registry.names() and (current is None or current.network.dims != dims):
                self.network.value = demo

    # -- gathering -----------------------------------------------------------------------
    def job(self) -> Job:
        """Read the dock into a :class:`Job` (raises ValueError with a message for the user)."""
        layer = self.image.value
        if layer is None:
            raise ValueError("open an image layer first (File ▸ Open Sample ▸ napari DaCapo for a demo)")
        if not self.network.value:
            raise ValueError("build a network in the architecture dock first")
        entry = self.registry.get(self.network.value)
        network = entry.network
        if layer.multiscale:
            level = int(self.level.value)
            data = layer.data[level]
            factors = np.asarray(layer.downsample_factors[level])
        else:
            data = layer.data
            factors = np.ones(layer.ndim)
        dims = network.dims
        if layer.ndim < dims:
            raise ValueError(f"{entry.name} is a {dims}D network; {layer.name!r} has only {layer.ndim} axes")
        extra = 0 if layer.rgb else leading_axes(network, data)
        if extra:
            spatial = tuple(data.shape[extra:])
        else:
            try:
                channel_axis = check_image(network, data)
            except ValueError as error:
                raise ValueError(f"{layer.name!r} does not fit {entry.name}: {error}") from None
            spatial = tuple(data.shape[1:] if channel_axis else data.shape)
        if not (np.allclose(layer.rotate, np.eye(layer.ndim)) and np.allclose(layer.shear, 0)):
            raise ValueError(
                f"{layer.name!r} is rotated or sheared: outputs are placed by scale, translate and the "
                "layer's affine; express the rotation in the affine instead"
            )
        affine = spatial_affine(layer.affine.affine_matrix, dims + extra)
        image = Placement(np.asarray(layer.scale) * factors, layer.translate)
        options = self.options()
        plan = plan_prediction(network, spatial, options.pad, options.use_eval_shape_increase)
        placement = image[-dims - extra : -dims] + plan.placement(image[-dims:])  # sliced axes stay
        shape = (network.num_out_channels, *data.shape[:extra], *plan.output_shape)
        units = tuple(str(u) for u in layer.units)[-dims - extra :]
        out = allocate_output(data, shape, plan.grid)
        return Job(entry, layer.name, data, placement, options, out, units, extra > 0, affine)

    def options(self, **changes) -> PredictOptions:
        """The engine options the dock is set to."""
        return PredictOptions(
            pad=self.pad.value,
            use_eval_shape_increase=bool(self.use_eval_shape_increase.value),
            device=self.device.value,
            batch_size=self.batch_size.value,
            dtype=self.precision.value,
        ).but(**changes)

    # -- running -------------------------------------------------------------------------
    def run(self) -> Any:
        """Start predicting in a worker thread; returns the worker (None if the dock refused)."""
        from napari.qt.threading import thread_worker

        if self.worker is not None:
            return self.worker
        try:
            job = self.job()
        except (ValueError, KeyError) as error:
            self.show_error(str(error.args[0] if error.args else error))
            return None
        self._job = job
        steps = job.steps
        self._steps = steps

        def work():
            try:
                return (yield from steps)
            except PredictionCancelled:  # stopped inside a tile; a RuntimeError would lose `finished`
                return None

        worker = thread_worker(work, start_thread=False)()
        worker.yielded.connect(self._on_step)
        worker.returned.connect(self._on_returned)
        worker.errored.connect(self._on_errored)
        worker.aborted.connect(self._on_aborted)
        worker.finished.connect(self._on_finished)
        self.worker = worker
        self.predict_button.enabled, self.cancel_button.enabled = False, True
        self.progress.value = 0
        self.message.value = f"predicting {job.base_name} …"
        self._tiles, self._precision = "", ""
        self.message.native.setStyleSheet("")
        self._started = time.perf_counter()
        self._start_heartbeat()
        worker.start()
        return worker

    def cancel(self) -> None:
        """Stop the run: within one layer of the network, even in the middle of a large tile."""
        if self.worker is not None:
            self.message.value = "cancelling …"
            self._job.monitor.stop.set()
            self.worker.quit()

    def _start_heartbeat(self) -> None:
        """Twice a second, say how far the tile in progress has got and how long it has run."""
        from qtpy.QtCore import QTimer

        if getattr(self, "_heartbeat", None) is None:
            self._heartbeat = QTimer(self.native)  # deleted with the dock
            self._heartbeat.timeout.connect(self._on_heartbeat)
        self._heartbeat.start(500)

    def _on_heartbeat(self) -> None:
        job = self._job
        if self.worker is None or job is None or job.monitor.stop.is_set():
            return
        done, total = self.progress.value, self.progress.max
        within = f", tile {done + 1} of {total} {job.monitor.inside_tile:.0%}" if done < total else ""
        tiles = f": {self._tiles}" if self._tiles else ""
        self.message.value = (
            f"predicting {job.base_name}{tiles}{within} · {time.perf_counter() - self._started:.0f} s …"
        )

    def _on_step(self, step) -> None:
        self.progress.max = max(step.total, 1)
        self.progress.value = step.done
        self._precision = step.precision or getattr(self, "_precision", "")
        tiles = _tiles_text(step)
        if tiles and tiles != self._tiles:  # the first step, or smaller tiles after running out of memory
            self._tiles = tiles
            self.message.value = f"predicting {self._job.base_name}: {tiles} …"

    def _on_errored(self, error: BaseException) -> None:
        self.show_error(f"prediction failed: {error}")

    def _on_returned(self, out) -> None:
        if isinstance(out, Exception):  # napari's worker returns RuntimeErrors instead of raising
            self.show_error(f"prediction failed: {out}")
            return
        job = self._job
        self._show(job, out, partial=False)
        tiles = f", {self._tiles}" if self._tiles else ""
        seconds = time.perf_counter() - self._started
        rate = f", {np.prod(np.shape(out)[1:]) / seconds / 1e6:.2f} M output voxels/s" if seconds > 0 else ""
        precision = f", {self._precision}" if getattr(self, "_precision", "") else ""
        self.message.value = f"{job.base_name}: done in {seconds:.1f} s{tiles}{rate}{precision}"

    def _on_aborted(self) -> None:
        """Report a cancelled run once (stopped between tiles, or inside one)."""
        job = self._job
        if job is None or getattr(self, "_reported_cancel", None) is job:
            return
        self._reported_cancel = job
        self._steps.close()  # stops the reader and puts the network back
        done, total = self.progress.value, self.progress.max
        if self.keep_partial.value:
            self._show(job, job.out, partial=True)
            self.message.value = f"cancelled after {done} of {total} tiles: partial result shown"
        else:
            self.message.value = f"cancelled after {done} of {total} tiles: nothing added"

    def _on_finished(self) -> None:
        if getattr(self, "_heartbeat", None) is not None:
            self._heartbeat.stop()
        if self._job is not None and self._job.monitor.stop.is_set():  # cancelled inside a tile
            self._on_aborted()
        self.worker = None
        self.predict_button.enabled, self.cancel_button.enabled = True, False
        self.progress.value = 0  # the message says how the run ended; the bar waits for the next

    def _show(self, job: Job, out, partial: bool) -> list:
        name = job.base_name + (" (partial)" if partial else "")
        task = task_outputs(job.entry.network)
        if not partial:
            self._last = (job, out)
        kwargs = dict(
            form=self.output.value,
            base_name=name,
            scale=job.placement.voxel_size,
            translate=job.placement.origin,
            threshold=float(self.threshold.value),
            metadata={"image": job.layer_name, "network": job.entry.name, "partial": partial},
            units=job.units,
            affine=job.affine,
            channel_names=task.channels if task is not None else None,
        )
        wanted = task is not None and self.output.value == "task"
        rule = task_rule(task, self.label_parameter.value) if wanted else None
        if rule is None:
            return show(self.viewer, layer_data(out, **kwargs))
        self.show_later(lambda: layer_data(out, **kwargs, rule=rule))  # labels take a while: in a worker
        return []

    def show_error(self, text: str) -> None:
        """The cause in one line; the rest (missing keys, shapes…) behind "details"."""
        show_text(self.message, f"✗ {text}", _BAD)


def _warm_torch_imports() -> None:
    """Import now what torch imports on its first meta-device forward (the engine's memory
    estimate): sympy, through torch.fx's symbolic shapes, about 250 ms. Imported in the
    worker it held the GIL and froze the GUI for that long at the start of the first run."""
    import torch.fx.experimental.symbolic_shapes  # noqa: F401


def _tiles_text(step) -> str:
    """ "12 tiles of 188 × 188 voxels" for a step that says its tile shape."""
    shape = getattr(step, "tile_shape", ())
    if not shape:
        return ""
    return f"{step.total} tile{'s' if step.total != 1 else ''} of {' × '.join(str(s) for s in shape)} voxels"
