"""Denoising: ``A = identity``, ``y = x + n``."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from sparse_dip.physics.base import Operator, central_crop, view_size


@dataclass(frozen=True)
class Identity(Operator):
    """The observation is the image (plus noise)."""

    name = "identity"
    stop_early = True

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        return image

    def central(self, observation: torch.Tensor, side: int) -> tuple[Operator, torch.Tensor]:
        return self, central_crop(observation, *view_size(*observation.shape[-2:], side))
