"""Which torch devices exist here, and which device and precision "auto" mean."""

from __future__ import annotations

import torch


def available_devices() -> dict[str, str]:
    """Device names with a human description: cuda:N (with the card's name), mps, cpu."""
    devices = {}
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            devices[f"cuda:{i}"] = f"cuda:{i} ({torch.cuda.get_device_name(i)})"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        devices["mps"] = "mps (Apple GPU)"
    devices["cpu"] = "cpu"
    return devices


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` is the first of cuda, mps, cpu that is available."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device(next(iter(available_devices())))
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} is not available here (available: {', '.join(available_devices())})")
    return resolved


def free_memory(device: str | torch.device) -> int | None:
    """Bytes free on ``device`` now (GPU memory, or available RAM for the CPU); None if unknown."""
    device = resolve_device(device)
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    if device.type == "cpu":
        try:
            import os

            return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):  # not POSIX
            return None
    return None


def fast_bfloat16(device: str | torch.device) -> bool:
    """Whether ``device`` computes in bfloat16 natively: a CUDA GPU that supports it, or a
    CPU with AVX-512 BF16 or AMX instructions (oneDNN's bfloat16 convolutions there ran 3.5
    times faster than float32 for the 3D demo model in ``benchmarks/bench_predict.py``; on
    other CPUs bfloat16 is emulated and slower)."""
    device = resolve_device(device)
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    if device.type == "cpu":
        cpu = getattr(torch, "cpu", None)
        checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
        return any(bool(getattr(cpu, name, lambda: False)()) for name in checks)
    return False


def resolve_precision(precision: str, device: str | torch.device) -> str:
    """``"auto"`` is ``"bfloat16"`` where :func:`fast_bfloat16` says the device has it,
    ``"float32"`` elsewhere; any other precision is itself."""
    if precision != "auto":
        return precision
    return "bfloat16" if fast_bfloat16(device) else "float32"
