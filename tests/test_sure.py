"""Stein's unbiased risk estimate: unbiased on a problem small enough to average, and wired into the fit."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import nn

from sparse_dip.errors import InputError
from sparse_dip.pruning.oes import OESConfig
from sparse_dip.restoration import sure
from sparse_dip.restoration.data_loss import data_loss
from sparse_dip.restoration.denoise import DenoiseConfig, denoise
from sparse_dip.restoration.fit import FitConfig, fit


def _denoiser() -> nn.Module:
    """A small fixed nonlinear denoiser: a residual 2-layer conv net with a smooth activation."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.Softplus(), nn.Conv2d(8, 1, 3, padding=1)).double()
    for p in net.parameters():
        p.requires_grad_(False)
    return net


def test_sure_equals_the_error_to_the_clean_image_in_expectation():
    """Averaged over many noise draws and probes, SURE matches the true MSE, while the naive
    estimate (the error to the noisy image minus sigma^2) misses it by the divergence term."""
    net = _denoiser()
    sigma, draws = 0.1, 4000
    generator = torch.Generator().manual_seed(1)
    grid = torch.linspace(0, 1, 12, dtype=torch.float64)
    clean = (0.5 + 0.3 * torch.sin(6 * grid[:, None]) * torch.cos(4 * grid[None, :]))[None, None]
    noisy = clean + sigma * torch.randn((draws, 1, 12, 12), generator=generator, dtype=torch.float64)
    probe = torch.randn(noisy.shape, generator=generator, dtype=torch.float64)
    epsilon = sure.EPSILON * sigma

    def denoise_(y: torch.Tensor) -> torch.Tensor:
        return y - 0.5 * net(y)

    output, perturbed = denoise_(noisy), denoise_(noisy + epsilon * probe)
    estimates = torch.stack(
        [sure.sure(output[i], perturbed[i], probe[i], noisy[i], sigma, epsilon) for i in range(draws)]
    )
    true = ((output - clean) ** 2).mean(dim=(1, 2, 3))
    naive = ((output - noisy) ** 2).mean(dim=(1, 2, 3)) - sigma**2
    difference = estimates - true
    bound = 4 * difference.std() / draws**0.5  # four standard errors of the mean difference
    assert abs(float(difference.mean())) < float(bound)
    assert abs(float((naive - true).mean())) > 10 * float(bound)


def test_data_loss_without_sigma_is_the_mse():
    observation = torch.rand(1, 3, 8, 8, dtype=torch.float64)
    inputs = torch.rand(1, 3, 8, 8, dtype=torch.float64)
    loss, output = data_loss(lambda x: 0.5 * x, inputs, observation, None, torch.Generator())
    torch.testing.assert_close(loss, torch.mean((0.5 * inputs - observation) ** 2))
    torch.testing.assert_close(output, 0.5 * inputs)


def test_data_loss_of_the_identity_estimates_its_divergence_by_the_probe():
    """For f(y) = y the finite difference is exact, so the divergence estimate is |b|^2 for the
    probe b drawn from the generator (N in expectation) and the loss -sigma^2 + 2 sigma^2 |b|^2 / N."""
    observation = torch.rand(1, 3, 8, 8, dtype=torch.float64)
    loss, _ = data_loss(lambda x: x, observation, observation, 0.2, torch.Generator().manual_seed(0))
    probe = torch.randn(observation.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    expected = -0.04 + 2 * 0.04 * probe.pow(2).sum() / observation.numel()
    torch.testing.assert_close(loss, expected)


def test_a_sure_fit_needs_the_image_as_input():
    model = nn.Conv2d(4, 3, 1)
    with pytest.raises(ValueError, match="observation as input"):
        fit(model, torch.rand(1, 4, 8, 8), torch.rand(1, 3, 8, 8), FitConfig(steps=1, sure_sigma=0.1))


def test_sure_denoise_feeds_the_image_and_records_sigma(clean_rgb, noisy_rgb, tiny_config):
    config = DenoiseConfig(
        objective="sure",
        device="cpu",
        sparsity=0.9,
        generator=tiny_config,
        oes=OESConfig(steps=5),
        fit=FitConfig(steps=20, log_every=10),
    )
    result = denoise(noisy_rgb, config, clean=clean_rgb)
    sigma = result.report["sigma"]
    assert sigma["source"] == "estimated"
    present = float(np.std(noisy_rgb - clean_rgb)) * 255  # below 25 where the noise was clipped
    assert abs(sigma["value"] - present) < 0.25 * present
    assert result.mask_file.info["generator"]["input_depth"] == clean_rgb.shape[2]
    assert np.isfinite(result.image).all()
    given = denoise(noisy_rgb, replace(config, sigma=25.0), mask=result.mask_file).report
    assert given["sigma"] == {"value": 25.0, "source": "given"}


@pytest.mark.parametrize("sigma", [0.0, -3.0, 300.0])
def test_sigma_out_of_range_is_refused(sigma):
    with pytest.raises(InputError, match="0-255"):
        DenoiseConfig(objective="sure", sigma=sigma)


def test_sigma_without_sure_is_refused():
    with pytest.raises(InputError, match="SURE"):
        DenoiseConfig(sigma=25.0)
