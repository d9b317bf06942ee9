"""Zero-Shot Noise2Noise: the cheap single-image network a user would try instead of a DIP.

Mansour and Heckel, *Zero-Shot Noise2Noise: Efficient Image Denoising without any Data*,
CVPR 2023. Two fixed 2x2 diagonal sub-samplings of the noisy image ``y``,

    D1(y) = (y[0::2, 0::2] + y[1::2, 1::2]) / 2,   D2(y) = (y[0::2, 1::2] + y[1::2, 0::2]) / 2,

see the same scene with independent noise, so they form a Noise2Noise pair. A two-layer
48-channel network ``f`` (3x3, 3x3, 1x1 convolutions, LeakyReLU 0.2) predicts the *noise*
(the denoised image is ``y - f(y)``) and is trained on

    L = 1/2 (|D1 - f(D1) - D2|^2 + |D2 - f(D2) - D1|^2)                          (residual)
      + 1/2 (|D1 - f(D1) - D1(y - f(y))|^2 + |D2 - f(D2) - D2(y - f(y))|^2)   (consistency)

with Adam at 1e-3, halved after 1000 of 2000 steps. It needs no noise level and no clean
image; the paper reports it close to BM3D on Gaussian noise at a fraction of a DIP's cost.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sparse_dip.images import to_array, to_tensor
from sparse_dip.runtime import resolve_device, seeded_init


class NoiseNet(nn.Module):
    """The paper's network: predicts the noise of an image ``[B, C, H, W]``."""

    def __init__(self, channels: int, width: int = 48) -> None:
        super().__init__()
        self.first = nn.Conv2d(channels, width, 3, padding=1)
        self.second = nn.Conv2d(width, width, 3, padding=1)
        self.last = nn.Conv2d(width, channels, 1)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        hidden = F.leaky_relu(self.first(image), 0.2)
        hidden = F.leaky_relu(self.second(hidden), 0.2)
        return self.last(hidden)


def pair_downsample(image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The two diagonal 2x2 sub-samplings ``D1, D2`` of ``[B, C, H, W]`` (H, W cropped to even)."""
    height, width = image.shape[-2] // 2 * 2, image.shape[-1] // 2 * 2
    image = image[..., :height, :width]
    first = (image[..., 0::2, 0::2] + image[..., 1::2, 1::2]) / 2
    second = (image[..., 0::2, 1::2] + image[..., 1::2, 0::2]) / 2
    return first, second


def zs_n2n_loss(net: nn.Module, noisy: torch.Tensor) -> torch.Tensor:
    """The residual plus consistency loss of the paper on one noisy image."""
    first, second = pair_downsample(noisy)
    denoised_first, denoised_second = first - net(first), second - net(second)
    residual = (F.mse_loss(denoised_first, second) + F.mse_loss(denoised_second, first)) / 2
    whole_first, whole_second = pair_downsample(noisy - net(noisy))
    consistency = (F.mse_loss(denoised_first, whole_first) + F.mse_loss(denoised_second, whole_second)) / 2
    return residual + consistency


def zs_n2n_denoise(
    noisy: np.ndarray, steps: int = 2000, lr: float = 1e-3, seed: int = 0, device: str = "cpu"
) -> np.ndarray:
    """Denoise ``noisy`` (``H x W x C`` in ``[0, 1]``, H and W at least 2) with Zero-Shot Noise2Noise."""
    if noisy.shape[0] < 2 or noisy.shape[1] < 2:
        raise ValueError(f"Zero-Shot Noise2Noise needs at least 2x2 pixels, got {noisy.shape[:2]}")
    where = resolve_device(device)
    image = to_tensor(noisy, where)
    net = seeded_init(seed, lambda: NoiseNet(noisy.shape[2]), "zs-n2n weights").to(where)
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.StepLR(optimizer, step_size=max(1, steps // 2), gamma=0.5)
    for _ in range(steps):
        loss = zs_n2n_loss(net, image)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
    with torch.no_grad():
        return to_array((image - net(image)).clamp(0.0, 1.0))
