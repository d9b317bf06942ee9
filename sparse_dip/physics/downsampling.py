"""Super-resolution: ``y = D_s(x)``, antialiased bicubic downsampling by an integer factor ``s``.

``D_s`` is what ``Pillow``'s ``Image.resize((W // s, H // s), Image.BICUBIC)`` computes: the
Keys cubic kernel (``a = -0.5``) stretched by ``s`` (support ``4 s`` taps), renormalised where
it meets the border, separable in rows and columns. PyTorch's ``interpolate(mode="bicubic",
antialias=True)`` implements that filter (it was written to match Pillow), so ``D_s`` is
differentiable at no extra cost; ``tests/test_physics.py`` compares it with Pillow.
``skimage.transform.rescale(x, 1 / s, order=3, anti_aliasing=True)`` first Gaussian-blurs and
then samples a spline: a different, blurrier observation model, so a low-resolution image
made that way is restored less sharply than one made by Pillow.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F

from sparse_dip.errors import InputError
from sparse_dip.physics.base import Operator, central_crop, view_size

FACTORS = (2, 3, 4)


@dataclass(frozen=True)
class Downsampling(Operator):
    """``factor``: the ratio of the image's side to the observation's (2, 3 or 4)."""

    factor: int = 4
    name = "downsampling"

    def __post_init__(self) -> None:
        if self.factor not in FACTORS:
            raise InputError(f"the scale must be one of {', '.join(map(str, FACTORS))}, got {self.factor}")

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        height, width = image.shape[-2:]
        size = (height // self.factor, width // self.factor)
        return F.interpolate(image, size=size, mode="bicubic", antialias=True, align_corners=False)

    def image_size(self, height: int, width: int) -> tuple[int, int]:
        return height * self.factor, width * self.factor

    def central(self, observation: torch.Tensor, side: int) -> tuple[Operator, torch.Tensor]:
        height, width = self.image_size(*observation.shape[-2:])
        size = view_size(height, width, side, multiple=self.factor)
        return self, central_crop(observation, size[0] // self.factor, size[1] // self.factor)

    def to_dict(self) -> dict:
        return {"name": self.name, "factor": self.factor}
