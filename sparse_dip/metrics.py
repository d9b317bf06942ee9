"""Image quality against a clean reference, for images in ``[0, 1]``.

Reported numbers come from scikit-image (:func:`psnr`, :func:`ssim`). Inside a fitting loop,
:func:`psnr_torch` computes the same PSNR on the device so that tracking quality never forces a
copy to the host; a test checks the two agree.
"""

from __future__ import annotations

import numpy as np
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity


def psnr(image: np.ndarray, reference: np.ndarray) -> float:
    """PSNR in dB of ``image`` against ``reference`` (``H x W [x C]`` arrays in ``[0, 1]``)."""
    return float(peak_signal_noise_ratio(reference, image, data_range=1.0))


def ssim(image: np.ndarray, reference: np.ndarray) -> float:
    """SSIM of ``image`` against ``reference`` (``H x W [x C]`` arrays in ``[0, 1]``)."""
    channel_axis = -1 if image.ndim == 3 else None
    return float(structural_similarity(reference, image, data_range=1.0, channel_axis=channel_axis))


def psnr_torch(image: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """PSNR in dB as a 0-d tensor on the images' device (data range 1)."""
    mse = torch.mean((image.float() - reference.float()) ** 2)
    return -10.0 * torch.log10(mse)
