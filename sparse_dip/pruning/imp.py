"""Iterative magnitude pruning (IMP) with rewinding: lottery tickets, early or late.

Frankle and Carbin, *The Lottery Ticket Hypothesis*, ICLR 2019; Frankle, Dziugaite, Roy and
Carbin, *Linear Mode Connectivity and the Lottery Ticket Hypothesis*, ICML 2020.

Level 0 trains the dense network and records its weights at step ``rewind_step`` (step 0 is
the initialisation). Each following level removes ``rate`` of the remaining maskable weights
by global (or per-layer) magnitude of the trained weights, sets every parameter and buffer
back to the recorded state (pruned weights stay zero), and trains again from there. Densities
are ``(1 - rate) ** level`` until the next level would pass the target, which the last level
then hits exactly.

The runner knows nothing of what training means: ``train(model, start_step, record_step)``
trains ``model`` in place (its mask already enforced), continuing a run that is at
``start_step``, and returns its own result plus the state (:func:`state_of`) at
``record_step`` when asked for one. The DIP generator and the classifiers pass their own loops.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from sparse_dip.pruning.mask import Mask, Scope, top_k
from sparse_dip.pruning.parametrize import apply_mask, remove_mask

State = dict[str, torch.Tensor]
Train = Callable[[nn.Module, int, "int | None"], "tuple[Any, State | None]"]


@dataclass(frozen=True)
class IMPConfig:
    """``rate``: fraction of the remaining weights removed per level; ``rewind_step``: 0 rewinds to init."""

    rate: float = 0.2
    rewind_step: int = 0
    scope: Scope = "global"

    def __post_init__(self) -> None:
        if not 0.0 < self.rate < 1.0:
            raise ValueError(f"rate must be in (0, 1), got {self.rate}")
        if self.rewind_step < 0:
            raise ValueError(f"rewind_step must be non-negative, got {self.rewind_step}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class IMPLevel:
    """One level: its mask (None for the dense level 0) and what ``train`` returned."""

    level: int
    density: float
    mask: Mask | None
    result: Any


def imp_densities(target: float, rate: float = 0.2) -> list[float]:
    """The density after each pruning level: ``(1 - rate) ** k``, the last one exactly ``target``."""
    if not 0.0 < target <= 1.0:
        raise ValueError(f"target density must be in (0, 1], got {target}")
    levels = math.ceil(math.log(target) / math.log(1.0 - rate) - 1e-9) if target < 1.0 else 0
    return [max(target, (1.0 - rate) ** k) for k in range(1, levels + 1)]


def state_of(model: nn.Module) -> State:
    """A copy of every parameter and buffer of a plain (unmasked) ``model``, by name."""
    return {n: t.detach().clone() for n, t in model.state_dict().items()}


def load_state(model: nn.Module, state: State) -> None:
    """Set every parameter and buffer of a plain (unmasked) ``model`` to ``state``."""
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            tensor.copy_(state[name])


def iterative_magnitude_pruning(
    model: nn.Module,
    names: Sequence[str],
    train: Train,
    target_density: float,
    config: IMPConfig = IMPConfig(),
    on_level: Callable[[IMPLevel], None] | None = None,
    train_last: bool = True,
) -> list[IMPLevel]:
    """Run IMP on ``model`` (plain, unmasked) down to ``target_density`` of its ``names``.

    Returns every level, dense first, each with its mask enforced on ``model`` as it goes.
    With ``train_last=False`` the last level is pruned and rewound but not trained (its
    result is None): the model is left at the rewind point under the final mask, for a caller
    that trains it its own way. ``on_level`` is called after each level.
    """
    remove_mask(model)
    initial = state_of(model)
    dense_result, recorded = train(model, 0, config.rewind_step or None)
    if config.rewind_step and recorded is None:
        raise ValueError(f"training did not reach the rewind step {config.rewind_step}")
    rewind = recorded if config.rewind_step else initial
    levels = [IMPLevel(0, 1.0, None, dense_result)]
    if on_level is not None:
        on_level(levels[-1])

    mask: Mask | None = None
    densities = imp_densities(target_density, config.rate)
    for level, density in enumerate(densities, start=1):
        remove_mask(model)
        params = dict(model.named_parameters())
        magnitudes = {n: params[n].detach().abs() for n in names}
        mask = top_k(magnitudes, density, config.scope, previous=mask)
        load_state(model, rewind)
        apply_mask(model, mask)
        last = level == len(densities)
        result = train(model, config.rewind_step, None)[0] if train_last or not last else None
        levels.append(IMPLevel(level, mask.density, mask, result))
        if on_level is not None:
            on_level(levels[-1])
    return levels
