"""Train the bundled demo models: membrane (boundary) detectors on synthetic EM.

    python scripts/train_demo_model.py            # both, writes src/napari_dacapo/demo_models/
    python scripts/train_demo_model.py --dims 3   # only the 3D one

Reproducible: fixed seeds for the data (napari_dacapo.sample_data.synthetic_em, seeds 1-4;
the sample layers use seed 0, so the demo is shown on an image it never saw), for torch, and
one CPU thread order (torch.use_deterministic_algorithms). Takes a few minutes on 2 CPU cores.

The model is a DaCapo CNNectomeUNet followed by a 1x1 prediction head, as a DaCapo run
trains it; the checkpoint is written in DaCapo's run-checkpoint layout ({"model": state dict
with "architecture." and "prediction_head." names}), so it loads like a DaCapo checkpoint.
The target is the drawn membrane mask (1 on membranes, 0 elsewhere), the loss the mean
squared error, so predictions read as a membrane probability, roughly in [0, 1].
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from funlib.geometry import Coordinate

from napari_dacapo.architectures import CNNectomeUNet, CNNectomeUNetConfig
from napari_dacapo.io import save_config
from napari_dacapo.io.checkpoints import ArchitectureWithHead
from napari_dacapo.sample_data import synthetic_em
from napari_dacapo.tiling import predict

OUT = Path(__file__).resolve().parents[1] / "src" / "napari_dacapo" / "demo_models"

SETTINGS = {
    3: dict(volume=(80, 128, 128), input_shape=(60, 60, 60), eval_increase=(48, 48, 48), iterations=600, batch=2),
    2: dict(volume=(384, 384), input_shape=(132, 132), eval_increase=(128, 128), iterations=600, batch=8),
}


def demo_config(dims: int) -> CNNectomeUNetConfig:
    s = SETTINGS[dims]
    return CNNectomeUNetConfig(
        name=f"demo_membranes_{dims}d",
        input_shape=Coordinate(s["input_shape"]),
        eval_shape_increase=Coordinate(s["eval_increase"]),
        fmaps_in=1,
        fmaps_out=8,
        num_fmaps=8,
        fmap_inc_factor=2,
        downsample_factors=[Coordinate((2,) * dims)] * 2,
        constant_upsample=True,
        padding="valid",
    )


def random_crop(rng, volumes, input_shape: Coordinate, output_shape: Coordinate):
    raw, target = volumes[rng.integers(len(volumes))]
    start = [rng.integers(0, s - i + 1) for s, i in zip(raw.shape, input_shape, strict=True)]
    x = raw[tuple(slice(a, a + i) for a, i in zip(start, input_shape, strict=True))]
    margin = (input_shape - output_shape) // 2
    y = target[tuple(slice(a + m, a + m + o) for a, m, o in zip(start, margin, output_shape, strict=True))]
    for axis in range(x.ndim):  # flips
        if rng.random() < 0.5:
            x, y = np.flip(x, axis), np.flip(y, axis)
    order = rng.permutation(x.ndim) if len(set(input_shape)) == 1 else np.arange(x.ndim)
    return np.ascontiguousarray(x.transpose(order)), np.ascontiguousarray(y.transpose(order))


def train(dims: int) -> None:
    s = SETTINGS[dims]
    torch.manual_seed(dims)
    rng = np.random.default_rng(dims)
    volumes = []
    for seed in range(1, 5):
        em = synthetic_em(s["volume"], seed=seed)
        volumes.append((em.raw.astype(np.float32) / 255, em.membranes.astype(np.float32)))
    config = demo_config(dims)
    assert config.verify()[0], config.verify()
    unet = CNNectomeUNet(config)
    for module in unet.modules():  # He initialisation: deep ReLU stacks start with a live signal
        if isinstance(module, (torch.nn.Conv2d, torch.nn.Conv3d)):
            torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            torch.nn.init.zeros_(module.bias)
    head = {2: torch.nn.Conv2d, 3: torch.nn.Conv3d}[dims](config.fmaps_out, 1, 1)
    model = ArchitectureWithHead(unet, head)
    input_shape = config.input_shape
    output_shape = unet.output_shape(input_shape)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, s["iterations"])
    start = time.perf_counter()
    model.train()
    for iteration in range(1, s["iterations"] + 1):
        batch = [random_crop(rng, volumes, input_shape, output_shape) for _ in range(s["batch"])]
        x = torch.from_numpy(np.stack([b[0] for b in batch]))[:, None]
        y = torch.from_numpy(np.stack([b[1] for b in batch]))[:, None]
        loss = torch.nn.functional.mse_loss(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        if iteration % 50 == 0:
            print(f"{dims}D iteration {iteration}: loss {loss.item():.4f} ({time.perf_counter() - start:.0f} s)")

    model.eval()
    shown = synthetic_em((64, 128, 128) if dims == 3 else (256, 256), seed=0)  # the sample data
    prediction = predict(model, shown.raw, device="cpu")[0]
    found, truth = prediction > 0.5, shown.membranes
    precision = (found & truth).sum() / max(found.sum(), 1)
    recall = (found & truth).sum() / max(truth.sum(), 1)
    print(f"{dims}D on the sample image (seed 0): precision {precision:.3f}, recall {recall:.3f} at 0.5")

    OUT.mkdir(parents=True, exist_ok=True)
    save_config(config, OUT / f"{config.name}.yaml")
    state = {f"architecture.{k}": v for k, v in unet.state_dict().items()}
    state |= {f"prediction_head.{k}": v for k, v in head.state_dict().items()}
    torch.save({"model": state}, OUT / f"{config.name}.pt")
    print(f"wrote {OUT / config.name}.yaml/.pt ({(OUT / f'{config.name}.pt').stat().st_size / 1024:.0f} KiB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dims", type=int, choices=(2, 3), nargs="*", default=[3, 2])
    args = parser.parse_args()
    torch.use_deterministic_algorithms(True)
    for dims in args.dims:
        train(dims)


if __name__ == "__main__":
    main()
