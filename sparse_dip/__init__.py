"""sparse-dip: image restoration with sparse deep image priors, on a shared pruning core.

The main entry points, importable from the package (loaded lazily, so the command line's
``--help`` does not wait for torch)::

    from sparse_dip import denoise, DenoiseConfig, load_image, add_gaussian_noise
    from sparse_dip import learn_image_mask, save_mask, load_mask   # masks found once, reused
    from sparse_dip import restore, RestoreConfig, Inpainting, Downsampling, Blur  # y = A(x)
    from sparse_dip import find, Problem   # the pruning-method registry, for any model
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "denoise": "sparse_dip.restoration.denoise",
    "DenoiseConfig": "sparse_dip.restoration.denoise",
    "DenoiseResult": "sparse_dip.restoration.denoise",
    "learn_image_mask": "sparse_dip.restoration.denoise",
    "MaskFile": "sparse_dip.pruning.mask_file",
    "save_mask": "sparse_dip.pruning.mask_file",
    "load_mask": "sparse_dip.pruning.mask_file",
    "FitConfig": "sparse_dip.restoration.fit",
    "fit": "sparse_dip.restoration.fit",
    "OESConfig": "sparse_dip.pruning.oes",
    "learn_mask": "sparse_dip.pruning.oes",
    "find": "sparse_dip.pruning.methods",
    "Problem": "sparse_dip.pruning.methods",
    "restore": "sparse_dip.restoration.pipeline",
    "RestoreConfig": "sparse_dip.restoration.pipeline",
    "Identity": "sparse_dip.physics",
    "Inpainting": "sparse_dip.physics",
    "Downsampling": "sparse_dip.physics",
    "Blur": "sparse_dip.physics",
    "Hourglass": "sparse_dip.generators.hourglass",
    "HourglassConfig": "sparse_dip.generators.hourglass",
    "Mask": "sparse_dip.pruning.mask",
    "top_k": "sparse_dip.pruning.mask",
    "apply_mask": "sparse_dip.pruning.parametrize",
    "load_image": "sparse_dip.images",
    "save_image": "sparse_dip.images",
    "add_gaussian_noise": "sparse_dip.images",
    "psnr": "sparse_dip.metrics",
    "ssim": "sparse_dip.metrics",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'sparse_dip' has no attribute {name!r}")
