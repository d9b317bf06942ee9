"""Lottery tickets on classifiers: IMP with (late) rewinding, and linear-mode-connectivity stability.

Frankle, Dziugaite, Roy and Carbin, *Linear Mode Connectivity and the Lottery Ticket
Hypothesis*, ICML 2020. IMP is the shared runner of :mod:`sparse_dip.pruning.imp` with the
classifier's training loop; rewinding to step ``k`` resumes the learning-rate schedule and the
data order at ``k`` with a fresh optimizer. Instability: two copies of the network at step
``k`` train on different data orders; the test error is evaluated at evenly spaced points on
the straight line between their final weights, and instability is the highest error on the
path minus the mean of the two endpoint errors. Every parameter and floating-point buffer is
interpolated, BatchNorm's running statistics included.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch
from torch import nn

from sparse_dip.classification.data import Dataset
from sparse_dip.classification.pruning import prunable_names
from sparse_dip.classification.train import TrainConfig, TrainResult, evaluate, train
from sparse_dip.pruning.imp import IMPConfig, IMPLevel, iterative_magnitude_pruning, load_state, state_of
from sparse_dip.pruning.mask import Mask
from sparse_dip.pruning.parametrize import apply_mask


def imp(
    model: nn.Module,
    data: Dataset,
    config: TrainConfig,
    levels: int,
    imp_config: IMPConfig = IMPConfig(),
    on_level: Callable[[IMPLevel], None] | None = None,
    on_step: Callable[[int, int], None] | None = None,
) -> list[IMPLevel]:
    """``levels`` rounds of IMP on ``model`` (plain, at its initialisation); each level's result
    is its :class:`TrainResult` (test accuracy at the end of training)."""

    def run(net: nn.Module, start: int, record: int | None) -> tuple[TrainResult, dict | None]:
        result = train(net, data, config, start_step=start, record_step=record, on_step=on_step)
        return result, result.recorded

    target = (1.0 - imp_config.rate) ** levels
    return iterative_magnitude_pruning(model, prunable_names(model), run, target, imp_config, on_level)


@dataclass
class Stability:
    """Test error along the line between two trained copies, and the instability it shows."""

    rewind_step: int
    alphas: list[float]
    errors: list[float]

    @property
    def instability(self) -> float:
        return max(self.errors) - 0.5 * (self.errors[0] + self.errors[-1])

    def to_dict(self) -> dict:
        return {
            "rewind_step": self.rewind_step,
            "instability": self.instability,
            "alphas": self.alphas,
            "errors": self.errors,
        }


def interpolate(a: nn.Module, b: nn.Module, alpha: float, into: nn.Module) -> nn.Module:
    """Load ``(1 - alpha) * a + alpha * b`` (every floating-point tensor of the state) into ``into``."""
    state_b = b.state_dict()
    mixed = {
        name: torch.lerp(t, state_b[name], alpha) if t.is_floating_point() else t for name, t in a.state_dict().items()
    }
    into.load_state_dict(mixed)
    return into


def stability(
    model: nn.Module,
    data: Dataset,
    config: TrainConfig,
    rewind_step: int,
    mask: Mask | None = None,
    data_seeds: tuple[int, int] = (1, 2),
    points: int = 30,
    on_step: Callable[[int, int], None] | None = None,
) -> Stability:
    """Instability of ``model`` (plain, at init) when its copies split at ``rewind_step``.

    Training up to ``rewind_step`` is shared (data order ``config.data_seed``); the copies
    then continue with ``data_seeds``. With ``mask``, every copy trains under it.
    """
    trunk = copy.deepcopy(model)
    if rewind_step:
        shared = train(trunk, data, config, end_step=rewind_step, record_step=rewind_step, on_step=on_step)
        split_state = shared.recorded
    else:
        split_state = state_of(trunk)
    copies = []
    for seed in data_seeds:
        child = copy.deepcopy(model)
        load_state(child, split_state)
        if mask is not None:
            apply_mask(child, mask)
        train(child, data, replace(config, data_seed=seed), start_step=rewind_step, on_step=on_step)
        copies.append(child)
    probe = copy.deepcopy(copies[0])
    alphas = [k / (points - 1) for k in range(points)]
    errors = [1.0 - evaluate(interpolate(copies[0], copies[1], alpha, probe), data.test)[0] for alpha in alphas]
    return Stability(rewind_step, alphas, errors)
