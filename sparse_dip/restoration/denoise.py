"""Sparse-DIP denoising: :func:`~sparse_dip.restoration.pipeline.restore` with ``A = identity``.

This is the Python API behind ``sparse-dip denoise``; notebooks call :func:`denoise` directly.
``sparsity=0`` is dense DIP (no mask is learned).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from sparse_dip.physics import Identity
from sparse_dip.pruning.mask_file import MaskFile
from sparse_dip.restoration.fit import Callback
from sparse_dip.restoration.pipeline import RestoreConfig, RestoreResult, learn_mask_for, mask_view, restore

DenoiseConfig = RestoreConfig
"""The settings of a denoising run: :class:`~sparse_dip.restoration.pipeline.RestoreConfig`."""

DenoiseResult = RestoreResult

__all__ = ["DenoiseConfig", "DenoiseResult", "denoise", "learn_image_mask", "mask_view"]


def learn_image_mask(
    noisy: np.ndarray,
    config: RestoreConfig = RestoreConfig(),
    on_mask_step: Callable[[int, float], None] | None = None,
) -> MaskFile:
    """The mask phase of :func:`denoise` alone: the mask ``config.method`` finds for ``noisy``.

    ``denoise(noisy, config, mask=learn_image_mask(noisy, config))`` gives the same image as
    ``denoise(noisy, config)``.
    """
    return learn_mask_for(noisy, Identity(), config, on_mask_step)


def denoise(
    noisy: np.ndarray,
    config: RestoreConfig = RestoreConfig(),
    clean: np.ndarray | None = None,
    on_mask_step: Callable[[int, float], None] | None = None,
    on_fit_step: Callback | None = None,
    mask: MaskFile | None = None,
    fresh_init: bool = False,
    checkpoint_every: int = 0,
    on_checkpoint: Callable[[dict], None] | None = None,
    resume: dict | None = None,
) -> RestoreResult:
    """Restore ``noisy`` (``H x W x C`` in ``[0, 1]``, C = 1 or 3) with a sparse deep image prior.

    The arguments are :func:`~sparse_dip.restoration.pipeline.restore`'s, the operator the
    identity: ``clean`` for PSNR/SSIM, progress callbacks, a stored ``mask`` to reuse (with
    ``fresh_init``), checkpoints and ``resume``.
    """
    return restore(
        noisy,
        Identity(),
        config,
        clean=clean,
        on_mask_step=on_mask_step,
        on_fit_step=on_fit_step,
        mask=mask,
        fresh_init=fresh_init,
        checkpoint_every=checkpoint_every,
        on_checkpoint=on_checkpoint,
        resume=resume,
    )
