import itertools

import pytest
import torch
from torch import nn

from sparse_dip.pruning.imp import IMPConfig, imp_densities, iterative_magnitude_pruning, state_of
from sparse_dip.pruning.mask import maskable_names


class _ToyTraining:
    """Stands in for a training loop: records the weights it starts from, then moves every
    parameter by seeded Gaussian steps, so trained weights differ from every earlier state."""

    def __init__(self, steps: int = 10) -> None:
        self.steps = steps
        self.starts: list[dict[str, torch.Tensor]] = []

    def __call__(self, model: nn.Module, start_step: int, record_step: int | None):
        self.starts.append({n: p.detach().clone() for n, p in _used_weights(model).items()})
        recorded = None
        g = torch.Generator().manual_seed(len(self.starts))
        for step in range(start_step + 1, self.steps + 1):
            with torch.no_grad():
                for p in model.parameters():
                    p.add_(0.05 * torch.randn(p.shape, generator=g))
            if step == record_step:
                recorded = state_of(model)
        return {"start": start_step}, recorded


def _used_weights(model: nn.Module) -> dict[str, torch.Tensor]:
    return {n: model.get_submodule(n.rpartition(".")[0]).weight for n in ("0.weight", "2.weight")}


def _net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(10, 20), nn.ReLU(), nn.Linear(20, 5))


@pytest.mark.parametrize("rewind_step", [0, 3])
def test_imp_levels_have_the_expected_density_and_start_from_the_rewind_point(rewind_step):
    model = _net()
    names = maskable_names(model)
    initial = {n: p.detach().clone() for n, p in model.named_parameters()}
    training = _ToyTraining()
    levels = iterative_magnitude_pruning(model, names, training, 0.8**3, IMPConfig(rewind_step=rewind_step))

    assert [lv.level for lv in levels] == [0, 1, 2, 3]
    total = 10 * 20 + 20 * 5
    for k, level in enumerate(levels[1:], start=1):
        assert level.mask.kept == round(0.8**k * total)
        assert level.result == {"start": rewind_step}

    if rewind_step == 0:
        rewind = {n: initial[n] for n in names}
    else:
        # level 0 started from the initial weights; the toy drift is reproducible, so replay it.
        replay = _net()
        _, recorded = _ToyTraining()(replay, 0, rewind_step)
        rewind = {n: recorded[n] for n in names}
    for k, level in enumerate(levels[1:], start=1):
        start = training.starts[k]
        for n in names:
            keep = level.mask[n]
            assert torch.equal(start[n][keep], rewind[n][keep])
            assert torch.all(start[n][~keep] == 0)


def test_pruned_weights_never_come_back():
    model = _net()
    names = maskable_names(model)
    levels = iterative_magnitude_pruning(model, names, _ToyTraining(), 0.3)
    for earlier, later in itertools.pairwise(levels[1:]):
        for n in names:
            assert not torch.any(later.mask[n] & ~earlier.mask[n])


def test_imp_densities():
    assert imp_densities(0.8**3) == pytest.approx([0.8, 0.64, 0.512])
    densities = imp_densities(0.05)
    assert len(densities) == 14 and densities[-1] == 0.05 and densities[-2] == pytest.approx(0.8**13)
    assert imp_densities(1.0) == []
    with pytest.raises(ValueError):
        IMPConfig(rate=1.0)


def test_without_training_the_last_level_the_model_is_left_rewound_under_the_final_mask():
    model = _net()
    names = maskable_names(model)
    initial = {n: p.detach().clone() for n, p in model.named_parameters()}
    training = _ToyTraining()
    levels = iterative_magnitude_pruning(model, names, training, 0.64, train_last=False)
    assert len(training.starts) == 2 and levels[-1].result is None
    final = levels[-1].mask
    for n, used in _used_weights(model).items():
        assert torch.equal(used.detach(), initial[n] * final[n])
