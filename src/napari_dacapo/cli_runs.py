"""The command line's side of DaCapo runs: ``info RUN``, ``predict RUN --iteration N`` and
``--labels``. A run is a DaCapo file store folder (with ``--run NAME`` when it holds several),
a run's folder, or a run config file."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = [
    "add_label_options",
    "add_run_options",
    "is_run",
    "labels_rule",
    "run_info",
    "run_predict_values",
    "write_run_labels",
]


def add_run_options(parser: argparse.ArgumentParser, predict: bool = True) -> None:
    parser.add_argument("--run", dest="run_name", metavar="NAME", help="the run, in a DaCapo store of several runs")
    parser.add_argument(
        "--iteration",
        help="the checkpoint of a DaCapo run: a number, latest (default) or best (what validation chose)",
    )
    if predict:
        parser.add_argument(
            "--normalisation",
            choices=("datasplit", "dtype"),
            default="datasplit",
            help="a DaCapo run's input: datasplit (default: as the run's raw data was in training) or dtype "
            "(integers divided by their type's maximum, as dacapo.predict does)",
        )


def add_label_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--labels",
        nargs="?",
        const="",
        metavar="DATASET",
        help="also write the task's labels (threshold, argmax or mutex watershed; instances joined across blocks) "
        "into CONTAINER.zarr/DATASET (default: OUTPUT_labels)",
    )
    parser.add_argument("--threshold", type=float, help="labels: the threshold (distance tasks, default 0)")
    parser.add_argument("--bias", type=float, help="labels: the watershed bias (affinities tasks, default 0.5)")
    parser.add_argument("--label-channel", type=int, default=0, help="labels: the channel to threshold (default 0)")
    parser.add_argument("--label-block", help="labels: the label block, z,y,x output voxels (default 64³ or 256²)")


def is_run(source: str | None) -> bool:
    if not source:
        return False
    from .runs import is_run_source

    return is_run_source(source)


def _open(args: argparse.Namespace):
    from .runs import open_run

    return open_run(args.config, getattr(args, "run_name", None))


def run_info(args: argparse.Namespace) -> str:
    """What ``info RUN`` prints: the task, channels, normalisation, iterations and network."""
    from .summary import summarize_config

    run = _open(args)
    task = run.task
    saved = run.iterations()
    best = run.best_summary() or "none recorded"
    post = task.post_processor
    parameter = ""
    if post.parameter:
        parameter = f" ({post.parameter} {post.default:g}, range {post.minimum:g}…{post.maximum:g})"
    normalisation = run.normalisation.describe() if run.normalisation else f"unknown: {run.normalisation_problem}"
    lines = [
        f"run {run.name}: {run.files.config_path}",
        f"  task: {task.type_name}; head {task.out_channels} channels, kernel {task.head_kernel}; "
        f"activation {task.activation or 'none'}",
        f"  channels: {', '.join(task.channels)}",
        f"  labels: {post.kind}{parameter}",
        f"  input normalisation: {normalisation}",
        f"  output voxel size: {_output_voxels(run.architecture_config)}",
        f"  iterations: {', '.join(map(str, saved)) or 'none saved'}; best: {best}",
    ]
    if task.pretrained_weights:
        lines.append(f"  pretrained weights: {task.pretrained_weights}")
    return "\n".join(lines) + "\n" + str(summarize_config(run.architecture_config))


def _output_voxels(config: Any) -> str:
    geometry = config.geometry() if hasattr(config, "geometry") else None
    up = tuple(geometry.total_upsample) if geometry is not None else ()
    return f"the input's ÷ {' × '.join(map(str, up))} (super-resolution)" if any(u != 1 for u in up) else "the input's"


def run_predict_values(args: argparse.Namespace) -> dict[str, Any]:
    """The :class:`~napari_dacapo.blockwise.RunSpec` values of ``predict RUN``: the run config,
    the chosen checkpoint and the normalisation (the driver loads the model once, before it
    writes anything: a checkpoint that does not fit is refused there)."""
    run = _open(args)
    number, path = run.checkpoint_path(args.iteration)
    run.input_normalisation(args.normalisation)  # an unsupported raw array: said now
    return {
        "config": str(run.files.config_path),
        "weights": str(path),
        "dacapo_run": True,
        "normalisation": args.normalisation,
        "iteration": number,
        "run": run,
    }


def labels_rule(args: argparse.Namespace, run: Any):
    """The label rule ``predict --labels`` asks for, checked before anything is written."""
    from .labels import label_rule

    post = run.task.post_processor
    if post.kind == "none":
        raise ValueError(f"run {run.name!r}: its {run.task.kind} task has no post-processor, so no --labels")
    value = args.threshold if post.kind == "threshold" else args.bias if post.kind == "watershed" else None
    if post.kind == "threshold" and args.bias is not None or post.kind == "watershed" and args.threshold is not None:
        raise ValueError(f"the {post.kind} post-processor takes --{post.parameter}, not the other option")
    if post.kind == "threshold" and not 0 <= args.label_channel < run.task.out_channels:
        raise ValueError(f"--label-channel {args.label_channel}: the task has channels 0…{run.task.out_channels - 1}")
    return label_rule(post, value, args.label_channel)


def write_run_labels(args: argparse.Namespace, run: Any) -> str:
    """Write the labels of ``predict --labels``; the line to print."""
    from .blockwise.labels import write_labels

    rule = labels_rule(args, run)
    output = args.labels or f"{args.output.rstrip('/')}_labels"
    block = tuple(int(v) for v in args.label_block.split(",")) if args.label_block else None
    workers = 1 if args.launcher else args.workers  # label passes: local daisy workers
    report = write_labels(args.output, output, rule, block=block, overwrite=args.overwrite, workers=workers)
    objects = f", {report.objects} objects" if report.objects is not None else ""
    return f"wrote {output}: labels by {rule.kind}{objects} ({report.blocks} label blocks)"
