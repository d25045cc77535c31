"""``napari-dacapo predict --demo``: the bundled sample volume and demo model, end to end."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

DEMO_MARKER = "napari_dacapo_demo"
"""Root attribute of a container that ``predict --demo`` wrote: a later ``--demo`` may rewrite it."""


def predict_demo(args: argparse.Namespace, predict: Callable[[argparse.Namespace], int]) -> int:
    """``predict --demo OUT.zarr``: the sample volume into OUT.zarr/raw, the demo model's
    prediction into OUT.zarr/membranes (through ``predict``, the normal command)."""
    from .networks import demo_model
    from .sample_data import SAMPLE_VOXEL_SIZE, synthetic_em

    container = args.demo
    if not str(container).endswith((".zarr", ".zarr/")):
        raise ValueError(f"--demo {container!r}: expected a path ending in .zarr")
    root = _demo_container(Path(container))
    em = synthetic_em((64, 128, 128), seed=0)
    raw = root.create_array("raw", shape=em.raw.shape, chunks=(64, 64, 64), dtype="uint8", overwrite=True)
    raw[:] = em.raw
    raw.attrs.update({"voxel_size": [SAMPLE_VOXEL_SIZE] * 3, "offset": [0, 0, 0], "axis_names": ["z", "y", "x"]})
    model = demo_model(3)
    args.config, args.weights = str(model.config_path), str(model.weights_path)
    args.input, args.output, args.demo, args.overwrite = f"{container}/raw", f"{container}/membranes", None, True
    return predict(args)


def _demo_container(path: Path) -> Any:
    """The zarr group for ``--demo``: a new one, or one an earlier ``--demo`` wrote (it is
    rewritten). Anything else at ``path`` is refused and left as it is."""
    import zarr

    if path.exists() and not _is_empty_folder(path) and not _is_demo_container(path):
        raise FileExistsError(f"--demo {path}: exists and is not a container that --demo wrote; choose another path")
    root = zarr.open_group(store=str(path), mode="a")
    root.attrs[DEMO_MARKER] = 1
    return root


def _is_empty_folder(path: Path) -> bool:
    return path.is_dir() and not any(path.iterdir())


def _is_demo_container(path: Path) -> bool:
    import zarr

    if not path.is_dir():
        return False
    try:
        return DEMO_MARKER in zarr.open_group(store=str(path), mode="r").attrs
    except Exception:  # not a zarr group (zarr raises several kinds): not ours
        return False
