"""The memory a fit needs, estimated before it starts, against what the device has free.

A 20-megapixel scan fitted whole needs tens of GiB of activations; finding that out by
swapping for an hour, or by the kernel killing the process, is worse than a refusal that
says how much was needed.
"""

from __future__ import annotations

import psutil
import torch

from sparse_dip.errors import InputError
from sparse_dip.generators.hourglass import Hourglass, HourglassConfig
from sparse_dip.runtime import Precision, autocast

# Peak over saved activations (the gradients of the activations during the backward pass, the
# allocator's slack): measured 1.13x on 1024x1024 and 1.16x on 512x512 RGB fits, plus a margin.
HEADROOM = 1.25


def fit_bytes(generator: HourglassConfig, height: int, width: int, precision: Precision = "fp32") -> int:
    """Bytes one fitting step of ``generator`` holds at its peak on a ``height x width`` canvas.

    The activations autograd saves are counted in one forward pass on the smallest canvas
    the generator accepts and scaled by area (every activation is proportional to it); the
    parameters count four times (weights, gradients and Adam's two moments).
    """
    side = generator.min_side
    with torch.random.fork_rng(devices=[]):
        model = Hourglass(generator)
    parameters = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen: set[int] = set()
    saved = 0

    def count(tensor: torch.Tensor) -> torch.Tensor:
        nonlocal saved
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in seen and storage.data_ptr() not in parameters:
            seen.add(storage.data_ptr())
            saved += storage.nbytes()
        return tensor

    z = torch.zeros(1, generator.input_depth, side, side)
    with (
        torch.autograd.graph.saved_tensors_hooks(count, lambda tensor: tensor),
        autocast(torch.device("cpu"), precision),
    ):
        model(z)
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    return int(saved * HEADROOM * height * width / side**2 + 4 * weights)


def available_bytes(device: torch.device) -> int:
    """Memory free for this process on ``device`` now."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    return psutil.virtual_memory().available


def check_memory(
    generator: HourglassConfig, height: int, width: int, precision: Precision, device: torch.device
) -> int:
    """Raise :class:`InputError` if fitting a ``height x width`` canvas would not fit; return the estimate."""
    needed, free = fit_bytes(generator, height, width, precision), available_bytes(device)
    if needed > free:
        raise InputError(
            f"a {height}x{width} canvas needs about {_size(needed)} to fit and {_size(free)} is free "
            f"on {device.type}; denoise a crop or a downscaled copy"
        )
    return needed


def _size(count: int) -> str:
    return f"{count / 2**30:.1f} GiB" if count >= 2**30 else f"{count / 2**20:.0f} MiB"
