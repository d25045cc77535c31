"""The GPU check (see gpu_check.sh). ``--device cpu --small`` runs the same steps on tiny
volumes on the CPU, to check the script itself where there is no GPU."""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from bench_predict import make_config  # noqa: E402

from napari_dacapo import plan_prediction, predict  # noqa: E402
from napari_dacapo.architectures import CNNectomeUNetConfig  # noqa: E402
from napari_dacapo.tiling.forward import AUTOCAST_TOLERANCE, on_device  # noqa: E402

# dense tensor-core peaks (TFLOP/s) by device name; GPU_PEAK_TFLOPS overrides
PEAKS_BF16 = {"H200": 989, "H100": 989, "A100": 312, "L40S": 362, "A10": 125, "RTX 4090": 165}


def cosem_config(tile: int, small: bool = False) -> CNNectomeUNetConfig:
    """A COSEM-sized net: 12 feature maps, ×6 per level, downsampling 2, 3, 3, upsampling ×2
    (``small``: 2 feature maps, ×2, the same shapes: for the CPU check of this script)."""
    return CNNectomeUNetConfig(
        name="cosem_sized",
        input_shape=(216, 216, 216),
        fmaps_out=4 if small else 72,
        fmaps_in=1,
        num_fmaps=2 if small else 12,
        fmap_inc_factor=2 if small else 6,
        downsample_factors=[(2, 2, 2), (3, 3, 3), (3, 3, 3)],
        upsample_factors=[(2, 2, 2)],
        eval_shape_increase=(tile - 216,) * 3,
    )


def network(config):
    torch.manual_seed(0)
    return config.architecture_type(config).eval()


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def flops_per_output_voxel(net, tile) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.empty((1, 1, *tile), device="meta")
    meta = net.to("meta")
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        y = meta(x)
    return counter.get_total_flops() / float(np.prod(y.shape[2:]))


class Utilisation:
    """GPU busy fraction sampled every 50 ms (torch.cuda.utilization, through NVML when there)."""

    def __init__(self, device):
        self.device, self.samples, self.stop = device, [], threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop.wait(0.05):
            try:
                self.samples.append(torch.cuda.utilization(self.device))
            except Exception:  # no NVML: no samples
                return

    def __enter__(self):
        if self.device.type == "cuda":
            self.thread.start()
        return self

    def __exit__(self, *_):
        self.stop.set()

    def text(self):
        return f"{np.mean(self.samples):.0f} %" if self.samples else "n/a (no NVML)"


def model_alone(net, tile, batch, passes, device, dtype):
    """Output voxels/s of forward passes on ``tile`` (the engine's set-up), timed after a warm-up."""
    x = torch.rand((batch, 1, *tile), device=device)
    with on_device(net, device), torch.inference_mode():
        for _repeat in range(2):
            sync(device)
            start = time.perf_counter()
            for _ in range(passes):
                with torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32):
                    y = net(x)
            sync(device)
            seconds = time.perf_counter() - start
    return passes * y[0, 0].numel() * batch / seconds


def engine(net, volume, device, dtype):
    name = {torch.float32: "float32", torch.bfloat16: "bfloat16"}[dtype]
    predict(net, volume[: volume.shape[0] // 2], device=device, dtype=name)  # warm-up (cudnn.benchmark)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    sync(device)
    with Utilisation(device) as busy:
        start = time.perf_counter()
        out = predict(net, volume, device=device, dtype=name)
        sync(device)
        seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else float("nan")
    return out, out[0].size / seconds, busy.text(), peak


def check(label, config, size, device, peak_tflops):
    net = network(config)
    volume = np.random.default_rng(0).integers(0, 256, (size,) * 3, dtype=np.uint8)
    plan = plan_prediction(net, volume.shape)
    tile = tuple(plan.grid.tile_shape)
    print(f"\n## {label}: {size}³ uint8 volume, tiles of {tile} ({len(plan.tiles)} tiles)")
    # correctness: tiled vs one whole-image pass on the device (valid padding: no border
    # effects), on the largest cube of the volume the network takes whole (at most two tiles)
    side = max(s for s in range(1, min(size, 2 * tile[0]) + 1) if net.geometry.is_valid_input((s,) * 3))
    small = volume[:side, :side, :side]
    tiled = predict(net, small, pad="valid", device=device)
    with on_device(net, device), torch.inference_mode():
        x = torch.from_numpy(small.astype(np.float32) / 255)[None, None].to(device)
        whole = net(x)[0].float().cpu().numpy()
        with torch.autocast(device.type, dtype=torch.bfloat16):
            whole_bf16 = net(x)[0].float().cpu().numpy()
    shape = tuple(min(a, b) for a, b in zip(tiled.shape, whole.shape, strict=True))
    crop = tuple(slice(0, s) for s in shape)
    scale = max(1.0, float(np.abs(whole).max()))
    print(f"tiled vs whole, fp32: max |Δ| {np.abs(tiled[crop] - whole[crop]).max():.2e} (scale {scale:.3g})")
    tiled_bf16 = predict(net, small, pad="valid", device=device, dtype="bfloat16")
    error = np.abs(tiled_bf16[crop] - whole[crop]).max() / scale
    print(
        f"bf16 vs fp32: tiled {error:.2e}, whole-image bf16 {np.abs(whole_bf16 - whole).max() / scale:.2e} "
        f"(tolerance {AUTOCAST_TOLERANCE[torch.bfloat16]:g} of the scale)"
    )
    flops = flops_per_output_voxel(network(config), tile)
    for dtype in (torch.float32, torch.bfloat16):
        _out, engine_rate, busy, memory = engine(net, volume, device, dtype)
        alone = model_alone(net, tile, 1, max(2, len(plan.tiles)), device, dtype)
        share = ""
        if peak_tflops:
            share = f", {engine_rate * flops / (peak_tflops * 1e12) * 100:.1f} % of the bf16 peak"
        print(
            f"{str(dtype).removeprefix('torch.')}: engine {engine_rate / 1e6:.1f} M voxels/s, model alone "
            f"{alone / 1e6:.1f} M voxels/s, ratio {engine_rate / alone:.2f}; {flops / 1e6:.3g} MFLOP per output "
            f"voxel{share}; GPU busy {busy}; peak memory {memory:.1f} GiB"
        )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--small", action="store_true", help="tiny volumes and tiles (a CPU check of the script)")
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("no CUDA device here: nothing to check (run it on a GPU machine)")
        return 2
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    peak = float(os.environ.get("GPU_PEAK_TFLOPS", 0)) or next((v for k, v in PEAKS_BF16.items() if k in name), 0)
    print(f"# napari-dacapo GPU check on {name}, torch {torch.__version__}")
    started = time.perf_counter()
    if args.small:
        check("benchmark net", make_config("valid", 68), 96, device, peak)
        check("COSEM-sized net (small)", cosem_config(216, small=True), 220, device, peak)
    else:
        check("benchmark net", make_config("valid", 260), 512, device, peak)
        check("COSEM-sized net", cosem_config(324), 600, device, peak)
    print(f"\n{time.perf_counter() - started:.0f} s in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
