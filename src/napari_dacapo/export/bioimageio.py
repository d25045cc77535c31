"""Export a network to a bioimage.io model package (spec 0.5), checked by ``bioimageio.core``.

The package declares the network's exact valid input sizes (``ParameterizedSize``: the
smallest valid input and the step between valid inputs), its outputs relative to them
(``SizeReference`` with the context as offset, scaled for super-resolution), the engine's
normalisation of uint8 images (``scale_linear`` with gain 1/255), weights as a state dict
(built by :func:`napari_dacapo.export.model.dacapo_network`) and as TorchScript, and test
tensors predicted by napari-dacapo's own engine.
"""

from __future__ import annotations

import re
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..architectures import Architecture
from .sizes import AxisSizes, axis_sizes

__all__ = ["DACAPO_CITATION", "DACAPO_DOI", "export_bioimageio"]

DACAPO_DOI = "10.1101/2024.02.20.579150"
DACAPO_CITATION = "Patton et al. (2024), DaCapo: a modular deep learning framework for scalable 3D image segmentation"
_SPACE_AXES = {2: ("y", "x"), 3: ("z", "y", "x")}


def _head(network: Architecture) -> dict[str, Any] | None:
    head = getattr(network, "prediction_head", None)
    if head is None:
        return None
    found = {"in_channels": head.in_channels, "out_channels": head.out_channels, "bias": head.bias is not None}
    kernel = int(head.kernel_size[0])
    if kernel != 1:
        found["kernel_size"] = kernel
    task = getattr(network, "task", None)
    if task is not None and task.activation:
        found["activation"] = task.activation
    return found


def _normalisation(network: Architecture):
    """A DaCapo run's input normalisation (None: the type's maximum)."""
    normalisation = getattr(network, "input_normalisation", None)
    return None if normalisation is None or normalisation.by_dtype else normalisation


def _scaling(network: Architecture) -> tuple[float, float, str]:
    """``scale_linear``'s gain and offset on uint8 values, and how to say it."""
    normalisation = _normalisation(network)
    if normalisation is None:
        return 1 / 255, 0.0, "divided by 255 (`scale_linear`, as napari-dacapo does with integer images)"
    low, high = normalisation.low, normalisation.high
    return (
        1 / (high - low),
        -low / (high - low),
        f"mapped by (x − {low:g}) / ({high:g} − {low:g}) (`scale_linear`), the normalisation of the DaCapo "
        "run's training data",
    )


def _inner(network: Architecture) -> Architecture:
    return getattr(network, "architecture", network)


def _metadata(name: str | None, authors: str | Sequence[str] | None, config_name: str) -> tuple[str, list[str]]:
    name = (name or config_name or "").strip()
    if not name:
        raise ValueError("missing metadata: name (give --name / name=...)")
    if isinstance(authors, str):
        authors = [a.strip() for a in authors.split(";")]
    authors = [a.strip() for a in (authors or []) if a and a.strip()]
    if not authors:
        raise ValueError(
            'missing metadata: authors, which bioimage.io requires (give --authors "A; B" / authors=[...])'
        )
    return name, authors


def _test_image(network: Architecture, shape: Sequence[int]) -> np.ndarray:
    """A uint8 EM-like test image of ``shape`` (the bundled synthetic sample data)."""
    from ..sample_data import synthetic_em

    image = np.asarray(synthetic_em(tuple(shape), seed=0).raw, dtype=np.uint8)
    if network.num_in_channels == 1:
        return image[np.newaxis]
    return np.stack([np.roll(image, c, axis=-1) for c in range(network.num_in_channels)])


def _engine_prediction(network: Architecture, image: np.ndarray) -> np.ndarray:
    """``(channels, *spatial)`` float32: napari-dacapo's tiled valid prediction of ``image``."""
    from ..tiling import predict

    source = image[0] if network.num_in_channels == 1 else image
    return np.asarray(predict(network, source, pad="valid", device="cpu", batch_size=1), dtype=np.float32)


def _cover(image: np.ndarray, output: np.ndarray, path: Path) -> None:
    """Input and first output channel side by side (middle slice in 3D), 2:1."""
    from PIL import Image

    def middle(a: np.ndarray) -> np.ndarray:
        a = a[0]
        return a[a.shape[0] // 2] if a.ndim == 3 else a

    raw, out = middle(image).astype(np.float32), middle(output)
    lo, hi = float(out.min()), float(out.max())
    out = (out - lo) / (hi - lo) if hi > lo else np.zeros_like(out)
    canvas = np.zeros_like(raw)
    top, left = ((np.array(raw.shape) - np.array(out.shape)) // 2).clip(0)
    canvas[top : top + out.shape[0], left : left + out.shape[1]] = out[: raw.shape[0], : raw.shape[1]] * 255
    side = max(raw.shape)
    panels = [Image.fromarray(p.astype(np.uint8)).resize((side, side)) for p in (raw, canvas)]
    cover = Image.new("L", (2 * side, side))
    for i, panel in enumerate(panels):
        cover.paste(panel, (i * side, 0))
    cover.save(path)


def _documentation(name: str, network: Architecture, sizes: list[AxisSizes], axes: Sequence[str]) -> str:
    tile = tuple(network.input_shape + network.eval_shape_increase)
    rows = "\n".join(
        f"| {a} | {s.min} | {s.step} | {s.min} + n × {s.step} | input × {s.upsample} {s.offset:+d} |"
        for a, s in zip(axes, sizes, strict=True)
    )
    return f"""# {name}

A DaCapo U-Net exported by napari-dacapo.

## Tile size
Predict tiles of **{" × ".join(map(str, tile))}** voxels ({", ".join(axes)}), the recommended
`input_shape + eval_shape_increase` of the network (training input shape {tuple(network.input_shape)}).
The network uses valid convolutions: its output is smaller than its input by the context
{tuple(network.context)} (input voxels), so tiles must overlap by the context, which bioimage.io
tools handle through the declared sizes.

| axis | smallest input | step | valid inputs | output |
|---|---|---|---|---|
{rows}

## Input and output
Input: one image of uint8 values, {_scaling(network)[2]}. Output: {_output_text(network)}.

## How it was made
Exported with `napari-dacapo export-bioimageio`; the test tensors are napari-dacapo's own tiled
prediction (`pad="valid"`) of a synthetic EM-like image.

## Citation
DaCapo: {DACAPO_CITATION}, bioRxiv, https://doi.org/{DACAPO_DOI} (https://github.com/janelia-cellmap/dacapo).
"""


def _output_text(network: Architecture) -> str:
    task = getattr(network, "task", None)
    if task is None:
        return f"the network's raw output, {network.num_out_channels} channel(s)"
    activation = f", after the task's {task.activation}" if task.activation else ""
    return f"the DaCapo {task.kind} task's channels {', '.join(task.channels)}{activation}"


def _axes(network: Architecture, sizes: list[AxisSizes], voxel_size: Sequence[float] | None) -> tuple[list, list]:
    from bioimageio.spec.model import v0_5

    names = _SPACE_AXES[network.dims]
    scales = [float(v) for v in voxel_size] if voxel_size else [1.0] * network.dims
    unit = "nanometer" if voxel_size else None
    inputs: list = [v0_5.BatchAxis(), v0_5.ChannelAxis(channel_names=[f"c{i}" for i in range(network.num_in_channels)])]
    outputs: list = [v0_5.BatchAxis(), v0_5.ChannelAxis(channel_names=_channel_names(network))]
    for axis, size, scale in zip(names, sizes, scales, strict=True):
        inputs.append(
            v0_5.SpaceInputAxis(
                id=v0_5.AxisId(axis), size=v0_5.ParameterizedSize(min=size.min, step=size.step), scale=scale, unit=unit
            )
        )
        reference = v0_5.SizeReference(tensor_id=v0_5.TensorId("raw"), axis_id=v0_5.AxisId(axis), offset=size.offset)
        outputs.append(
            v0_5.SpaceOutputAxis(id=v0_5.AxisId(axis), size=reference, scale=scale / size.upsample, unit=unit)
        )
    return inputs, outputs


def _halo_axes(out_axes: list, halo: Sequence[int]) -> list:
    """The output's space axes as large as the input's, with ``halo`` voxels to crop per side."""
    from bioimageio.spec.model import v0_5

    axes, space = list(out_axes[:2]), out_axes[2:]
    for axis, width in zip(space, halo, strict=True):
        reference = v0_5.SizeReference(tensor_id=v0_5.TensorId("raw"), axis_id=axis.id, offset=0)
        axes.append(
            v0_5.SpaceOutputAxisWithHalo(id=axis.id, size=reference, halo=int(width), scale=axis.scale, unit=axis.unit)
        )
    return axes


def _channel_names(network: Architecture) -> list:
    """A DaCapo run's channel names (as bioimage.io identifiers allow them: ``aff_0.-1.0``
    becomes ``aff_0_m1_0``), else ``c0``, ``c1``…"""
    from bioimageio.spec.model import v0_5

    task = getattr(network, "task", None)
    fallback = [v0_5.Identifier(f"c{i}") for i in range(network.num_out_channels)]
    if task is None or len(task.channels) != network.num_out_channels:
        return fallback
    names = [re.sub(r"[^A-Za-z0-9_]", "_", c.replace("-", "m")) for c in task.channels]
    try:
        return [v0_5.Identifier(n) for n in names] if len(set(names)) == len(names) else fallback
    except ValueError:
        return fallback


def _check_output(out_zip: Path, overwrite: bool) -> Path:
    out_zip = Path(out_zip)
    if out_zip.suffix.lower() != ".zip":
        raise ValueError(f"{out_zip}: the package is a zip file, give a path ending in .zip")
    if out_zip.exists() and not overwrite:
        raise FileExistsError(f"{out_zip}: exists; give --overwrite (overwrite=True) to replace it")
    if out_zip.exists() and not out_zip.is_file():
        raise FileExistsError(f"{out_zip}: exists and is not a file; choose another path")
    if not out_zip.parent.is_dir():
        raise ValueError(f"{out_zip.parent}: no such folder")
    return out_zip


def _build(network_spec: str | Path | Any, weights: str | Path | None) -> tuple[Any, Architecture]:
    from ..networks import build_network, demo_models, resolve_config
    from ..runs import is_run_source, open_run

    if isinstance(network_spec, str | Path) and is_run_source(network_spec):  # a DaCapo run: latest or weights
        run = open_run(network_spec)
        model = run.model(checkpoint=weights) if weights is not None else run.model()
        return run.architecture_config, model
    if hasattr(network_spec, "verify") or not isinstance(network_spec, str | Path):  # a config object
        config = network_spec
    else:
        config = resolve_config(network_spec)
        if weights is None and str(network_spec) in demo_models():
            weights = demo_models()[str(network_spec)].weights_path
    return config, build_network(config, weights).eval()


def export_bioimageio(
    network_spec: str | Path | Any,
    out_zip: str | Path,
    *,
    weights: str | Path | None = None,
    name: str | None = None,
    authors: str | Sequence[str] | None = None,
    description: str | None = None,
    cite: str | None = None,
    license: str = "CC-BY-4.0",
    overwrite: bool = False,
    voxel_size: Sequence[float] | None = None,
    halo: bool = False,
) -> Path:
    """Write ``network_spec``'s network (with ``weights``) as a bioimage.io 0.5 package ``out_zip``.

    ``network_spec``: a config file, a bundled example or demo name (a demo uses its bundled
    weights unless ``weights`` is given), or an ``ArchitectureConfig``. ``authors``: names, or
    one string ``"A; B"`` (required by bioimage.io). ``cite``: a DOI or URL cited besides DaCapo.
    ``voxel_size``: nanometres per voxel, z,y,x (optional). ``halo``: the blocking-friendly
    variant (:mod:`.halo`): output as large as the input, the context as its halo, the input
    zero-padded, for bioimageio.core's own blocking (equal to ``predict(pad="zero")``). Returns the package's path.
    Refuses, with one line, an existing ``out_zip`` (unless ``overwrite``), a network that
    does not verify, weights that do not fit and missing metadata.
    """
    from bioimageio.spec import ValidationContext, save_bioimageio_package
    from bioimageio.spec.model import v0_5

    from ..io import config_to_dict

    out_zip = _check_output(Path(out_zip), overwrite)
    config, network = _build(network_spec, weights)
    run_name = getattr(getattr(network, "origin", None), "run", None)
    name, authors = _metadata(name, authors, run_name or getattr(config, "name", ""))
    if voxel_size is not None and len(voxel_size) != network.dims:
        raise ValueError(f"voxel_size {tuple(voxel_size)}: expected {network.dims} values")
    halo_width = None
    if halo:  # refused before anything is computed
        from .halo import OutputPadded, halo_of

        halo_width = halo_of(network)
    sizes = axis_sizes(network)
    axes = _SPACE_AXES[network.dims]
    tile = tuple(network.input_shape + network.eval_shape_increase)
    image = _test_image(network, tile)
    output = _engine_prediction(network, image)
    in_axes, out_axes = _axes(network, sizes, voxel_size)
    exported = network
    if halo_width is not None:
        exported = OutputPadded(network, halo_width).eval()
        output = np.pad(output, [(0, 0), *((h, h) for h in halo_width)])
        out_axes = _halo_axes(out_axes, halo_width)
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        np.save(tmp / "test_input.npy", image[np.newaxis])
        np.save(tmp / "test_output.npy", output[np.newaxis])
        _cover(image, output, tmp / "cover.png")
        (tmp / "README.md").write_text(_documentation(name, network, sizes, axes), encoding="utf-8")
        torch.save(exported.state_dict(), tmp / "weights.pt")
        gain, offset, _text = _scaling(network)
        example = torch.from_numpy(image[np.newaxis].astype(np.float32) * np.float32(gain) + np.float32(offset))
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", torch.jit.TracerWarning)  # shape checks, constant for the traced size
            torch.jit.trace(exported, example).save(str(tmp / "weights_torchscript.pt"))
        kwargs = {"config": config_to_dict(config), "head": _head(network)}
        if halo_width is not None:
            kwargs["halo"] = list(halo_width)
        torch_version = v0_5.Version(torch.__version__.split("+")[0])
        citations = [v0_5.CiteEntry(text=DACAPO_CITATION, doi=v0_5.Doi(DACAPO_DOI))]
        if cite:
            doi = re.sub(r"^(https?://(dx\.)?doi\.org/|doi:)", "", cite.strip())
            entry = {"doi": v0_5.Doi(doi)} if re.match(r"^10\.\d+/", doi) else {"url": cite.strip()}
            citations.append(v0_5.CiteEntry(text=cite.strip(), **entry))
        with ValidationContext(root=tmp, perform_io_checks=True):
            descr = v0_5.ModelDescr(
                name=name,
                description=description or f"DaCapo {type(_inner(network)).__name__} exported by napari-dacapo",
                authors=[v0_5.Author(name=a) for a in authors],
                cite=citations,
                license=license,
                documentation=v0_5.FileDescr(source=tmp / "README.md"),
                covers=[v0_5.FileDescr(source=tmp / "cover.png")],
                tags=["napari-dacapo", "dacapo", "unet", f"{network.dims}d", "pytorch", "electron-microscopy"],
                inputs=[
                    v0_5.InputTensorDescr(
                        id=v0_5.TensorId("raw"),
                        axes=in_axes,
                        test_tensor=v0_5.FileDescr(source=tmp / "test_input.npy"),
                        data=v0_5.IntervalOrRatioDataDescr(type="uint8"),
                        **({"pad": v0_5.ConstantPadding()} if halo else {}),
                        preprocessing=[
                            v0_5.EnsureDtypeDescr(kwargs=v0_5.EnsureDtypeKwargs(dtype="float32")),
                            v0_5.ScaleLinearDescr(kwargs=v0_5.ScaleLinearKwargs(gain=gain, offset=offset)),
                            # the model gets float32 (without it, the spec casts back to data.type)
                            v0_5.EnsureDtypeDescr(kwargs=v0_5.EnsureDtypeKwargs(dtype="float32")),
                        ],
                    )
                ],
                outputs=[
                    v0_5.OutputTensorDescr(
                        id=v0_5.TensorId("prediction"),
                        axes=out_axes,
                        test_tensor=v0_5.FileDescr(source=tmp / "test_output.npy"),
                    )
                ],
                weights=v0_5.WeightsDescr(
                    pytorch_state_dict=v0_5.PytorchStateDictWeightsDescr(
                        source=tmp / "weights.pt",
                        architecture=v0_5.ArchitectureFromLibraryDescr(
                            callable=v0_5.Identifier("dacapo_network"),
                            import_from="napari_dacapo.export.model",
                            kwargs=kwargs,
                        ),
                        pytorch_version=torch_version,
                    ),
                    torchscript=v0_5.TorchscriptWeightsDescr(
                        source=tmp / "weights_torchscript.pt",
                        pytorch_version=torch_version,
                        parent="pytorch_state_dict",
                    ),
                ),
            )
        partial = out_zip.with_name(out_zip.name + ".partial.zip")
        save_bioimageio_package(descr, output_path=partial)
        partial.replace(out_zip)
    return out_zip
