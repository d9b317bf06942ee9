"""Channel-level OES: whole filters kept or pruned at about the requested fraction, at least one
per layer, and a restoration whose fit runs the thinner network the mask leaves."""

from __future__ import annotations

import numpy as np
import torch

from sparse_dip.generators.compact import cuttable
from sparse_dip.generators.hourglass import Hourglass, HourglassConfig
from sparse_dip.physics import Identity
from sparse_dip.pruning.channel_oes import filters_at
from sparse_dip.pruning.methods import Problem, find
from sparse_dip.pruning.oes import OESConfig
from sparse_dip.restoration.fit import FitConfig
from sparse_dip.restoration.masks import image_loss
from sparse_dip.restoration.pipeline import RestoreConfig, restore


def test_filters_are_taken_by_logit_until_their_weights_reach_the_fraction():
    logits = {"a": torch.tensor([3.0, -1.0, 0.5]), "b": torch.tensor([-5.0, -6.0]), "c": torch.tensor([2.0, 1.0])}
    sizes = {"a": 10, "b": 100, "c": 1}
    kept = filters_at(logits, sizes, density=0.05)  # 0.05 * 232 = 11.6 weights
    # each layer's best (a0, b0, c0) already holds 111 weights: nothing more is needed
    assert [k.tolist() for k in kept.values()] == [[True, False, False], [True, False], [True, False]]
    kept = filters_at(logits, sizes, density=0.55)  # 127.6: then c1 (1), a2 (10), a1 (10) by logit
    assert [k.tolist() for k in kept.values()] == [[True, True, True], [True, False], [True, True]]


def _problem():
    model = Hourglass(HourglassConfig(input_depth=4, channels=(8, 8, 8), skip=(0, 0, 0)))
    z = torch.rand(1, 4, 48, 48, generator=torch.Generator().manual_seed(0))
    target = torch.rand(1, 3, 48, 48, generator=torch.Generator().manual_seed(1))
    return model, Problem(model, cuttable(model), loss=image_loss(model, z, target))


def test_the_mask_keeps_whole_filters_near_the_fraction_and_leaves_the_weights():
    model, problem = _problem()
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    mask = find("oes-channels", problem, 0.4, OESConfig(steps=20))
    assert list(mask) == cuttable(model)
    for name, keep in mask.items():
        per_filter = keep.flatten(1)
        assert bool((per_filter.all(1) | ~per_filter.any(1)).all()), name  # each filter all or nothing
        assert per_filter.any(1).any(), name  # at least one filter per layer
    largest = max(keep[0].numel() for keep in mask.values())
    assert 0.4 * mask.total <= mask.kept <= 0.4 * mask.total + largest
    assert all(torch.equal(p, before[n]) for n, p in model.named_parameters())


def test_a_restoration_with_a_channel_mask_fits_the_thinner_network(clean_rgb):
    noisy = np.clip(clean_rgb + np.random.default_rng(0).normal(0, 0.1, clean_rgb.shape), 0, 1).astype(np.float32)
    config = RestoreConfig(
        method="oes-channels", sparsity=0.5, oes=OESConfig(steps=5), fit=FitConfig(steps=5), device="cpu"
    )
    report = restore(noisy, Identity(), config, clean=clean_rgb).report
    compaction = report["compaction"]
    assert compaction["channels_removed"] > 0
    assert compaction["parameters_fitted"] < compaction["parameters"]
    assert np.isfinite(report["psnr"])
