"""Deblurring: ``y = k * x``, convolution with a known kernel.

The kernel is a Gaussian of standard deviation ``sigma`` (pixels), truncated at ``4 sigma`` as
``scipy.ndimage.gaussian_filter`` truncates it and normalised to sum 1, or any 2-D array
(``.npy`` file), used as given. ``*`` is a true convolution (the kernel is flipped), per
channel, centred at index ``k // 2`` of each axis. Boundary: ``"circular"`` wraps the image
around (the observation has the image's size: the model of an FFT-based blur, and
``scipy.ndimage.convolve(mode="wrap")``); ``"valid"`` keeps only the outputs whose kernel lies
inside the image (the observation is smaller by the kernel's size minus one, as
``scipy.signal.convolve2d(mode="valid")``), which
models a real camera's blur with no assumption about what lies outside the frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch.nn import functional as F

from sparse_dip.errors import InputError
from sparse_dip.physics.base import Operator, central_crop, view_size

Boundary = Literal["circular", "valid"]


def gaussian_kernel(sigma: float, truncate: float = 4.0) -> np.ndarray:
    """The normalised 2-D Gaussian of std ``sigma``, radius ``int(truncate * sigma + 0.5)``."""
    if not sigma > 0:
        raise InputError(f"the blur sigma must be positive, got {sigma:g}")
    radius = int(truncate * sigma + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    g = np.exp(-0.5 * (x / sigma) ** 2)
    g /= g.sum()
    return np.outer(g, g)


@dataclass(frozen=True, eq=False)
class Blur(Operator):
    """``kernel``: ``[kh, kw]`` float tensor; ``boundary``: ``"circular"`` or ``"valid"``."""

    kernel: torch.Tensor
    boundary: Boundary = "circular"
    source: str = "array"
    name = "blur"

    def __post_init__(self) -> None:
        if self.boundary not in ("circular", "valid"):
            raise InputError(f"the boundary must be 'circular' or 'valid', got {self.boundary!r}")
        if self.kernel.ndim != 2 or min(self.kernel.shape) < 1:
            raise InputError(f"a blur kernel is a 2-D array, got shape {tuple(self.kernel.shape)}")
        if not torch.isfinite(self.kernel).all():
            raise InputError("the blur kernel holds NaN or infinite values")

    @classmethod
    def parse(cls, spec: str, boundary: Boundary = "circular") -> Blur:
        """``"gaussian:SIGMA"`` or the path of a ``.npy`` file holding a 2-D kernel."""
        if spec.startswith("gaussian:"):
            try:
                sigma = float(spec.split(":", 1)[1])
            except ValueError:
                raise InputError(f"expected gaussian:SIGMA, got {spec!r}") from None
            kernel = gaussian_kernel(sigma)
        else:
            path = Path(spec)
            if path.suffix != ".npy":
                raise InputError(f"a kernel is gaussian:SIGMA or a .npy file, got {spec!r}")
            if not path.is_file():
                raise InputError(f"no such kernel file: {spec}")
            try:
                kernel = np.load(path, allow_pickle=False)
            except (OSError, ValueError) as error:
                raise InputError(f"cannot read the kernel {spec}: {error}") from None
        return cls(torch.as_tensor(np.asarray(kernel, dtype=np.float32)), boundary, spec)

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        channels = image.shape[1]
        weight = self.kernel.flip(0, 1).to(image.dtype).expand(channels, 1, *self.kernel.shape)
        if self.boundary == "circular":
            kh, kw = self.kernel.shape
            # the kernel's centre is index k // 2 (scipy.ndimage's): output i sums x[i + c - j] k[j]
            top, left = kh // 2, kw // 2
            image = F.pad(image, (kw - 1 - left, left, kh - 1 - top, top), mode="circular")
        return F.conv2d(image, weight, groups=channels)

    def image_size(self, height: int, width: int) -> tuple[int, int]:
        if self.boundary == "valid":
            return height + self.kernel.shape[0] - 1, width + self.kernel.shape[1] - 1
        return height, width

    def check(self, height: int, width: int, channels: int) -> None:
        kh, kw = self.kernel.shape
        if kh > height or kw > width:
            raise InputError(f"the {kh}x{kw} kernel is larger than the {height}x{width} image")

    def central(self, observation: torch.Tensor, side: int) -> tuple[Operator, torch.Tensor]:
        height, width = self.image_size(*observation.shape[-2:])
        size = view_size(height, width, side)
        kh, kw = self.kernel.shape
        if self.boundary == "valid":
            size = (max(size[0], kh), max(size[1], kw))
            return self, central_crop(observation, size[0] - kh + 1, size[1] - kw + 1)
        # the crop's own edges do not wrap around: an approximation, for the mask search only
        return self, central_crop(observation, *size)

    def to(self, device: torch.device | str) -> Blur:
        return Blur(self.kernel.to(device), self.boundary, self.source)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "kernel": self.source,
            "kernel_size": list(self.kernel.shape),
            "kernel_sum": float(self.kernel.sum()),
            "boundary": self.boundary,
        }
