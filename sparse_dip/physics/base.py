"""What a forward operator is: ``y = A(x)`` for an image ``x``, the way deepinv's ``Physics`` is.

A deep image prior restores ``x`` from an observation ``y`` by fitting ``A(G(z))`` to ``y``
(Ulyanov et al., *Deep Image Prior*, CVPR 2018, Sec. 4): denoising is ``A = identity``,
inpainting a pixel mask, super-resolution a downsampling, deblurring a convolution. An
operator declares the image size an observation of a given size comes from, so that the
generator's canvas is sized from the *image*, and it applies ``A`` to a batch ``[B, C, H, W]``
differentiably. Operators are small frozen objects; those with tensors move with :meth:`to`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Operator:
    """``A``: images ``[B, C, H, W]`` to observations. Subclasses define :meth:`__call__`."""

    name = "operator"
    stop_early = False
    """Whether a fit stops by default at the windowed-variance minimum (ES-WMV). That rule
    detects the generator starting to fit *noise*, so only denoising turns it on: with an
    (almost) noise-free observation the error keeps falling to the step maximum
    (``BENCHMARKS.md``, inverse problems)."""

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def image_size(self, height: int, width: int) -> tuple[int, int]:
        """The size of the image an ``height x width`` observation comes from."""
        return height, width

    def check(self, height: int, width: int, channels: int) -> None:
        """Raise :class:`~sparse_dip.errors.InputError` (one line) if an observation of this shape
        cannot come from this operator."""

    def prepare(self, observation: torch.Tensor) -> torch.Tensor:
        """The observation as the data loss compares it with ``A(G(z))`` (e.g. holes zeroed)."""
        return observation

    def central(self, observation: torch.Tensor, side: int) -> tuple[Operator, torch.Tensor]:
        """The operator and observation of the central region of the image whose shorter side is
        at most ``side`` (an OES mask is learned on such a smaller problem); ``side`` 0 or a
        small enough image gives ``(self, observation)``."""
        raise NotImplementedError

    def to(self, device: torch.device | str) -> Operator:
        return self

    def to_dict(self) -> dict:
        return {"name": self.name}


def central_crop(tensor: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """The central ``height x width`` region of ``tensor``'s last two dimensions."""
    h, w = tensor.shape[-2:]
    top, left = (h - height) // 2, (w - width) // 2
    return tensor[..., top : top + height, left : left + width]


def view_size(height: int, width: int, side: int, multiple: int = 1) -> tuple[int, int]:
    """The central region of an ``height x width`` image with shorter side at most ``side``,
    both sides multiples of ``multiple``."""
    if side == 0 or min(height, width) <= side:
        return height, width
    side = max(multiple, side // multiple * multiple)
    return min(height, side), min(width, side)
