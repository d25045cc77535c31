"""The ``napari-dacapo`` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .examples import example_config, example_config_paths


def _load_config(spec: str):
    from .io import load_config

    if spec in example_config_paths():
        return example_config(spec)
    from .demo import demo_models

    if spec in demo_models():
        return demo_models()[spec].load()[0]
    return load_config(spec)


def _info(args: argparse.Namespace) -> int:
    from .summary import summarize, summarize_config

    config = _load_config(args.config)
    if args.weights:
        from .io import load_weights

        valid, reason = config.verify()
        if not valid:
            raise ValueError(f"config {config.name!r} does not verify: {reason}")
        network = load_weights(config.architecture_type(config), args.weights)
        print(summarize(network, config.name))
    else:
        print(summarize_config(config))
    return 0


def _parse_roi(text: str | None, dims: int):
    from funlib.geometry import Coordinate, Roi

    if text is None:
        return None
    try:
        bounds = [tuple(int(v) for v in part.split(":")) for part in text.split(",")]
    except ValueError:
        raise ValueError(f"--roi {text!r}: expected start:stop per axis, e.g. 0:64,0:128,0:128") from None
    if len(bounds) != dims or any(len(b) != 2 or b[1] <= b[0] for b in bounds):
        raise ValueError(f"--roi {text!r}: expected {dims} ranges start:stop with stop > start")
    return Roi(Coordinate(b[0] for b in bounds), Coordinate(b[1] - b[0] for b in bounds))


def _predict(args: argparse.Namespace) -> int:
    import numpy as np
    from tqdm import tqdm

    from .io import load_weights
    from .io.zarr_arrays import create_output, mark_complete, open_dataset, output_corner
    from .tiling import check_image, plan_prediction, predict

    if args.demo:
        return _predict_demo(args)
    if not (args.config and args.input and args.output):
        raise ValueError("predict needs CONFIG, --input and --output (or --demo OUT.zarr)")
    config = _load_config(args.config)
    valid, reason = config.verify()
    if not valid:
        raise ValueError(f"config {config.name!r} does not verify: {reason}")
    network = config.architecture_type(config)
    if args.weights:
        network = load_weights(network, args.weights)
    else:
        print("napari-dacapo: warning: no --weights, predicting with random weights", file=sys.stderr)
    dims = network.dims
    source = open_dataset(args.input, dims)
    image = source.array
    channel_axis = check_image(network, image)
    spatial = image.shape[1:] if channel_axis else image.shape
    roi = _parse_roi(args.roi, dims)
    offset = source.offset
    if roi is not None:
        from funlib.geometry import Coordinate, Roi

        roi = roi.intersect(Roi((0,) * dims, Coordinate(spatial)))
        if roi.empty:
            raise ValueError(f"--roi lies outside the input (shape {tuple(spatial)})")
        box = roi.to_slices()
        image = image[(slice(None), *box) if channel_axis else box]
        spatial = image.shape[1:] if channel_axis else image.shape
        offset = tuple(o + b * v for o, b, v in zip(offset, roi.begin, source.voxel_size, strict=True))
    plan = plan_prediction(network, spatial, args.pad)
    voxel_size, corner = output_corner(plan, offset, source.voxel_size)
    shape = (network.num_out_channels, *plan.output_shape)
    chunks = (1, *(min(s, int(c)) for s, c in zip(plan.output_shape, plan.grid.tile_output_shape, strict=True)))
    axis_names = ["c^", *(["z", "y", "x"][-dims:])]
    out = create_output(args.output, shape, chunks, voxel_size, corner, axis_names, args.overwrite)
    with tqdm(desc=f"{config.name} → {args.output}", unit="tile") as bar:
        predict(network, image, pad=args.pad, device=args.device, batch_size=args.batch_size, out=out, progress=bar)
    mark_complete(out, config=config.name, input=str(args.input), weights=str(args.weights))
    values = np.asarray(out[(slice(None),) + tuple(slice(0, 1) for _ in range(dims))])
    print(
        f"wrote {args.output}: {shape}, voxel size {voxel_size}, offset {corner} (first value {values.ravel()[0]:.3f})"
    )
    return 0


def _predict_demo(args: argparse.Namespace) -> int:
    import zarr

    from .demo import demo_model
    from .sample_data import SAMPLE_VOXEL_SIZE, synthetic_em

    container = args.demo
    if not str(container).endswith((".zarr", ".zarr/")):
        raise ValueError(f"--demo {container!r}: expected a path ending in .zarr")
    root = zarr.open_group(store=str(container), mode="a")
    if "raw" in root and not args.overwrite:
        raise FileExistsError(f"{container}/raw exists: pass --overwrite to replace it")
    em = synthetic_em((64, 128, 128), seed=0)
    raw = root.create_array("raw", shape=em.raw.shape, chunks=(64, 64, 64), dtype="uint8", overwrite=True)
    raw[:] = em.raw
    raw.attrs.update({"voxel_size": [SAMPLE_VOXEL_SIZE] * 3, "offset": [0, 0, 0], "axis_names": ["z", "y", "x"]})
    model = demo_model(3)
    args.config, args.weights = str(model.config_path), str(model.weights_path)
    args.input, args.output, args.demo, args.overwrite = f"{container}/raw", f"{container}/membranes", None, True
    return _predict(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="napari-dacapo", description="DaCapo architectures: inspect and predict.")
    commands = parser.add_subparsers(dest="command", required=True)
    info = commands.add_parser(
        "info",
        help="print a network's shapes, context and size",
        description="Build the network of a config and print its summary.",
    )
    info.add_argument(
        "config",
        help="a DaCapo config file (.yaml/.json) or the name of a bundled example "
        f"({', '.join(sorted(example_config_paths()))})",
    )
    info.add_argument("--weights", help="a checkpoint to load (DaCapo run or state dict)")
    info.set_defaults(run=_info)

    pred = commands.add_parser(
        "predict",
        help="predict a zarr dataset into a zarr dataset",
        description="Predict an input zarr dataset tile by tile and write the result, with its voxel "
        "size, offset and axis names, into a zarr dataset that napari and neuroglancer place correctly.",
    )
    pred.add_argument("config", nargs="?", help="a DaCapo config file or a bundled example name")
    pred.add_argument("--weights", help="a checkpoint (DaCapo run checkpoint or state dict)")
    pred.add_argument("--input", help="input dataset, CONTAINER.zarr/DATASET")
    pred.add_argument("--output", help="output dataset, CONTAINER.zarr/DATASET")
    pred.add_argument("--roi", help="only this part of the input, in voxels: z0:z1,y0:y1,x0:x1")
    pred.add_argument("--pad", choices=("reflect", "zero", "valid"), default="reflect")
    pred.add_argument("--device", default="auto", help="auto (cuda, mps, cpu), cpu, cuda:0, ...")
    pred.add_argument("--batch-size", type=lambda v: v if v == "auto" else int(v), default="auto")
    pred.add_argument("--overwrite", action="store_true", help="replace an existing output dataset")
    pred.add_argument(
        "--demo",
        metavar="OUT.zarr",
        help="write the bundled sample volume to OUT.zarr/raw and predict it with the demo model "
        "into OUT.zarr/membranes",
    )
    pred.set_defaults(run=_predict)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print("napari-dacapo: interrupted", file=sys.stderr)
        return 130
    except (ValueError, KeyError, OSError, MemoryError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"napari-dacapo: error: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
