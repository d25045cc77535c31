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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print("napari-dacapo: interrupted", file=sys.stderr)
        return 130
    except (ValueError, KeyError, OSError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"napari-dacapo: error: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
