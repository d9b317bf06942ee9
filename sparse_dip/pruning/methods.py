"""Every pruning method behind one registry: a config dataclass and ``find(problem, density, config) -> Mask``.

    mask = find("snip", Problem(model, names, loss=loss), density=0.05)
    mask = find("synflow", Problem(model, names, example_input=x), 0.001, SynFlowConfig(rounds=100))

A :class:`Problem` carries what the methods may use: the model and its maskable weights, a
differentiable ``loss`` of those weights (SNIP, GraSP, OES), an example input (SynFlow's
shape), a forward to the pre-activation output (SynFlow), a ``train`` function (IMP) and a
random generator (random scores, OES's relaxation). Each method says which it needs and is
refused with a one-line reason without them. The DIP generator
(:mod:`sparse_dip.restoration.masks`) and the classifiers
(:mod:`sparse_dip.classification.pruning`) build their problems; the registry is the same. A
new method is a ``find`` function and a config here and one line in :data:`METHODS`
(the open_lth strategy-registry pattern).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from sparse_dip import defaults
from sparse_dip.pruning.channel_oes import learn_channel_mask
from sparse_dip.pruning.imp import IMPConfig, Train, iterative_magnitude_pruning
from sparse_dip.pruning.mask import Mask, Scope
from sparse_dip.pruning.oes import OESConfig, learn_mask
from sparse_dip.pruning.profile import random_at_profile, stored_profile
from sparse_dip.pruning.prune import Schedule, prune
from sparse_dip.pruning.scores import (
    Forward,
    GraSPScorer,
    Loss,
    MagnitudeScorer,
    RandomScorer,
    SNIPScorer,
    SynFlowScorer,
)


@dataclass
class Problem:
    """What a method prunes (``model``'s weights ``names``) and what it may use to decide.

    ``on_step(step, value)`` reports progress: OES's loss every 50 steps, IMP's density per level.
    """

    model: nn.Module
    names: Sequence[str]
    loss: Loss | None = None
    example_input: torch.Tensor | None = None
    forward: Forward | None = None
    train: Train | None = None
    generator: torch.Generator = field(default_factory=lambda: torch.Generator().manual_seed(0))
    on_step: Callable[[int, float], None] | None = None


@dataclass(frozen=True)
class ScoreConfig:
    """A one-shot score at initialisation, ranked over the whole network or layer by layer."""

    scope: Scope = "global"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class SynFlowConfig:
    """SynFlow's ``rounds`` of pruning on a density ``schedule`` (100 exponential, as the paper)."""

    scope: Scope = "global"
    rounds: int = defaults.SYNFLOW_ROUNDS
    schedule: Schedule = "exponential"

    def __post_init__(self) -> None:
        if self.rounds < 1:
            raise ValueError(f"SynFlow's rounds must be positive, got {self.rounds}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ProfileConfig:
    """The per-layer densities to draw a random mask at (``(name, density)`` pairs); empty: the
    stored profile, averaged from OES masks of the development images (:mod:`~sparse_dip.pruning.profile`)."""

    densities: tuple[tuple[str, float], ...] = ()

    def to_dict(self) -> dict:
        return {"densities": "stored" if not self.densities else dict(self.densities)}


@dataclass(frozen=True)
class Method:
    """A registry entry: a one-line summary (for help texts), the config type, the ``find``
    function, and the :class:`Problem` fields it needs."""

    summary: str
    config: type
    find: Callable[[Problem, float, Any], Mask]
    needs: tuple[str, ...] = ()


def _scored(scorer: Callable[[Problem], Any]) -> Callable[[Problem, float, ScoreConfig], Mask]:
    def find_scored(problem: Problem, density: float, config: ScoreConfig) -> Mask:
        return prune(scorer(problem), density, scope=config.scope)

    return find_scored


def _synflow(problem: Problem, density: float, config: SynFlowConfig) -> Mask:
    scorer = SynFlowScorer(problem.model, problem.names, example_input=problem.example_input, forward=problem.forward)
    return prune(scorer, density, rounds=config.rounds, schedule=config.schedule, scope=config.scope)


def _oes(problem: Problem, density: float, config: OESConfig) -> Mask:
    assert problem.loss is not None
    return learn_mask(
        problem.model,
        problem.loss,
        density,
        config,
        names=problem.names,
        generator=problem.generator,
        callback=problem.on_step,
    ).mask


def _oes_channels(problem: Problem, density: float, config: OESConfig) -> Mask:
    assert problem.loss is not None
    return learn_channel_mask(
        problem.model,
        problem.loss,
        density,
        config,
        names=problem.names,
        generator=problem.generator,
        callback=problem.on_step,
    ).mask


def _imp(problem: Problem, density: float, config: IMPConfig) -> Mask:
    """IMP leaves the model at its rewind point under the final mask (not trained at that level)."""
    assert problem.train is not None
    on_step = problem.on_step
    levels = iterative_magnitude_pruning(
        problem.model,
        problem.names,
        problem.train,
        density,
        config,
        on_level=None if on_step is None else lambda level: on_step(level.level, level.density),
        train_last=False,
    )
    mask = levels[-1].mask
    assert mask is not None
    return mask


def _profile(problem: Problem, density: float, config: ProfileConfig) -> Mask:
    densities = dict(config.densities) if config.densities else stored_profile()
    params = dict(problem.model.named_parameters())
    shapes = {n: params[n].shape for n in problem.names}
    mask = random_at_profile(shapes, densities, density, problem.generator)
    return Mask({n: keep.to(params[n].device) for n, keep in mask.items()})


def _random(p: Problem) -> RandomScorer:
    return RandomScorer(p.model, p.names, generator=p.generator)


def _magnitude(p: Problem) -> MagnitudeScorer:
    return MagnitudeScorer(p.model, p.names)


def _snip(p: Problem) -> SNIPScorer:
    return SNIPScorer(p.model, p.names, loss=p.loss)


def _grasp(p: Problem) -> GraSPScorer:
    return GraSPScorer(p.model, p.names, loss=p.loss)


METHODS: dict[str, Method] = {
    "oes": Method("a mask learned on the random network (Optimal Eye Surgeon)", OESConfig, _oes, ("loss",)),
    "oes-channels": Method(
        "OES over whole output channels: a thinner network to fit", OESConfig, _oes_channels, ("loss",)
    ),
    "random": Method("uniformly random scores", ScoreConfig, _scored(_random)),
    "magnitude": Method("largest |w| at initialisation", ScoreConfig, _scored(_magnitude)),
    "snip": Method("connection sensitivity |g w| (SNIP)", ScoreConfig, _scored(_snip), ("loss",)),
    "grasp": Method("gradient flow w (H g) (GraSP)", ScoreConfig, _scored(_grasp), ("loss",)),
    "synflow": Method("data-free synaptic flow, iterated (SynFlow)", SynFlowConfig, _synflow, ("example_input",)),
    "imp": Method("iterative magnitude pruning with rewinding", IMPConfig, _imp, ("train",)),
    "profile": Method("random positions at OES's average per-layer densities (no search)", ProfileConfig, _profile),
}


def method_names(needs_at_most: Sequence[str] | None = None) -> list[str]:
    """The registered methods, or those whose needs are all in ``needs_at_most``."""
    return [n for n, m in METHODS.items() if needs_at_most is None or set(m.needs) <= set(needs_at_most)]


def find(method: str, problem: Problem, density: float, config: Any = None) -> Mask:
    """The mask ``method`` finds for ``problem``, keeping ``density`` of its weights (exactly).

    ``config`` is the method's own config (``METHODS[method].config``), its defaults when None.
    """
    if method not in METHODS:
        raise ValueError(f"unknown pruning method {method!r}; known: {', '.join(METHODS)}")
    entry = METHODS[method]
    config = entry.config() if config is None else config
    if not isinstance(config, entry.config):
        raise TypeError(f"{method} takes a {entry.config.__name__}, got a {type(config).__name__}")
    missing = [need for need in entry.needs if getattr(problem, need) is None]
    if missing:
        raise ValueError(f"{method} needs {' and '.join(missing)}")
    if not 0.0 < density <= 1.0:
        raise ValueError(f"density must be in (0, 1], got {density}")
    return entry.find(problem, density, config)
