"""What a user would pick instead of a deep image prior for inpainting, upsampling and deblurring.

Each baseline takes the observation ``y`` (``h x w x C`` float in ``[0, 1]``) and its forward
operator, knows what the operator knows (the hole mask, the scale, the kernel and boundary),
and returns an image of the operator's image size. No clean image tunes anything.

- inpainting: biharmonic inpainting (``skimage.restoration.inpaint_biharmonic``; Damelin and
  Hoang, 2018), the smoothest fill of the holes;
- super-resolution: bicubic upsampling (Pillow's ``Image.resize(..., BICUBIC)`` on the 8-bit
  image, what an image editor does);
- deblurring: Wiener deconvolution with the regularisation and noise level estimated by
  ``skimage.restoration.unsupervised_wiener`` (Orieux et al., 2010), and Richardson-Lucy
  (``skimage.restoration.richardson_lucy``, its 50 iterations), each per channel. The image is
  first padded the way the operator treats its border (wrapped for a circular blur, edge
  values for a valid one), so neither baseline pays for a boundary the observation never had.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from sparse_dip.errors import InputError
from sparse_dip.physics import Blur, Downsampling, Inpainting, Operator

Baseline = Callable[[np.ndarray, Operator], np.ndarray]


def biharmonic(observed: np.ndarray, operator: Operator) -> np.ndarray:
    """Fill the holes of an inpainting observation biharmonically."""
    from skimage.restoration import inpaint_biharmonic

    assert isinstance(operator, Inpainting)
    missing = operator.mask[0, 0].cpu().numpy() == 0
    out = inpaint_biharmonic(observed * ~missing[..., None], missing, channel_axis=-1)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def bicubic(observed: np.ndarray, operator: Operator) -> np.ndarray:
    """Upsample by the operator's factor with Pillow's bicubic filter."""
    from PIL import Image

    assert isinstance(operator, Downsampling)
    height, width = operator.image_size(*observed.shape[:2])
    channels = []
    for c in range(observed.shape[2]):
        plane = Image.fromarray(np.round(observed[..., c] * 255).astype(np.uint8))
        channels.append(np.asarray(plane.resize((width, height), Image.BICUBIC), dtype=np.float32) / 255)
    return np.stack(channels, axis=-1)


def _padded_planes(observed: np.ndarray, blur: Blur) -> tuple[list[np.ndarray], np.ndarray, int]:
    """Each channel padded as the blur's boundary implies; the kernel; the padding."""
    kernel = blur.kernel.cpu().double().numpy()
    pad = max(kernel.shape)
    mode = "wrap" if blur.boundary == "circular" else "edge"
    if blur.boundary == "valid":  # the valid observation is the image's interior
        ph, pw = kernel.shape[0] // 2, kernel.shape[1] // 2
        observed = np.pad(observed, ((ph, kernel.shape[0] - 1 - ph), (pw, kernel.shape[1] - 1 - pw), (0, 0)), "edge")
    planes = [np.pad(observed[..., c].astype(np.float64), pad, mode=mode) for c in range(observed.shape[2])]
    return planes, kernel, pad


def wiener(observed: np.ndarray, operator: Operator) -> np.ndarray:
    """Unsupervised Wiener-Hunt deconvolution, per channel."""
    from skimage.restoration import unsupervised_wiener

    assert isinstance(operator, Blur)
    planes, kernel, pad = _padded_planes(observed, operator)
    rng = np.random.default_rng(0)  # its Gibbs sampler draws random numbers: seeded
    out = [unsupervised_wiener(p, kernel, clip=False, rng=rng)[0][pad:-pad, pad:-pad] for p in planes]
    return np.clip(np.stack(out, axis=-1), 0.0, 1.0).astype(np.float32)


def richardson_lucy(observed: np.ndarray, operator: Operator) -> np.ndarray:
    """Richardson-Lucy deconvolution (50 iterations), per channel."""
    from skimage.restoration import richardson_lucy as rl

    assert isinstance(operator, Blur)
    planes, kernel, pad = _padded_planes(observed, operator)
    out = [rl(np.clip(p, 0.0, 1.0), kernel, num_iter=50)[pad:-pad, pad:-pad] for p in planes]
    return np.clip(np.stack(out, axis=-1), 0.0, 1.0).astype(np.float32)


BASELINES: dict[str, dict[str, Baseline]] = {
    "inpainting": {"biharmonic": biharmonic},
    "downsampling": {"bicubic": bicubic},
    "blur": {"wiener": wiener, "richardson-lucy": richardson_lucy},
}
"""The classic baselines of each operator, by the operator's name."""


def classic_restore(name: str, observed: np.ndarray, operator: Operator) -> np.ndarray:
    """Restore ``observed`` with the classic baseline ``name`` for ``operator``."""
    known = BASELINES.get(operator.name, {})
    if name not in known:
        raise InputError(f"no classic baseline {name!r} for {operator.name}; known: {', '.join(known) or 'none'}")
    return known[name](observed, operator)
