"""Inpainting: ``y = m * x`` for a known pixel mask ``m`` (1 observed, 0 missing).

The mask is per pixel and shared by every channel. ``Inpainting.from_image`` reads it from an
image file whose zero pixels are the missing ones (any channel of a colour file non-zero counts
as observed). Whatever the observation holds in the holes is ignored: :meth:`prepare` zeroes
it, so the data loss is the squared error over observed pixels only (divided by the number of
values in the image, as DIP's reference code does).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from sparse_dip.errors import InputError
from sparse_dip.physics.base import Operator, central_crop, view_size


@dataclass(frozen=True, eq=False)
class Inpainting(Operator):
    """``mask``: ``[1, 1, H, W]`` float tensor of 0 (missing) and 1 (observed)."""

    mask: torch.Tensor
    name = "inpainting"

    def __post_init__(self) -> None:
        if self.mask.ndim != 4 or self.mask.shape[:2] != (1, 1):
            raise ValueError(f"the pixel mask must be [1, 1, H, W], got {list(self.mask.shape)}")

    @classmethod
    def from_array(cls, observed: np.ndarray) -> Inpainting:
        """From an ``H x W`` (or ``H x W x C``) array whose non-zero pixels are observed."""
        observed = np.asarray(observed)
        if observed.ndim == 3:
            observed = observed.any(axis=2)
        if observed.ndim != 2:
            raise InputError(f"a hole mask is an H x W image, got shape {observed.shape}")
        if not observed.any():
            raise InputError("the hole mask marks every pixel missing (all zero)")
        return cls(torch.from_numpy(observed.astype(np.float32) != 0).float()[None, None])

    @classmethod
    def from_image(cls, path: Path) -> Inpainting:
        """From an image file whose zero pixels are missing."""
        from sparse_dip.images import load_image

        return cls.from_array(load_image(path).pixels)

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        return image * self.mask

    def check(self, height: int, width: int, channels: int) -> None:
        if tuple(self.mask.shape[-2:]) != (height, width):
            h, w = self.mask.shape[-2:]
            raise InputError(f"the hole mask is {h}x{w}, the image {height}x{width}")

    def prepare(self, observation: torch.Tensor) -> torch.Tensor:
        return observation * self.mask

    def central(self, observation: torch.Tensor, side: int) -> tuple[Operator, torch.Tensor]:
        size = view_size(*observation.shape[-2:], side)
        return Inpainting(central_crop(self.mask, *size)), central_crop(observation, *size)

    def to(self, device: torch.device | str) -> Inpainting:
        return Inpainting(self.mask.to(device))

    @property
    def observed_fraction(self) -> float:
        return float(self.mask.mean())

    def to_dict(self) -> dict:
        return {"name": self.name, "observed_fraction": self.observed_fraction}
