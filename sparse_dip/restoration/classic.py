"""Reference denoisers beside the image priors: BM3D, TV, non-local means, Zero-Shot Noise2Noise.

They answer "what would a user otherwise pick": BM3D (Dabov et al., 2007; the ``bm3d``
package, an optional dependency: ``pip install sparse-dip[bench]``), scikit-image's total
variation (Chambolle) and non-local means denoisers, and the cheap single-image network
Zero-Shot Noise2Noise (:mod:`sparse_dip.restoration.zs_n2n`, which needs no sigma). Images
are ``H x W x C`` float arrays in ``[0, 1]``; ``sigma`` is the noise standard deviation on that
scale, estimated from the image (:func:`noise_sigma`) when not given. No clean image is ever used to tune them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from sparse_dip.errors import InputError

CLASSIC = ("bm3d", "tv", "nlmeans", "zsn2n")


def noise_sigma(noisy: np.ndarray) -> float:
    """A wavelet (median absolute deviation) estimate of the Gaussian noise level, on ``[0, 1]``."""
    from skimage.restoration import estimate_sigma

    return float(estimate_sigma(noisy, average_sigmas=True, channel_axis=-1))


def bm3d_denoise(noisy: np.ndarray, sigma: float) -> np.ndarray:
    """BM3D (colour BM3D in an opponent colour space for RGB)."""
    try:
        import bm3d
    except ImportError:
        raise InputError("bm3d is not installed: pip install bm3d (or sparse-dip[bench])") from None
    if noisy.shape[2] == 3:
        out = bm3d.bm3d_rgb(noisy, sigma)
    else:
        out = bm3d.bm3d(noisy[..., 0], sigma)[..., None]
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def tv_denoise(noisy: np.ndarray, sigma: float | None = None) -> np.ndarray:
    """Chambolle's TV denoiser, its weight picked by J-invariant self-supervised calibration
    (scikit-image's ``calibrate_denoiser``: the weight that best predicts held-out pixels)."""
    from skimage.restoration import calibrate_denoiser, denoise_tv_chambolle

    grid = {"weight": list(np.linspace(0.02, 0.3, 15)), "channel_axis": [-1]}
    calibrated = calibrate_denoiser(noisy, denoise_tv_chambolle, grid)
    return np.clip(calibrated(noisy), 0.0, 1.0).astype(np.float32)


def nlmeans_denoise(noisy: np.ndarray, sigma: float) -> np.ndarray:
    """Non-local means with scikit-image's recommended settings for a known noise level
    (5x5 patches, 13x13 search window, ``h = 0.8 sigma``, noise variance subtracted)."""
    from skimage.restoration import denoise_nl_means

    out = denoise_nl_means(
        noisy, h=0.8 * sigma, sigma=sigma, patch_size=5, patch_distance=6, fast_mode=True, channel_axis=-1
    )
    return np.clip(out, 0.0, 1.0).astype(np.float32).reshape(noisy.shape)  # a 1-channel input comes back 2-D


def zs_n2n(noisy: np.ndarray, sigma: float | None = None) -> np.ndarray:
    """Zero-Shot Noise2Noise with the paper's settings (2000 Adam steps, seed 0, CPU); no sigma."""
    from sparse_dip.restoration.zs_n2n import zs_n2n_denoise

    return zs_n2n_denoise(noisy)


DENOISERS: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
    "bm3d": bm3d_denoise,
    "tv": tv_denoise,
    "nlmeans": nlmeans_denoise,
    "zsn2n": zs_n2n,
}


def classic_denoise(name: str, noisy: np.ndarray, sigma: float | None = None) -> np.ndarray:
    """Denoise ``noisy`` with the classic method ``name``; ``sigma`` defaults to :func:`noise_sigma`."""
    if name not in DENOISERS:
        raise InputError(f"unknown classic denoiser {name!r}; known: {', '.join(CLASSIC)}")
    return DENOISERS[name](noisy, noise_sigma(noisy) if sigma is None else sigma)
