"""Where and how computations run: device choice, precision, seeded random streams, versions."""

from __future__ import annotations

import contextlib
import platform
from importlib import metadata
from pathlib import Path
from typing import Literal

import numpy as np
import torch

Precision = Literal["bf16", "fp32"]


def check_precision(precision: str) -> None:
    """Raise ``ValueError`` unless ``precision`` is ``"bf16"`` or ``"fp32"``."""
    if precision not in ("bf16", "fp32"):
        raise ValueError(f"precision must be bf16 or fp32, got {precision!r}")


def resolve_device(device: str = "auto") -> torch.device:
    """``"auto"`` picks CUDA when present, else the CPU; ``"cuda"`` without a GPU is an error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise ValueError(f"device must be auto, cpu or cuda, got {device!r}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for, but no CUDA device is available")
    return torch.device(device)


def autocast(device: torch.device, precision: Precision) -> contextlib.AbstractContextManager:
    """bf16 autocast on ``device`` when ``precision == "bf16"``, else a no-op context."""
    check_precision(precision)
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


def stream(seed: int, name: str, device: torch.device | str = "cpu") -> torch.Generator:
    """An independent random stream derived from ``seed`` for one purpose (``name``).

    Separate streams (weights, input noise, relaxation noise, ...) let one part of a run change
    without shifting the random numbers of another.
    """
    key = [ord(c) for c in name]
    state = np.random.SeedSequence(seed, spawn_key=key).generate_state(2, dtype=np.uint64)
    return torch.Generator(device=device).manual_seed(int(state[0] >> np.uint64(1)))


def seeded_init(seed: int, build, purpose: str = "weights"):
    """Call ``build()`` with torch's global generator seeded from ``seed``, leaving it untouched after.

    ``torch.nn`` layers draw their initial weights from the global generator; this keeps that
    draw reproducible without changing any caller's random state. Another ``purpose`` draws
    other weights from the same seed.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(stream(seed, purpose).initial_seed())
        return build()


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else what ``platform`` knows)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def versions() -> dict[str, str]:
    """Versions of Python, the libraries a result depends on, and the machine."""
    found = {"python": platform.python_version(), "machine": f"{platform.machine()} {platform.system()}"}
    for package in ("sparse-dip", "torch", "numpy", "scikit-image", "pillow"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    found["torch_threads"] = str(torch.get_num_threads())
    return found
