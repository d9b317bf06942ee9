"""Compaction: the thinner hourglass computes the same output and the same gradients as the full
one with the mask's empty channels in it (float64, train mode, as the fit runs it)."""

from __future__ import annotations

import pytest
import torch

from sparse_dip.generators.compact import compact
from sparse_dip.generators.hourglass import Hourglass, HourglassConfig
from sparse_dip.pruning.mask import Mask, maskable_names
from sparse_dip.pruning.zeroed import zero_pruned


def _model(skip: int = 0) -> Hourglass:
    torch.manual_seed(0)
    config = HourglassConfig(input_depth=4, channels=(8, 8, 8), skip=(skip,) * 3)
    return Hourglass(config).double().train()


def _channel_mask(model: Hourglass, seed: int = 1) -> Mask:
    """Every convolution but the output: about a third of its filters emptied, and 30 % of the rest's weights."""
    generator = torch.Generator().manual_seed(seed)
    entries = {}
    for name in maskable_names(model):
        weight = dict(model.named_parameters())[name]
        keep = torch.rand(weight.shape, generator=generator) > 0.3
        if name not in ("output.weight", "body.up.weight"):
            keep &= (torch.rand(weight.shape[0], generator=generator) > 0.33)[:, None, None, None]
        entries[name] = keep
    return Mask(entries)


@pytest.mark.parametrize("skip", [0, 2])
def test_the_thinner_network_gives_the_same_output_and_gradients(skip):
    full = _model(skip)
    mask = _channel_mask(full)
    thin, thin_mask, cut = compact(full, mask)
    assert cut.channels_removed > 0
    assert sum(p.numel() for p in thin.parameters()) < sum(p.numel() for p in full.parameters())
    zero_pruned(full, mask)
    zero_pruned(thin, thin_mask)
    z = torch.rand(1, 4, 48, 48, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    target = torch.rand(1, 3, 48, 48, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    optimizers = [torch.optim.Adam(m.parameters(), lr=0.01) for m in (full, thin)]
    for _ in range(3):
        outputs = []
        for model, optimizer in zip((full, thin), optimizers):
            optimizer.zero_grad()
            out = model(z)
            torch.nn.functional.mse_loss(out, target).backward()
            optimizer.step()
            outputs.append(out.detach())
        torch.testing.assert_close(outputs[1], outputs[0], rtol=0, atol=1e-9)
    kept = dict(thin.named_parameters())
    for name, value in full.named_parameters():  # the kept weights moved alike
        if name in kept:
            torch.testing.assert_close(kept[name], cut.slice(name, value.detach()), rtol=0, atol=1e-9)


def test_a_mask_without_empty_channels_leaves_the_model_as_it_is():
    full = _model()
    mask = Mask({n: torch.ones_like(p, dtype=torch.bool) for n, p in full.named_parameters() if p.dim() > 1})
    thin, thin_mask, cut = compact(full, mask)
    assert thin is full and thin_mask is mask and cut.channels_removed == 0


def test_the_output_convolution_and_the_last_up_convolution_are_never_cut():
    full = _model()
    entries = {n: torch.ones_like(p, dtype=torch.bool) for n, p in full.named_parameters() if p.dim() > 1}
    entries["body.up.weight"][:4] = False
    entries["body.deeper.up.weight"][:4] = False
    thin, _, cut = compact(full, Mask(entries))
    assert thin.body.up.out_channels == 8 and thin.output.in_channels == 8
    assert thin.body.deeper.up.out_channels == 4 and thin.body.up_norm.num_features == 4
    assert cut.channels_removed == 4
