"""Speed and memory of the tiling engine, measured side by side in one run.

    python benchmarks/bench_predict.py [--size 256] [--tile 124] [--device auto]

Prints: the pure model cost (one forward pass on the largest tile), this engine on a SIZE^3
volume and its ratio to the model cost, MONAI's sliding_window_inference on the same-padding
twin of the network (overlap 0.25, gaussian) and the throughput ratio, and the peak RSS of a
zarr-to-zarr prediction for two volume sizes (each in a fresh process). Needs the
``benchmark`` extra (monai, psutil).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import zarr

from napari_dacapo import predict
from napari_dacapo.architectures import CNNectomeUNetConfig


def make_config(padding: str, tile: int) -> CNNectomeUNetConfig:
    return CNNectomeUNetConfig(
        name=f"bench_{padding}",
        input_shape=(44, 44, 44),
        fmaps_out=4,
        fmaps_in=1,
        num_fmaps=8,
        fmap_inc_factor=2,
        downsample_factors=[(2, 2, 2), (2, 2, 2)],
        eval_shape_increase=(tile - 44,) * 3,
        padding=padding,
    )


def build(padding: str, tile: int):
    torch.manual_seed(0)
    config = make_config(padding, tile)
    assert config.verify()[0], config.verify()
    return config.architecture_type(config).eval()


def timed(fn, repeat=1):
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def memory_run(size: int, tile: int, workdir: Path) -> float:
    """Peak RSS (MiB) of predicting a size^3 zarr volume into a zarr store, in a fresh process."""
    code = f"""
import resource, zarr, numpy as np, sys
sys.path.insert(0, {str(Path(__file__).parent)!r})
from bench_predict import build
from napari_dacapo import predict
net = build("valid", {tile})
src = zarr.open_array({str(workdir / f"in{size}.zarr")!r}, mode="r")
out = zarr.open_array({str(workdir / f"out{size}.zarr")!r}, mode="w", shape=(4,) + src.shape,
                      chunks=(4, 64, 64, 64), dtype="f4")
predict(net, src, out=out, device="cpu", batch_size=1)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""
    source = zarr.open_array(workdir / f"in{size}.zarr", mode="w", shape=(size,) * 3, chunks=(64,) * 3, dtype="u1")
    for z in range(0, size, 64):
        source[z : z + 64] = np.random.default_rng(z).integers(0, 256, (min(64, size - z), size, size), dtype=np.uint8)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--tile", type=int, default=124)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--memory-sizes", default="192,320")
    parser.add_argument("--skip-monai", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(torch.get_num_threads())
    from napari_dacapo.tiling import resolve_device

    device = resolve_device(args.device)
    valid = build("valid", args.tile).to(device)
    tile = (args.tile,) * 3
    x = torch.rand(1, 1, *tile, device=device)
    with torch.inference_mode():
        valid(x)  # warm-up
        model_s = timed(lambda: valid(x), repeat=2)
        out_tile = valid(x).shape[2:]
    model_rate = np.prod(out_tile) / model_s
    image = np.random.default_rng(0).random((args.size,) * 3, dtype=np.float32)
    engine_s = timed(lambda: predict(valid, image, pad="reflect", device=device, batch_size=1))
    engine_rate = args.size**3 / engine_s
    rows = {
        "device": str(device),
        "threads": torch.get_num_threads(),
        "tile": f"{args.tile}^3 -> {out_tile[0]}^3",
        "model_voxels_per_s": model_rate,
        "engine_voxels_per_s": engine_rate,
        "engine_over_model": engine_rate / model_rate,
    }
    if not args.skip_monai:
        from monai.inferers import sliding_window_inference

        same = build("same", args.tile).to(device)
        same.load_state_dict(valid.state_dict())
        volume = torch.from_numpy(image)[None, None]

        def monai():
            with torch.inference_mode():
                sliding_window_inference(
                    volume,
                    roi_size=tile,
                    sw_batch_size=1,
                    predictor=same,
                    overlap=0.25,
                    mode="gaussian",
                    sw_device=device,
                    device="cpu",
                )

        monai_s = timed(monai)
        rows["monai_voxels_per_s"] = args.size**3 / monai_s
        rows["engine_over_monai"] = engine_rate / rows["monai_voxels_per_s"]
    with tempfile.TemporaryDirectory() as tmp:
        for size in (int(s) for s in args.memory_sizes.split(",")):
            rows[f"peak_rss_MiB_zarr_{size}^3"] = memory_run(size, args.tile, Path(tmp))
    print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
