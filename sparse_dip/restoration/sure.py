"""Stein's unbiased risk estimate (SURE) of a denoiser's mean squared error, with no clean image.

For ``y = x + n``, ``n ~ N(0, sigma^2 I)`` over ``N`` values and a weakly differentiable
denoiser ``f``, Stein's lemma gives

    E ||f(y) - x||^2 / N  =  E [ ||f(y) - y||^2 / N - sigma^2 + 2 sigma^2 div f(y) / N ],

so the bracket can be minimised in place of the unknown error to the clean image. The
divergence ``div f(y) = sum_i df_i/dy_i`` is estimated by one Monte-Carlo probe ``b ~ N(0, I)``
and a finite difference, ``b . (f(y + eps b) - f(y)) / eps`` (Ramani, Blu and Unser, 2008),
which costs one more evaluation of ``f``. DIP-SURE (Jo, Chun and Choi, *Rethinking Deep Image
Prior for Denoising*, ICCV 2021) fits a deep image prior whose input is the noisy image itself
with this loss, so that ``f`` is a function of ``y``, takes ``eps = sigma / 2`` and perturbs
the input by fresh noise of std ``sigma / 2`` each step (their "eSURE").
"""

from __future__ import annotations

import torch

EPSILON = 0.5
"""The finite-difference step as a fraction of sigma (DIP-SURE's setting)."""

INPUT_NOISE = 0.5
"""The std of the fresh input perturbation, as a fraction of sigma (DIP-SURE's eSURE)."""


def sure(
    output: torch.Tensor,
    perturbed: torch.Tensor,
    probe: torch.Tensor,
    observation: torch.Tensor,
    sigma: float,
    epsilon: float,
) -> torch.Tensor:
    """SURE of ``output = f(y)`` given ``perturbed = f(y + epsilon * probe)``, all shaped like ``y``.

    Unbiased for the per-value MSE to the clean image when the noise is Gaussian with std
    ``sigma`` (on the scale of ``y``), up to the finite-difference error in ``epsilon``.
    """
    n = observation.numel()
    divergence = torch.sum(probe * (perturbed - output)) / epsilon
    return torch.mean((output - observation) ** 2) - sigma**2 + 2.0 * sigma**2 * divergence / n
