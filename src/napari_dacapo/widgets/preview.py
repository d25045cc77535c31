"""The prediction dock's live preview: the region in view, predicted again whenever the
view stops changing, on the full run's grid (so it equals the full run there)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ..placement import Placement
from ..tiling import leading_axes, predict_region
from .output_layers import layer_data, show, spatial_affine
from .task_outputs import task_outputs, task_rule
from .view_region import visible_roi

__all__ = ["PreviewMixin", "viewer_camera"]


class PreviewMixin:
    """Preview for :class:`~napari_dacapo.widgets.prediction_dock.PredictionDock`: uses its
    ``viewer``, ``image``, ``network``, ``registry``, ``preview``, ``output``, ``threshold``,
    ``message``, ``options()`` and ``show_error()``."""

    _preview_worker: Any = None
    _preview_generation: int = 0
    _preview_timer: Any = None
    _preview_redraw: Any = None  # the layers of the region shown last, made again
    _preview_cache: tuple | None = None  # (what was asked, the RegionPrediction shown)

    def _on_preview_toggled(self, on: bool) -> None:
        self._preview_cache = None
        if on:
            self.refresh_preview()
        elif self.viewer is not None:
            for layer in [la for la in self.viewer.layers if la.name.startswith("preview: ")]:
                self.viewer.layers.remove(layer)

    def _schedule_preview(self, *_args) -> None:
        if not self.preview.value:
            return
        from qtpy.QtCore import QTimer

        if self._preview_timer is None:
            self._preview_timer = QTimer(self.native)  # deleted with the dock
            self._preview_timer.setSingleShot(True)
            self._preview_timer.timeout.connect(self.refresh_preview)
        self._preview_timer.start(250)  # wait for the user to stop scrolling or panning

    def refresh_preview(self) -> Any:
        """Predict the region in view in a worker; returns the worker (None if nothing to do)."""
        from napari.qt.threading import thread_worker

        try:
            job_layer, entry = self.image.value, self.registry.get(self.network.value)
            if job_layer is None:
                raise ValueError("open an image layer first")
            data = job_layer.data[0] if job_layer.multiscale else job_layer.data
            dims = entry.network.dims
            roi = visible_roi(self.viewer, job_layer, dims)
            if roi is None:
                self.message.value = "preview works in the 2D view"
                return None
            extra = 0 if job_layer.rgb else leading_axes(entry.network, data)
            point = np.asarray(job_layer.world_to_data(self.viewer.dims.point))
            index = tuple(
                int(np.clip(round(p), 0, n - 1)) for p, n in zip(point[:extra], data.shape[:extra], strict=True)
            )
            data = data[index] if extra else data  # the slice in view
            affine = spatial_affine(job_layer.affine.affine_matrix, dims + extra)
        except (ValueError, KeyError) as error:
            self.show_error(str(error.args[0] if error.args else error))
            return None
        options = self.options(batch_size="auto")
        # what the shown layer depends on besides the region in view
        asked = (job_layer.name, id(job_layer.data), entry.name, id(entry.network), options, index)
        asked += (self.output.value, float(self.threshold.value), tuple(job_layer.scale), tuple(job_layer.translate))
        cached = self._preview_cache
        if cached is not None and cached[0] == asked and cached[1].covers(roi):
            return None  # the layer already holds these voxels (a slab around the slice in view)
        self._preview_generation += 1
        generation = self._preview_generation
        image = Placement(job_layer.scale, job_layer.translate)
        started = time.perf_counter()
        # a valid network computes a slab (and a margin) for one slice: keep all of it, so
        # scrolling and panning inside it show predicted voxels without another run
        unet = getattr(entry.network, "architecture", entry.network)  # a run's model: its U-Net
        whole = getattr(unet, "padding", "same") == "valid"

        def work():
            return predict_region(entry.network, data, roi, options, whole_window=whole)

        def layers_of(region) -> list:
            # the slice in view keeps its place; the region sits where the full run puts it
            placement = image[-dims - extra : -dims].at(index) + region.placement(image[-dims:])
            prediction = region.data.reshape(region.data.shape[:1] + (1,) * extra + region.data.shape[1:])
            task = task_outputs(entry.network)
            # labels of the region with the full run's blocks and IDs (not yet for a stack's slice)
            wanted = task is not None and self.output.value == "task" and not extra
            rule = task_rule(task, self.label_parameter.value) if wanted else None
            layers = layer_data(
                prediction,
                form=self.output.value,
                channel_names=task.channels if task is not None else None,
                rule=rule,
                region=(tuple(region.output_begin), _full_output_shape(entry.network, data, options)) if rule else None,
                base_name=f"preview: {job_layer.name} · {entry.name}",
                scale=placement.voxel_size,
                translate=placement.origin,
                threshold=float(self.threshold.value),
                metadata={"image": job_layer.name, "network": entry.name, "preview": True},
                units=tuple(str(u) for u in job_layer.units)[-dims - extra :],
                affine=affine,
            )
            return layers

        def done(region):
            if generation != self._preview_generation or not self.preview.value:
                return  # a newer view was asked for
            self._preview_cache = (asked, region) if whole else None
            # a new threshold or bias relabels this region without running the network
            self._preview_redraw = lambda: layers_of(region)
            show(self.viewer, layers_of(region))
            predicted = " × ".join(str(n) for n in region.data.shape[1:])
            self.message.value = (
                f"preview of {tuple(roi.shape)} voxels in {time.perf_counter() - started:.2f} s "
                f"({predicted} predicted: scrolling inside them needs no new run)"
            )

        worker = thread_worker(work, start_thread=False)()
        worker.returned.connect(done)
        worker.errored.connect(lambda error: self.show_error(f"preview failed: {error}"))
        self._preview_worker = worker
        worker.start()
        return worker


def _full_output_shape(network, data, options) -> tuple[int, ...]:
    """The spatial shape of the full run's output (labels use the full run's blocks and IDs)."""
    from ..tiling import plan_prediction

    spatial = tuple(data.shape[-network.dims :])
    return tuple(plan_prediction(network, spatial, options.pad, options.use_eval_shape_increase).output_shape)


def viewer_camera(viewer):
    """The viewer's camera (``viewer.scene.camera`` from napari 0.9, ``viewer.camera`` before)."""
    scene = getattr(viewer, "scene", None)
    return scene.camera if scene is not None and hasattr(scene, "camera") else viewer.camera
