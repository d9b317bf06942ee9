"""Property-based tests of the mask core: exact counts, lossless files, pruned weights stay zero."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from sparse_dip.pruning.mask import kept_count, top_k
from sparse_dip.pruning.mask_file import MaskFile, decode, encode
from sparse_dip.pruning.parametrize import apply_mask
from sparse_dip.pruning.zeroed import zero_pruned

shapes = st.lists(st.lists(st.integers(1, 7), min_size=1, max_size=4).map(tuple), min_size=1, max_size=4)
densities = st.floats(0.0, 1.0, exclude_min=True, exclude_max=True)


def _scores(shapes: list[tuple[int, ...]], seed: int, ties: bool) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    scores = {}
    for i, shape in enumerate(shapes):
        values = torch.rand(shape, generator=generator)
        scores[f"layer{i}.weight"] = (values * 4).floor() if ties else values  # ties: only 4 distinct values
    return scores


@settings(max_examples=200, deadline=None)
@given(shapes=shapes, density=densities, seed=st.integers(0, 2**31), ties=st.booleans())
def test_any_density_keeps_exactly_round_density_times_n(shapes, density, seed, ties):
    scores = _scores(shapes, seed, ties)
    total = sum(s.numel() for s in scores.values())
    mask = top_k(scores, density)
    assert mask.kept == kept_count(density, total) == round(density * total)
    assert all(mask[n].shape == s.shape for n, s in scores.items())
    kept = torch.cat([scores[n][mask[n]] for n in mask])
    pruned = torch.cat([scores[n][~mask[n]] for n in mask])
    if kept.numel() and pruned.numel():  # every kept score is at least every pruned score
        assert kept.min() >= pruned.max()
    by_layer = top_k(scores, density, scope="layer")
    assert all(int(by_layer[n].sum()) == round(density * s.numel()) for n, s in scores.items())


@settings(max_examples=100, deadline=None)
@given(shapes=shapes, density=densities, seed=st.integers(0, 2**31))
def test_masks_survive_save_and_load_bit_for_bit(shapes, density, seed):
    mask = top_k(_scores(shapes, seed, ties=False), density)
    info = {"density": density, "seed": seed}
    loaded = decode(encode(MaskFile(mask, info)))
    assert list(loaded.mask) == list(mask)
    assert all(torch.equal(loaded.mask[n], mask[n]) for n in mask)
    assert loaded.info == info


def _net() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(2, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 3, 1), nn.Flatten(), nn.LazyLinear(5)
    )


OPTIMIZERS = {
    "sgd": lambda p, lr, wd: torch.optim.SGD(p, lr=lr, momentum=0.9, weight_decay=wd, nesterov=True),
    "adam": lambda p, lr, wd: torch.optim.Adam(p, lr=lr, weight_decay=wd),
    "adamw": lambda p, lr, wd: torch.optim.AdamW(p, lr=lr, weight_decay=wd),
    "rmsprop": lambda p, lr, wd: torch.optim.RMSprop(p, lr=lr, weight_decay=wd, momentum=0.5),
}


@settings(max_examples=40, deadline=None)
@given(
    plan=st.lists(
        st.tuples(st.sampled_from(sorted(OPTIMIZERS)), st.floats(1e-4, 1.0), st.floats(0.0, 0.5), st.integers(1, 4)),
        min_size=1,
        max_size=4,
    ),
    density=densities,
    seed=st.integers(0, 2**31),
    enforce=st.sampled_from([apply_mask, zero_pruned]),
)
def test_pruned_weights_stay_zero_through_any_optimizer_steps(plan, density, seed, enforce):
    torch.manual_seed(seed)
    model = _net()
    x, y = torch.randn(3, 2, 6, 6), torch.randn(3, 5)
    model(x)  # materialise the lazy layer
    params = dict(model.named_parameters())
    mask = top_k({n: torch.rand(params[n].shape) for n in params if params[n].dim() > 1}, density)
    enforce(model, mask)  # the parametrisation, or zeroed weights with zeroed gradients
    for name, lr, decay, steps in plan:  # optimizers change mid-run, as in a fit after a mask search
        optimizer = OPTIMIZERS[name](model.parameters(), lr, decay)
        for _ in range(steps):
            optimizer.zero_grad()
            nn.functional.mse_loss(model(x), y).backward()
            optimizer.step()
    for name, keep in mask.items():
        assert torch.count_nonzero(_masked(model, name)[~keep]) == 0


def _masked(model: nn.Module, name: str) -> torch.Tensor:
    module_name, _, attr = name.rpartition(".")
    return getattr(model.get_submodule(module_name), attr).detach()
