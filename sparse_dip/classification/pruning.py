"""The shared pruning core applied to classifiers: masks at initialisation and layer collapse.

The methods are those of the registry (:mod:`sparse_dip.pruning.methods`); this module only
supplies what a classifier needs for them: the prunable weights (every convolution and linear
weight), a labelled batch and cross-entropy for SNIP and GraSP (GraSP's logits divided by 200,
as in its code), minibatches of the training set for OES, an input shape for SynFlow.
``compression`` is ``1 / density``, as the SynFlow paper counts it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.func import functional_call
from torch.nn import functional as F

from sparse_dip import defaults
from sparse_dip.classification.data import Dataset
from sparse_dip.pruning.mask import Mask, Scope, maskable_names
from sparse_dip.pruning.methods import Problem, ScoreConfig, SynFlowConfig, find
from sparse_dip.pruning.oes import OESConfig
from sparse_dip.pruning.prune import Schedule
from sparse_dip.pruning.scores import Loss, functional_loss, preserved

METHODS = ("random", "magnitude", "snip", "grasp", "synflow", "oes")
"""The registry's methods that prune a classifier at initialisation (IMP trains: :mod:`lottery`)."""
GRASP_TEMPERATURE = 200.0
OES_BATCH = 128


def prunable_names(model: nn.Module) -> list[str]:
    """Every convolution and linear weight (biases and BatchNorm stay dense)."""
    return maskable_names(model, "weights")


def scoring_batch(
    data: Dataset | None, shape: tuple[int, int, int], classes: int, per_class: int = 10, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """``per_class`` training samples of every class (SNIP's and GraSP's batch); without data,
    Gaussian inputs with random labels (pruning 'data-free' for a data-driven method)."""
    generator = torch.Generator().manual_seed(seed)
    if data is None:
        n = per_class * classes
        return torch.randn(n, *shape, generator=generator), torch.randint(0, classes, (n,), generator=generator)
    picks = []
    for label in range(data.classes):
        members = torch.nonzero(data.train.labels == label).flatten()
        picks.append(members[torch.randperm(len(members), generator=generator)[:per_class]])
    index = torch.cat(picks)
    return data.train.images[index], data.train.labels[index]


def minibatch_loss(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = OES_BATCH, seed: int = 0
) -> Loss:
    """Cross-entropy of the next minibatch of ``(images, labels)`` at the given weights: each call
    takes the next ``batch_size`` samples of a seeded shuffle, reshuffled after every pass. OES
    on a classifier minimises this, so its mask is learned from the training set, not one batch
    (as a supermask is: Zhou et al., 2019; Ramanujan et al., 2020)."""
    generator = torch.Generator().manual_seed(seed)
    batch_size = min(batch_size, len(labels))
    state = {"order": torch.randperm(len(labels), generator=generator), "at": 0}

    def loss(weights: Mapping[str, torch.Tensor]) -> torch.Tensor:
        if state["at"] + batch_size > len(labels):
            state["order"], state["at"] = torch.randperm(len(labels), generator=generator), 0
        index = state["order"][state["at"] : state["at"] + batch_size].to(images.device)
        state["at"] += batch_size
        return F.cross_entropy(functional_call(model, dict(weights), (images[index],)), labels[index])

    return loss


def prune_classifier(
    model: nn.Module,
    method: str,
    compression: float,
    *,
    data: Dataset | None = None,
    shape: tuple[int, int, int] | None = None,
    classes: int = 10,
    scope: Scope = "global",
    rounds: int | None = None,
    schedule: Schedule = "exponential",
    seed: int = 0,
    oes: OESConfig = OESConfig(),
) -> Mask:
    """A mask keeping ``1 / compression`` of ``model``'s prunable weights, found by ``method``.

    SNIP and GraSP score one batch (:func:`scoring_batch`); OES learns its mask on minibatches
    of the training set (:func:`minibatch_loss`; without data, on the Gaussian batch) with
    ``oes``'s settings; SynFlow needs only the input shape. ``rounds`` defaults to 100 for
    SynFlow (the others are one shot). The model is left as it was (weights, buffers, modes).
    """
    if method not in METHODS:
        raise ValueError(f"unknown pruning method {method!r}; choose from {', '.join(METHODS)}")
    if compression < 1.0:
        raise ValueError(f"compression must be at least 1, got {compression}")
    shape = shape or (data.shape if data is not None else None)
    if shape is None:
        raise ValueError("give the data or the input shape")
    names = prunable_names(model)
    if compression == 1.0:
        return Mask({n: torch.ones_like(p, dtype=torch.bool) for n, p in model.named_parameters() if n in names})
    device = next(model.parameters()).device
    images, labels = scoring_batch(data, shape, data.classes if data is not None else classes, seed=seed)
    images, labels = images.to(device), labels.to(device)
    temperature = GRASP_TEMPERATURE if method == "grasp" else 1.0
    loss = functional_loss(model, [images], lambda logits: F.cross_entropy(logits / temperature, labels))
    config: object = ScoreConfig(scope=scope)
    if method == "synflow":
        config = SynFlowConfig(scope=scope, rounds=rounds or defaults.SYNFLOW_ROUNDS, schedule=schedule)
    elif method == "oes":
        config = oes
        if data is not None:
            loss = minibatch_loss(model, data.train.images.to(device), data.train.labels.to(device), seed=seed)
    problem = Problem(
        model,
        names,
        loss=loss,
        example_input=images[:1],
        generator=torch.Generator().manual_seed(seed),
    )
    with preserved(model):
        return find(method, problem, 1.0 / compression, config)


@dataclass
class CollapseCurve:
    """One method's sweep: the remaining fraction of every layer at each compression."""

    method: str
    log10_compressions: list[float] = field(default_factory=list)
    remaining: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def critical_log10_compression(self) -> float | None:
        """The largest compression swept before the first one that empties a prunable layer."""
        critical = None
        for log_c, fractions in zip(self.log10_compressions, self.remaining):
            if min(fractions.values()) == 0.0:
                break
            critical = log_c
        return critical

    def to_dict(self) -> dict:
        return {
            "critical_log10_compression": self.critical_log10_compression,
            "log10_compressions": self.log10_compressions,
            "remaining_per_layer": self.remaining,
            "seconds": self.seconds,
        }


def layer_collapse(
    build: Callable[[], nn.Module],
    methods: Sequence[str],
    log10_compressions: Sequence[float],
    *,
    data: Dataset | None = None,
    shape: tuple[int, int, int] | None = None,
    classes: int = 10,
    scope: Scope = "global",
    rounds: int | None = None,
    seed: int = 0,
    on_point: Callable[[str, float, dict[str, float]], None] | None = None,
) -> dict[str, CollapseCurve]:
    """Prune a fresh ``build()`` at each compression with each method; record what remains per layer.

    ``build`` must return the same initial weights every call (seed it), so every method and
    compression starts from one network.
    """
    curves = {}
    for method in methods:
        curve = CollapseCurve(method)
        started = time.perf_counter()
        for log_c in log10_compressions:
            model = build()
            mask = prune_classifier(
                model,
                method,
                10.0**log_c,
                data=data,
                shape=shape,
                classes=classes,
                scope=scope,
                rounds=rounds if method == "synflow" else None,
                seed=seed,
            )
            fractions = mask.density_per_layer()
            curve.log10_compressions.append(log_c)
            curve.remaining.append(fractions)
            if on_point is not None:
                on_point(method, log_c, fractions)
        curve.seconds = time.perf_counter() - started
        curves[method] = curve
    return curves


def compression_grid(maximum_log10: float = 6.0, step: float = 0.25) -> list[float]:
    """``0, step, 2 step, ..., maximum_log10`` (log10 of the compression)."""
    return [round(k * step, 6) for k in range(math.floor(maximum_log10 / step + 1e-9) + 1)]
