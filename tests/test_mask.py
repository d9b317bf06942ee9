import copy

import pytest
import torch
from torch import nn

from sparse_dip.generators.hourglass import Hourglass
from sparse_dip.pruning.mask import Mask, maskable_names, top_k
from sparse_dip.pruning.parametrize import apply_mask, mask_of, remove_mask


def _scores(model: nn.Module, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {n: torch.rand(p.shape, generator=g) for n, p in model.named_parameters() if p.dim() > 1}


@pytest.mark.parametrize("scope", ["global", "layer"])
@pytest.mark.parametrize("density", [0.05, 0.3, 0.5, 0.999])
def test_top_k_keeps_exactly_the_requested_number(tiny_config, scope, density):
    scores = _scores(Hourglass(tiny_config))
    mask = top_k(scores, density, scope)
    if scope == "global":
        assert mask.kept == round(density * mask.total)
    else:
        for _name, keep in mask.items():
            assert int(keep.sum()) == round(density * keep.numel())


def test_top_k_keeps_the_highest_scores_and_breaks_ties_by_index():
    scores = {"a": torch.tensor([[1.0, 3.0], [2.0, 2.0]]), "b": torch.tensor([[2.0, 0.0]])}
    mask = top_k(scores, 3 / 6)
    assert mask["a"].tolist() == [[False, True], [True, True]]
    assert mask["b"].tolist() == [[False, False]]


def test_pruned_entries_stay_pruned_even_with_high_scores():
    previous = Mask({"a": torch.tensor([True, False, True, True])})
    mask = top_k({"a": torch.tensor([0.0, 9.0, 1.0, 2.0])}, 0.5, previous=previous)
    assert mask["a"].tolist() == [False, False, True, True]
    with pytest.raises(ValueError):
        top_k({"a": torch.zeros(4)}, 1.0, previous=previous)


def test_unknown_scope_is_an_error():
    with pytest.raises(ValueError):
        top_k({"a": torch.zeros(4)}, 0.5, scope="per-channel")


def test_density_report_and_validation(tiny_config):
    model = Hourglass(tiny_config)
    mask = top_k(_scores(model), 0.25)
    report = mask.density_per_layer()
    assert list(report) == maskable_names(model)
    weighted = sum(report[n] * mask[n].numel() for n in mask) / mask.total
    assert weighted == pytest.approx(mask.density)
    with pytest.raises(ValueError, match="shape"):
        Mask({"output.weight": torch.ones(2, 2, dtype=torch.bool)}).check_against(model)
    with pytest.raises(TypeError):
        Mask({"x": torch.ones(2)})


@pytest.mark.parametrize("optimizer", ["adam_l2", "adamw", "sgd_momentum"])
def test_pruned_weights_stay_zero_after_50_steps_with_weight_decay(tiny_config, optimizer):
    torch.manual_seed(0)
    model = Hourglass(tiny_config)
    mask = top_k(_scores(model), 0.2)
    apply_mask(model, mask)
    initial = {n: p.detach().clone() for n, p in model.named_parameters()}
    params = list(model.parameters())
    opt = {
        "adam_l2": lambda: torch.optim.Adam(params, lr=1e-2, weight_decay=1e-2),
        "adamw": lambda: torch.optim.AdamW(params, lr=1e-2, weight_decay=1e-1),
        "sgd_momentum": lambda: torch.optim.SGD(params, lr=1e-2, momentum=0.9, weight_decay=1e-2),
    }[optimizer]()
    z, target = torch.rand(1, 8, 24, 24), torch.rand(1, 3, 24, 24)
    for _ in range(50):
        loss = ((model(z) - target) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    weights = dict(model.named_parameters())
    moved = 0
    for name, keep in mask.items():
        module_name, _, attr = name.rpartition(".")
        effective = getattr(model.get_submodule(module_name), attr)
        stored = weights[f"{module_name}.parametrizations.{attr}.original"]
        assert torch.all(effective[~keep] == 0)
        assert torch.all(stored[~keep] == 0)
        start = initial[f"{module_name}.parametrizations.{attr}.original"]
        moved += int((stored[keep] != start[keep]).sum())
    # Every kept weight moved (measured, each optimizer): the zeros above are not those of an idle model.
    assert moved > 0.9 * mask.kept


def test_rewinding_by_assignment_keeps_pruned_entries_zero(tiny_config):
    model = Hourglass(tiny_config)
    name = maskable_names(model)[0]
    initial = dict(model.named_parameters())[name].detach().clone()
    mask = top_k(_scores(model), 0.1)
    apply_mask(model, mask)
    module_name, _, attr = name.rpartition(".")
    setattr(model.get_submodule(module_name), attr, initial)
    assert torch.equal(getattr(model.get_submodule(module_name), attr), initial * mask[name])


def test_masked_model_deep_copies_and_reports_its_mask(tiny_config):
    model = Hourglass(tiny_config)
    mask = top_k(_scores(model), 0.3)
    apply_mask(model, mask)
    twin = copy.deepcopy(model)
    z = torch.rand(1, 8, 24, 24)
    assert torch.equal(model(z), twin(z))
    assert mask_of(twin) == mask
    remove_mask(model)
    assert mask_of(model) == Mask({})
    name = maskable_names(model)[0]
    assert torch.all(dict(model.named_parameters())[name][~mask[name]] == 0)
