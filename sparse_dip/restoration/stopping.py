"""When to stop a deep-image-prior fit, without a clean image: the windowed moving variance.

ES-WMV (Wang, Li, Zhuang, Chen, Liang, Sun, *Early Stopping for Deep Image Prior*, TMLR 2023):
the variance of the last ``W`` outputs,

    VAR_t = 1/W * sum_{i<W} ||x_{t-i} - mean_W(x)||^2 / N,

falls while the network fits the image and rises once it starts fitting the noise; the output
at its minimum is close to the best one. Hardened as its users report it needs:

- a **warm-up floor**: no minimum counts before step ``warmup`` (the variance can dip early,
  while the network is still drawing a blur);
- **freeze at the first confirmed minimum**: the fit stops once ``patience`` steps pass
  without a lower variance, so a long run cannot drift onto an overfitted iterate;
- a **pixel subsample**: the variance is read on a fixed random subset of ``samples`` pixel
  values (a gather per step into a ``W x samples`` ring buffer), and only every ``every``
  steps, so it costs nothing next to a step of the generator.

The variance at step ``t`` describes the outputs ``t - W + 1 .. t``, centred ``(W - 1) / 2``
steps back, while an exponential average with factor ``ema`` is centred ``ema / (1 - ema)``
steps back. So the returned average is the one taken :func:`average_lag` steps after the
minimum, when both are centred on the same outputs (50 steps for ``W = 100``, ``ema = 0.99``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch


@dataclass(frozen=True)
class StopConfig:
    """Settings of the windowed-variance stopping rule (steps are fit steps; chosen on the dev
    split by ``benchmarks/stopping.py``, ``BENCHMARKS.md``)."""

    window: int = 100
    patience: int = 300
    warmup: int = 200
    every: int = 10
    samples: int = 8192

    def __post_init__(self) -> None:
        if min(self.window, self.patience, self.every, self.samples) < 1 or self.window < 2:
            raise ValueError("window (>= 2), patience, every and samples must be positive")
        if self.warmup < 0:
            raise ValueError(f"warmup must be non-negative, got {self.warmup}")

    def to_dict(self) -> dict:
        return asdict(self)


def average_lag(ema: float | None, window: int) -> int:
    """Steps after a variance minimum at which the output average is centred on the window."""
    if ema is None:
        return 0
    return max(0, math.ceil(ema / (1.0 - ema) - (window - 1) / 2))


class WindowedVariance:
    """The ES-WMV statistic over a run's outputs, and the decision it leads to.

    Call :meth:`add` with every output (kept on the device), then :meth:`check` every step;
    ``check`` reads the variance on the host only every ``config.every`` steps and says whether
    the step is a new minimum (``"best"``), the end of the patience (``"stop"``) or neither.
    """

    def __init__(self, config: StopConfig, numel: int, device: torch.device, seed: int = 0) -> None:
        self.config = config
        count = min(config.samples, numel)
        chooser = torch.Generator().manual_seed(seed)
        self.index = torch.randperm(numel, generator=chooser)[:count].to(device)
        self.buffer = torch.zeros(config.window, count, device=device)
        self.added = 0
        self.best = math.inf
        self.best_step: int | None = None
        self.steps: list[int] = []
        self.variances: list[float] = []

    def add(self, output: torch.Tensor) -> None:
        self.buffer[self.added % self.config.window] = output.reshape(-1)[self.index]
        self.added += 1

    def check(self, step: int) -> str | None:
        """``"best"``, ``"stop"`` or ``None`` for ``step`` (after :meth:`add` of its output)."""
        if self.added < self.config.window or step % self.config.every:
            return None
        return self.judge(step, float(self.buffer.var(dim=0, unbiased=False).mean()))

    def judge(self, step: int, variance: float) -> str | None:
        """The rule's decision on the variance read at ``step`` (also used to replay recorded runs)."""
        self.steps.append(step)
        self.variances.append(variance)
        if step >= self.config.warmup and variance < self.best:
            self.best, self.best_step = variance, step
            return "best"
        if self.best_step is not None and step - self.best_step >= self.config.patience:
            return "stop"
        return None

    def reason(self, stopped: bool, last_step: int, returned_step: int) -> str:
        """One sentence for the report: which step was chosen and why."""
        if self.best_step is None:
            return f"no variance minimum after the warm-up by step {last_step}; the last output is returned"
        returned = f"the average at step {returned_step} is returned"
        if stopped:
            return (
                f"the variance of the last {self.config.window} outputs was lowest at step {self.best_step} "
                f"and did not fall below it in the {self.config.patience} steps after; stopped at step "
                f"{last_step}, {returned}"
            )
        return (
            f"reached the step maximum ({last_step}) before the minimum at step {self.best_step} was confirmed "
            f"({self.config.patience} steps without a lower variance); {returned}"
        )

    def state_dict(self) -> dict:
        return {
            "buffer": self.buffer.clone(),
            "added": self.added,
            "best": self.best,
            "best_step": self.best_step,
            "steps": list(self.steps),
            "variances": list(self.variances),
        }

    def load_state_dict(self, state: dict) -> None:
        self.buffer.copy_(state["buffer"])
        self.added = state["added"]
        self.best = state["best"]
        self.best_step = state["best_step"]
        self.steps = list(state["steps"])
        self.variances = list(state["variances"])
