"""The frozen-mask enforcement by zeroing: the same fit as the parametrisation, plain weights, and
a NaN gradient cannot revive a pruned weight."""

from __future__ import annotations

import copy

import torch

from sparse_dip.generators.hourglass import Hourglass, input_noise, padded_size
from sparse_dip.pruning.mask import top_k
from sparse_dip.pruning.parametrize import apply_mask
from sparse_dip.pruning.zeroed import release, zero_pruned, zeroed_mask
from sparse_dip.restoration.fit import FitConfig, fit


def _model_and_mask(tiny_config, density: float = 0.2):
    torch.manual_seed(0)
    model = Hourglass(tiny_config)
    g = torch.Generator().manual_seed(1)
    mask = top_k({n: torch.rand(p.shape, generator=g) for n, p in model.named_parameters() if p.dim() > 1}, density)
    return model, mask


def test_zeroing_fits_as_the_parametrisation_does(tiny_config, clean_rgb):
    model, mask = _model_and_mask(tiny_config)
    parametrised = apply_mask(copy.deepcopy(model), mask)
    zeroed = zero_pruned(model, mask)
    target = torch.from_numpy(clean_rgb).permute(2, 0, 1)[None]
    z = input_noise(8, *padded_size(48, 48, 3), torch.Generator().manual_seed(0))
    config = FitConfig(steps=30, lr_schedule="cosine", weight_decay=1e-3, precision="fp32", log_every=10)
    a = fit(parametrised, z, target, config)
    b = fit(zeroed, z, target, config)
    # The same operations on the same values (the parametrisation's select gives the zeroed weight):
    # on one CPU the two agree to float32 rounding; the bound is 100x above it and far below a wrong mask.
    torch.testing.assert_close(b.image, a.image, rtol=0, atol=1e-4)
    weights = dict(zeroed.named_parameters())
    for name, keep in mask.items():
        assert torch.count_nonzero(weights[name][~keep]) == 0
        module_name, _, attr = name.rpartition(".")
        torch.testing.assert_close(
            weights[name], getattr(parametrised.get_submodule(module_name), attr), rtol=0, atol=1e-4
        )


def test_the_state_dict_keeps_plain_names_and_release_stops_the_zeroing(tiny_config):
    model, mask = _model_and_mask(tiny_config)
    names = set(model.state_dict())
    zero_pruned(model, mask)
    assert set(model.state_dict()) == names and zeroed_mask(model) is mask
    release(model)
    assert zeroed_mask(model) is None
    z = torch.rand(1, 8, 24, 24)
    model(z).mean().backward()
    name = next(iter(mask))
    assert torch.count_nonzero(dict(model.named_parameters())[name].grad[~mask[name]]) > 0


def test_a_nan_gradient_cannot_revive_a_pruned_weight(tiny_config):
    model, mask = _model_and_mask(tiny_config)
    zero_pruned(model, mask)
    name = next(iter(mask))
    weight = dict(model.named_parameters())[name]
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1, fused=True)
    z = torch.rand(1, 8, 24, 24)
    # A NaN that reaches only the pruned entries' gradients: a product with the mask would keep it.
    weight.register_hook(lambda grad: torch.where(mask[name], grad, float("nan")))
    for _ in range(3):
        optimizer.zero_grad()
        model(z).mean().backward()
        optimizer.step()
    assert torch.count_nonzero(weight[~mask[name]]) == 0
    assert torch.isfinite(weight).all()
