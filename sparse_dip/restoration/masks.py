"""Masks for the DIP generator by every method of the pruning registry, behind one function.

All methods see the same thing: the generator at its random initialisation, its input noise
``z``, the view of the observation the mask is learned on and its forward operator ``A``.
Data-driven methods (OES, channel OES, SNIP, GraSP) use the fitting loss ``MSE(A(crop(G(z))), y)``
(:func:`image_loss`, :mod:`sparse_dip.restoration.data_loss`) at initialisation with
BatchNorm in train mode, as the generator is fitted; SynFlow needs no data (an all-ones input
of ``z``'s shape, ``R`` summed before the final sigmoid); IMP fits the generator to the view
for ``imp_steps`` per level. Every method ends at exactly the requested density.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace

import torch
from torch import nn
from torch.func import functional_call

from sparse_dip import defaults
from sparse_dip.generators.compact import cuttable
from sparse_dip.generators.hourglass import Hourglass, crop
from sparse_dip.physics import Operator
from sparse_dip.pruning.imp import IMPConfig
from sparse_dip.pruning.mask import Mask, Scope, maskable_names
from sparse_dip.pruning.methods import METHODS as REGISTRY
from sparse_dip.pruning.methods import Problem, ProfileConfig, ScoreConfig, SynFlowConfig, find
from sparse_dip.pruning.oes import OESConfig, OESResult, learn_mask
from sparse_dip.pruning.scores import Loss
from sparse_dip.restoration import sure
from sparse_dip.restoration.data_loss import IDENTITY, data_loss
from sparse_dip.restoration.fit import FitConfig, fit
from sparse_dip.runtime import stream

METHODS = tuple(REGISTRY)


@dataclass(frozen=True)
class BaselineConfig:
    """Settings of the baseline mask methods (OES has its own :class:`~sparse_dip.pruning.oes.OESConfig`).

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

    def for_method(self, method: str) -> ScoreConfig | SynFlowConfig | IMPConfig | ProfileConfig:
        """The registry config of a baseline ``method`` these settings make."""
        if method == "profile":
            return ProfileConfig()
        if method == "synflow":
            return SynFlowConfig(scope=self.scope, rounds=self.synflow_rounds)
        if method == "imp":
            return self.imp
        return ScoreConfig(scope=self.scope)


def image_loss(
    model: nn.Module,
    z: torch.Tensor,
    target: torch.Tensor,
    operator: Operator = IDENTITY,
    sure_sigma: float | None = None,
    generator: torch.Generator | None = None,
) -> Loss:
    """The DIP data term as a loss of the generator's maskable weights, for the pruning methods.

    ``loss(weights) = MSE(A(crop(G(z; weights))), target)``, the crop the size of the image
    ``target`` is observed from. With ``sure_sigma`` it is SURE instead, ``z`` must be the
    observation and each call perturbs it as a SURE fit does (:mod:`sparse_dip.restoration.sure`),
    drawing from ``generator``.
    """
    height, width = operator.image_size(*target.shape[-2:])
    generator = generator or torch.Generator(device=z.device).manual_seed(0)

    def loss(weights: Mapping[str, torch.Tensor]) -> torch.Tensor:
        def forward(batch: torch.Tensor) -> torch.Tensor:
            return crop(functional_call(model, dict(weights), (batch,)).float(), height, width)

        inputs = z
        if sure_sigma is not None:
            inputs = z + sure.INPUT_NOISE * sure_sigma * torch.randn(z.shape, generator=generator, device=z.device)
        return data_loss(forward, inputs, target, sure_sigma, generator, operator)[0]

    return loss


def learn_generator_mask(
    model: nn.Module,
    z: torch.Tensor,
    target: torch.Tensor,
    density: float,
    config: OESConfig = OESConfig(),
    generator: torch.Generator | None = None,
    callback: Callable[[int, float], None] | None = None,
    log_every: int = 50,
    sure_sigma: float | None = None,
    operator: Operator = IDENTITY,
) -> OESResult:
    """OES on a DIP generator: the mask of ``model(z)`` that best fits ``target`` through ``operator``.

    ``target`` is ``[1, C, h, w]`` in ``[0, 1]``; ``model(z)`` covers the image it is observed
    from (central crop). One ``generator`` draws the relaxation noise and, with ``sure_sigma``,
    SURE's perturbations.
    """
    generator = generator or torch.Generator(device=z.device).manual_seed(0)
    loss = image_loss(model, z, target, operator, sure_sigma, generator)
    return learn_mask(model, loss, density, config, generator=generator, callback=callback, log_every=log_every)


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
    IMP's fitting settings (its number of steps is ``baseline.imp_steps``) and the SURE noise
    level of OES's loss.
    """
    if method not in METHODS:
        raise ValueError(f"unknown mask method {method!r}; known: {', '.join(METHODS)}")
    names = maskable_names(model, oes.include if method == "oes" else "weights")
    if method == "oes-channels":
        names = cuttable(model)
    if method in ("oes", "oes-channels"):
        generator = stream(seed, "relaxation", z.device)
        loss = image_loss(model, z, target, operator, fit_config.sure_sigma, generator)
        problem = Problem(model, names, loss=loss, generator=generator, on_step=on_step)
        return find(method, problem, density, oes)
    problem = Problem(
        model,
        names,
        loss=image_loss(model, z, target, operator),
        example_input=z,
        forward=Hourglass.pre_activation,
        train=_imp_train(z, target, baseline.imp_steps, fit_config, operator),
        generator=stream(seed, "random mask"),
        on_step=on_step,
    )
    return find(method, problem, density, baseline.for_method(method))


def _imp_train(z, target, steps: int, fit_config: FitConfig, operator: Operator):
    """IMP's training function: fit the generator to ``target`` from ``start_step`` to ``steps``."""

    def train(net, start_step: int, record_step: int | None):
        config = replace(fit_config, steps=steps - start_step, lr_schedule="constant", stop=None)
        result = fit(net, z, target, config, record_step=record_step, operator=operator)
        return result.history, result.recorded

    return train
