"""The ``napari-dacapo`` command line.

Only what a command needs is imported, when it runs: ``--help`` and ``info CONFIG`` load no
torch, zarr or dask.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from .cli_runs import add_label_options, add_run_options
from .networks import example_config_paths


def _info(args: argparse.Namespace) -> int:
    from .cli_runs import is_run, run_info
    from .networks import resolve_config
    from .summary import summarize, summarize_config

    if is_run(args.config):
        print(run_info(args))
        return 0
    config = resolve_config(args.config)
    if args.weights:
        from .networks import build_network

        print(summarize(build_network(config, args.weights), config.name))
    else:
        print(summarize_config(config))
    return 0


def _parse_roi(text: str | None) -> tuple[tuple[int, int], ...] | None:
    if text is None:
        return None
    try:
        bounds = [tuple(int(v) for v in part.split(":")) for part in text.split(",")]
    except ValueError:
        raise ValueError(f"--roi {text!r}: expected start:stop per axis, e.g. 0:64,0:128,0:128") from None
    if any(len(b) != 2 or b[1] <= b[0] for b in bounds):
        raise ValueError(f"--roi {text!r}: expected ranges start:stop with stop > start")
    return tuple((b[0], b[1]) for b in bounds)


def _parse_numbers(text: str | None, kind: Callable[[str], Any], option: str) -> tuple | None:
    if text is None:
        return None
    try:
        return tuple(kind(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"{option} {text!r}: expected comma-separated numbers") from None


def _predict(args: argparse.Namespace) -> int:
    import shlex

    from .blockwise import RunSpec, run_blockwise

    if args.demo:
        from .cli_demo import predict_demo

        return predict_demo(args, _predict)
    if not (args.config and args.input and args.output):
        raise ValueError("predict needs CONFIG, --input and --output (or --demo OUT.zarr)")
    from .cli_runs import is_run, labels_rule, run_predict_values, write_run_labels

    run_values = run_predict_values(args) if is_run(args.config) else None
    if run_values is not None and args.labels is not None:
        labels_rule(args, run_values["run"])  # a bad --threshold/--bias: said before anything is written
    if run_values is None and (args.labels is not None or args.iteration is not None):
        raise ValueError("--labels and --iteration need a DaCapo run (a store, run folder or run config)")
    if run_values is None and not args.weights:
        print("napari-dacapo: warning: no --weights, predicting with random weights", file=sys.stderr)
    value_range = _parse_numbers(args.value_range, float, "--value-range") or (0.0, 1.0)
    if len(value_range) != 2:
        raise ValueError(f"--value-range {args.value_range!r}: expected LOW,HIGH")
    run = run_values.pop("run", None) if run_values else None
    iteration = run_values.pop("iteration", None) if run_values else None
    network = run_values or {"config": args.config, "weights": args.weights}
    spec = RunSpec.create(
        **network,
        input=args.input,
        output=args.output,
        roi=_parse_roi(args.roi),
        voxel_size=_parse_numbers(args.voxel_size, float, "--voxel-size"),
        pad=args.pad,
        block_shape=_parse_numbers(args.block_shape, int, "--block-shape"),
        dtype=args.dtype,
        value_range=value_range,
        batch_size=args.batch_size,
        precision=args.precision,
    )
    started = time.perf_counter()
    report = run_blockwise(
        spec,
        workers=args.workers,
        devices=tuple(d.strip() for d in args.devices.split(",") if d.strip()) or ("auto",),
        launcher=tuple(shlex.split(args.launcher)) if args.launcher else (),
        overwrite=args.overwrite,
        block_timeout=args.block_timeout,
    )
    earlier = f", {report.done_before} of them done by an earlier run" if report.done_before else ""
    seconds = time.perf_counter() - started
    voxels = math.prod(report.shape[1:]) * (1 - report.done_before / max(report.blocks, 1))
    rate = f", {voxels / seconds / 1e6:.2f} M output voxels/s" if seconds > 0 and voxels else ""
    print(
        f"wrote {args.output}: {report.shape}, voxel size {report.voxel_size}, offset {report.offset} "
        f"({_count(report.blocks, 'block')}{earlier}; {seconds:.1f} s{rate})"
        + (f"; run {run.name}, iteration {iteration}" if run is not None else "")
    )
    if run is not None and args.labels is not None:
        print(write_run_labels(args, run))
    return 0


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _worker(args: argparse.Namespace) -> int:
    from .blockwise import serve

    count = serve(args.output, args.device, threads=args.threads)
    print(f"napari-dacapo worker: {_count(count, 'block')} done", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The commands users see: ``info`` and ``predict`` (``worker`` is apart, see :func:`worker_parser`)."""
    parser = argparse.ArgumentParser(
        prog="napari-dacapo", description="DaCapo architectures: inspect, predict, export to bioimage.io."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    _add_info(commands)
    _add_predict(commands)
    _add_export_bioimageio(commands)
    return parser


def _export_bioimageio(args: argparse.Namespace) -> int:
    from .export.bioimageio import export_bioimageio

    path = export_bioimageio(
        args.network,
        args.out,
        weights=args.weights,
        name=args.name,
        authors=args.authors,
        description=args.description,
        cite=args.cite,
        license=args.license,
        overwrite=args.overwrite,
        halo=args.halo,
    )
    print(f"wrote {path}")
    return 0


def _add_export_bioimageio(commands: Any) -> None:
    export = commands.add_parser(
        "export-bioimageio",
        help="write a network as a bioimage.io model package (.zip)",
        description="Write NETWORK (a config file, a bundled example or demo name, or a DaCapo run folder; a demo "
        "uses its bundled weights, a run its latest checkpoint) as a bioimage.io 0.5 model package, with its "
        "exact valid input sizes, state-dict and TorchScript weights and test tensors predicted by napari-dacapo. "
        "Needs the bioimageio extra.",
    )
    export.add_argument("network", help="a DaCapo config file, a bundled example, a demo model name or a DaCapo run")
    export.add_argument("out", metavar="OUT.zip", help="the package to write")
    export.add_argument("--weights", help="a checkpoint (DaCapo run checkpoint or state dict)")
    export.add_argument("--name", help="the model's name (default: the config's name)")
    export.add_argument("--authors", help='the authors, separated by semicolons: "A; B" (required)')
    export.add_argument("--description", help="a one-line description")
    export.add_argument("--cite", help="a DOI or URL to cite besides DaCapo")
    export.add_argument("--license", default="CC-BY-4.0", help="an SPDX license id (default CC-BY-4.0)")
    export.add_argument("--overwrite", action="store_true", help="replace an existing OUT.zip")
    export.add_argument(
        "--halo",
        action="store_true",
        help="output as large as the input with the context as its halo, for bioimageio.core's own blocking "
        "(equal to predict --pad zero)",
    )
    export.set_defaults(run=_export_bioimageio)


def _add_info(commands: Any) -> None:
    info = commands.add_parser(
        "info",
        help="print a network's shapes, context and size",
        description="Print the summary of a config's network (without --weights, worked out from the config "
        "alone; with --weights, measured on the network with its weights loaded).",
    )
    info.add_argument(
        "config",
        help="a DaCapo config file (.yaml/.json), a DaCapo run (store or run folder), or a bundled example "
        f"({', '.join(sorted(example_config_paths()))})",
    )
    info.add_argument("--weights", help="a checkpoint to load (DaCapo run or state dict)")
    add_run_options(info, predict=False)
    info.set_defaults(run=_info)


def _add_predict(commands: Any) -> None:
    pred = commands.add_parser(
        "predict",
        help="predict a zarr dataset into an OME-Zarr image",
        description="Predict an input zarr dataset tile by tile and write the result as an OME-Zarr 0.5 "
        "image (OUTPUT, with its array in OUTPUT/s0) that carries both OME-Zarr metadata (read by napari, "
        "neuroglancer, Fiji/MoBIE) and funlib attributes (voxel_size, offset, axis_names: read by DaCapo, "
        "funlib.persistence, daisy), so each of them places the prediction on its input.",
    )
    pred.add_argument(
        "config", nargs="?", help="a DaCapo config file, a bundled example name, or a DaCapo run (store, run folder)"
    )
    add_run_options(pred)
    add_label_options(pred)
    pred.add_argument("--weights", help="a checkpoint (DaCapo run checkpoint or state dict)")
    pred.add_argument("--input", help="input dataset, CONTAINER.zarr/DATASET")
    pred.add_argument("--output", help="output image, CONTAINER.zarr/NAME (the array is NAME/s0)")
    pred.add_argument("--roi", help="only this part of the input, in voxels: z0:z1,y0:y1,x0:x1")
    pred.add_argument(
        "--voxel-size",
        help="the input's voxel size, z,y,x: picks this level of an OME-NGFF multiscale image",
    )
    pred.add_argument(
        "--pad",
        choices=("reflect", "zero", "valid"),
        default="reflect",
        help="how the image's border is handled: reflect (default) mirrors the image and zero adds zeros "
        "beyond its border, so that the output covers the whole input voxel for voxel; valid does not pad: the "
        "output is smaller by the network's context (half of it on each side), its offset placing it on the input",
    )
    pred.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes started through daisy (default 1: predict in this process)",
    )
    pred.add_argument(
        "--devices",
        "--device",
        default="auto",
        help="comma-separated devices, given to the workers round-robin: auto (cuda, mps, cpu), cpu, "
        "cuda:0,cuda:1, ...",
    )
    pred.add_argument(
        "--launcher",
        help="command that starts each worker, e.g. 'srun --gres=gpu:1' or 'bsub -I -gpu num=1': "
        "workers then run 'LAUNCHER python -m napari_dacapo worker OUTPUT --device D'",
    )
    pred.add_argument(
        "--block-shape",
        help="output voxels per block, z,y,x (rounded up to whole tiles; default one tile)",
    )
    pred.add_argument(
        "--batch-size",
        type=_batch_size,
        default="auto",
        help="tiles per forward pass in each worker; auto (default): on a CUDA GPU as many as fit in 60%% of "
        "its free memory (at most 16), 1 on a CPU or MPS; a batch that runs out of GPU memory is halved",
    )
    pred.add_argument(
        "--precision",
        choices=("float32", "bfloat16", "float16", "auto"),
        default="float32",
        help="compute precision (default float32); a lower one is kept only within 2%% (bfloat16) or 0.5%% "
        "(float16) of float32 on the first tile; auto: bfloat16 where the GPU or CPU computes it natively",
    )
    pred.add_argument(
        "--dtype",
        choices=("float32", "uint8"),
        default="float32",
        help="uint8 stores round((v - low) / (high - low) * 255), clipped (see --value-range)",
    )
    pred.add_argument(
        "--value-range",
        help="LOW,HIGH mapped to 0,255 by --dtype uint8 (default 0,1; write --value-range=-1,1 for a negative LOW)",
    )
    pred.add_argument("--block-timeout", type=float, default=3600.0, help="seconds before a block is retried")
    pred.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing output dataset (without it, only the same run's unfinished output is resumed)",
    )
    pred.add_argument(
        "--demo",
        metavar="OUT.zarr",
        help="write the bundled sample volume to OUT.zarr/raw and predict it with the demo model "
        "into OUT.zarr/membranes; run again, it rewrites the OUT.zarr it wrote (a path it did not write is refused)",
    )
    pred.set_defaults(run=_predict)


def worker_parser() -> argparse.ArgumentParser:
    """``napari-dacapo worker``: what ``predict --workers/--launcher`` starts on each worker.

    Not a command of :func:`build_parser`, so that neither ``--help`` nor the message for an
    unknown command lists it (a subcommand's ``help=SUPPRESS`` prints "==SUPPRESS==" there)."""
    worker = argparse.ArgumentParser(
        prog="napari-dacapo worker",
        description="Predict the blocks a running 'napari-dacapo predict' hands out; the scheduler's "
        "address comes from $DAISY_CONTEXT. Started for you by --workers/--launcher.",
    )
    worker.add_argument("output", help="the run's output dataset, CONTAINER.zarr/DATASET")
    worker.add_argument("--device", default="auto")
    worker.add_argument("--threads", type=int, help="CPU threads for torch")
    worker.set_defaults(run=_worker)
    return worker


def _batch_size(text: str) -> int | str:
    if text == "auto":
        return text
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a positive integer or auto")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    try:
        try:
            return _run(argv)
        finally:
            sys.stdout.flush()  # inside the try: a reader that has gone (``| head``) is seen here
    except BrokenPipeError:
        _discard_stdout()
        return 1


def _run(argv: Sequence[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["worker"]:
        args = worker_parser().parse_args(argv[1:])
    else:
        args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print("napari-dacapo: interrupted", file=sys.stderr)
        return 130
    except _blockwise_errors("RunInterrupted") as error:
        print(f"napari-dacapo: {error}", file=sys.stderr)
        return 130
    except _blockwise_errors("RunIncomplete") as error:
        print(f"napari-dacapo: error: {error}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        raise
    except (ValueError, KeyError, OSError, MemoryError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"napari-dacapo: error: {message}", file=sys.stderr)
        return 1


def _blockwise_errors(*names: str) -> tuple[type[BaseException], ...]:
    """The blockwise driver's exceptions ``names``, if a command has imported the driver (they
    cannot be raised otherwise): importing it to name them would load torch for ``--help``."""
    driver = sys.modules.get("napari_dacapo.blockwise.driver")
    return tuple(getattr(driver, name) for name in names) if driver is not None else ()


def _discard_stdout() -> None:
    """Point stdout at devnull once its reader has gone, so that Python's flush at exit does
    not report the broken pipe (the recipe of the docs of :mod:`signal`)."""
    with contextlib.suppress(OSError, ValueError):  # a stdout without a file descriptor (tests)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


if __name__ == "__main__":
    sys.exit(main())
