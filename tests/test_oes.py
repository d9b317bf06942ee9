import pytest
import torch

from sparse_dip.generators.hourglass import Hourglass, crop, input_noise, padded_size
from sparse_dip.images import to_tensor
from sparse_dip.oes import OESConfig, bernoulli_kl, concrete_sample, learn_mask
from sparse_dip.pruning.mask import maskable_names


def test_bernoulli_kl_is_zero_at_the_prior_and_positive_elsewhere():
    p = torch.tensor([0.05, 0.5, 0.9])
    kl = bernoulli_kl(p, 0.05)
    assert kl[0] == pytest.approx(0.0, abs=1e-6)
    assert torch.all(kl[1:] > 0)


def test_concrete_sample_is_a_soft_mask_that_follows_the_logits():
    g = torch.Generator().manual_seed(0)
    logits = torch.cat([torch.full((5000,), -3.0), torch.full((5000,), 3.0)])
    soft = concrete_sample(logits, 0.2, g)
    assert torch.all((soft >= 0) & (soft <= 1))
    assert soft[:5000].mean() < 0.1 < 0.9 < soft[5000:].mean()


def _problem(tiny_config, noisy_rgb):
    torch.manual_seed(0)
    model = Hourglass(tiny_config)
    z = input_noise(8, *padded_size(48, 48, 3), torch.Generator().manual_seed(1))
    return model, z, to_tensor(noisy_rgb)


def test_oes_lowers_its_loss_and_leaves_the_weights_alone(tiny_config, noisy_rgb):
    model, z, target = _problem(tiny_config, noisy_rgb)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    config = OESConfig(steps=150, lr=0.1, precision="fp32")
    result = learn_mask(model, z, target, density=0.1, config=config, log_every=1)
    losses = [loss for _, loss in result.loss_history]
    assert sum(losses[-10:]) / 10 < 0.8 * sum(losses[:10]) / 10
    for n, p in model.named_parameters():
        assert torch.equal(p, before[n]) and p.requires_grad


@pytest.mark.parametrize("include", ["weights", "all"])
@pytest.mark.parametrize("density", [0.05, 0.1, 0.5])
def test_oes_returns_the_exact_density(tiny_config, noisy_rgb, include, density):
    model, z, target = _problem(tiny_config, noisy_rgb)
    result = learn_mask(model, z, target, density, OESConfig(steps=5, include=include, precision="fp32"))
    assert result.mask.kept == round(density * result.mask.total)
    assert list(result.mask) == maskable_names(model, include)
    assert all(result.logits[n].shape == result.mask[n].shape for n in result.mask)


def test_oes_mask_beats_a_random_mask_on_the_image_it_was_learned_on(tiny_config, noisy_rgb):
    model, z, target = _problem(tiny_config, noisy_rgb)
    mask = learn_mask(model, z, target, 0.2, OESConfig(steps=150, precision="fp32")).mask
    params = dict(model.named_parameters())

    def masked_error(keep):
        from torch.func import functional_call

        weights = {n: params[n] * keep[n] for n in keep}
        with torch.no_grad():
            return float(((crop(functional_call(model, weights, (z,)), 48, 48) - target) ** 2).mean())

    g = torch.Generator().manual_seed(5)
    random = {n: torch.rand(k.shape, generator=g) < 0.2 for n, k in mask.items()}
    assert masked_error(mask) < masked_error(random)
