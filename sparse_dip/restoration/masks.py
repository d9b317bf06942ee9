"""Masks for the DIP generator by every method: OES and the baselines behind one function.

All methods see the same thing: the generator at its random initialisation, its input noise
``z``, the view of the observation the mask is learned on and its forward operator ``A``.
Data-driven scores (SNIP, GraSP) use the fitting loss ``MSE(A(crop(G(z))), y)``
(:mod:`sparse_dip.restoration.data_loss`) at initialisation with BatchNorm in train
mode, as the generator is fitted; SynFlow needs no data (an all-ones input of ``z``'s shape,
``R`` summed before the final sigmoid); IMP fits the generator to the view for
``imp_steps`` per level. Every method ends at exactly the requested density.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace

import torch

from sparse_dip import defaults
from sparse_dip.generators.hourglass import Hourglass, crop
from sparse_dip.oes import OESConfig, learn_mask
from sparse_dip.physics import Operator
from sparse_dip.pruning.imp import IMPConfig, iterative_magnitude_pruning
from sparse_dip.pruning.mask import Mask, Scope, maskable_names
from sparse_dip.pruning.prune import make_scorer, prune
from sparse_dip.pruning.scores import functional_loss
from sparse_dip.restoration.data_loss import IDENTITY, mse
from sparse_dip.restoration.fit import FitConfig, fit
from sparse_dip.runtime import stream

METHODS = ("oes", "random", "magnitude", "snip", "grasp", "synflow", "imp")


@dataclass(frozen=True)
class BaselineConfig:
    """Settings of the baseline mask methods (OES has its own :class:`~sparse_dip.oes.OESConfig`).

    ``scope``: rank scores over the whole network or layer by layer; ``synflow_rounds``:
    SynFlow's pruning rounds on an exponential schedule; ``imp``: IMP's rate and rewind step;
    ``imp_steps``: fitting steps per IMP level.
    """

    scope: Scope = "global"
    synflow_rounds: int = defaults.SYNFLOW_ROUNDS
    imp: IMPConfig = field(default_factory=IMPConfig)
    imp_steps: int = defaults.IMP_STEPS

    def __post_init__(self) -> None:
        if self.synflow_rounds < 1 or self.imp_steps < 1:
            raise ValueError("synflow_rounds and imp_steps must be positive")
        if self.imp.rewind_step >= self.imp_steps:
            raise ValueError(f"the rewind step ({self.imp.rewind_step}) must come before imp_steps ({self.imp_steps})")

    def to_dict(self) -> dict:
        return asdict(self)


def find_mask(
    method: str,
    model: Hourglass,
    z: torch.Tensor,
    target: torch.Tensor,
    density: float,
    *,
    seed: int = 0,
    oes: OESConfig = OESConfig(),
    baseline: BaselineConfig = BaselineConfig(),
    fit_config: FitConfig = FitConfig(),
    on_step: Callable[[int, float], None] | None = None,
    operator: Operator = IDENTITY,
) -> Mask:
    """A mask keeping ``density`` of ``model``'s maskable weights, found by ``method``.

    ``target`` is an observation ``[1, C, h, w]`` of an image through ``operator``, and
    ``model(z)`` covers that image (central crop). The model is
    left as it was, except after ``"imp"``: at its rewind point (the init, or the weights of
    step ``baseline.imp.rewind_step``), with the final mask enforced. ``fit_config`` supplies
    IMP's fitting settings (its number of steps is ``baseline.imp_steps``).
    """
    if method not in METHODS:
        raise ValueError(f"unknown mask method {method!r}; known: {', '.join(METHODS)}")
    names = maskable_names(model, oes.include if method == "oes" else "weights")
    height, width = operator.image_size(*target.shape[-2:])
    if method == "oes":
        generator = stream(seed, "relaxation", z.device)
        return learn_mask(
            model,
            z,
            target,
            density,
            oes,
            generator=generator,
            callback=on_step,
            sure_sigma=fit_config.sure_sigma,
            operator=operator,
        ).mask
    if method == "imp":
        return _imp_mask(model, names, z, target, density, baseline, fit_config, on_step, operator)

    def fitting_loss(output: torch.Tensor) -> torch.Tensor:
        return mse(crop(output, height, width), target, operator)

    scorer = make_scorer(
        method,
        model,
        names,
        loss=functional_loss(model, [z], fitting_loss),
        example_input=z,
        forward=Hourglass.pre_activation,
        generator=stream(seed, "random mask"),
    )
    rounds = baseline.synflow_rounds if method == "synflow" else 1
    return prune(scorer, density, rounds=rounds, scope=baseline.scope)


def _imp_mask(model, names, z, target, density, baseline, fit_config, on_step, operator) -> Mask:
    steps = baseline.imp_steps

    def train(net, start_step: int, record_step: int | None):
        config = replace(fit_config, steps=steps - start_step, lr_schedule="constant", stop=None)
        result = fit(net, z, target, config, record_step=record_step, operator=operator)
        return result.history, result.recorded

    def level_done(level) -> None:
        if on_step is not None:
            on_step(level.level, level.density)

    levels = iterative_magnitude_pruning(
        model, names, train, density, baseline.imp, on_level=level_done, train_last=False
    )
    mask = levels[-1].mask
    assert mask is not None
    return mask
