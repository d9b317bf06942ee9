"""Pruning with any scorer: one shot or on an iterative density schedule, global or per layer.

    mask = prune(SynFlowScorer(model, names, example_input=x), density=0.001, rounds=100)

Each round scores the network as the previous round left it (pruned weights are zero) and
keeps the highest scores with :func:`~sparse_dip.pruning.mask.top_k`, so pruned weights stay
pruned. SynFlow (Tanaka et al., 2020) needs the rounds (100, exponential schedule) to avoid
layer collapse; the other scorers are defined one shot (``rounds=1``).
"""

from __future__ import annotations

from typing import Literal

from sparse_dip.pruning.mask import Mask, Scope, top_k
from sparse_dip.pruning.scores import Scorer

Schedule = Literal["exponential", "linear"]


def density_schedule(start: float, end: float, rounds: int, schedule: Schedule = "exponential") -> list[float]:
    """The density after each of ``rounds`` rounds, from ``start`` (exclusive) to ``end`` (inclusive).

    Exponential: ``start * (end / start) ** (k / rounds)``, the same fraction pruned each round;
    linear: ``start + (end - start) * k / rounds``.
    """
    if rounds < 1:
        raise ValueError(f"rounds must be positive, got {rounds}")
    if not 0.0 < end <= start <= 1.0:
        raise ValueError(f"need 0 < end <= start <= 1, got start {start} and end {end}")
    if schedule == "exponential":
        return [start * (end / start) ** (k / rounds) for k in range(1, rounds + 1)]
    if schedule == "linear":
        return [start + (end - start) * k / rounds for k in range(1, rounds + 1)]
    raise ValueError(f"schedule must be 'exponential' or 'linear', got {schedule!r}")


def prune(
    scorer: Scorer,
    density: float,
    *,
    rounds: int = 1,
    schedule: Schedule = "exponential",
    scope: Scope = "global",
    previous: Mask | None = None,
) -> Mask:
    """Prune the scorer's weights to ``density`` (the kept fraction of all of them) in ``rounds`` rounds."""
    current = previous
    start = previous.density if previous is not None else 1.0
    for target in density_schedule(start, density, rounds, schedule):
        current = top_k(scorer.scores(current), target, scope, previous=current)
    assert current is not None
    return current
