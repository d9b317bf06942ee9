"""Training a classifier: SGD with momentum, a step or cosine schedule, label smoothing.

Training is counted in steps (minibatches) so that a run can resume at any step ``k`` with the
same data order and learning rate an uninterrupted run would have had there, which is what
rewinding (IMP) and the stability analysis need. The data order of each epoch comes from
``(data_seed, epoch)`` alone. A mask enforced on the model (``apply_mask``) stays enforced: the
optimizer updates the unmasked values, the forward pass sees them masked.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Literal

import torch
from torch import nn
from torch.nn import functional as F

from sparse_dip.classification.data import Dataset, Split
from sparse_dip.pruning.imp import State, state_of
from sparse_dip.runtime import resolve_device


@dataclass(frozen=True)
class TrainConfig:
    """SGD settings. ``milestones`` are fractions of training at which a step schedule multiplies
    the learning rate by ``gamma``; ``cosine`` decays it to zero over the run. Label smoothing
    applies for the first ``label_smoothing_epochs`` epochs (0: the whole run)."""

    epochs: int = 20
    batch_size: int = 64
    lr: float = 0.05
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    schedule: Literal["cosine", "step"] = "cosine"
    milestones: tuple[float, ...] = (0.5, 0.75)
    gamma: float = 0.1
    label_smoothing: float = 0.0
    label_smoothing_epochs: float = 0.0
    data_seed: int = 0
    device: str = "auto"

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError("epochs and batch_size must be positive")
        if self.schedule not in ("cosine", "step"):
            raise ValueError(f"schedule must be 'cosine' or 'step', got {self.schedule!r}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class TrainResult:
    """Per-epoch history, final test accuracy, and the state recorded at ``record_step`` (if asked)."""

    history: list[dict] = field(default_factory=list)
    accuracy: float = 0.0
    recorded: State | None = None


def steps_per_epoch(train: Split, batch_size: int) -> int:
    """Full minibatches per epoch (the last partial batch is dropped: BatchNorm needs > 1 sample)."""
    return max(1, len(train) // batch_size)


def learning_rate(config: TrainConfig, step: int, total: int) -> float:
    """The learning rate at ``step`` of ``total``."""
    progress = step / total
    if config.schedule == "cosine":
        return config.lr * 0.5 * (1.0 + math.cos(math.pi * progress))
    return config.lr * config.gamma ** sum(progress >= m for m in config.milestones)


def epoch_order(size: int, data_seed: int, epoch: int) -> torch.Tensor:
    """The shuffled sample order of one epoch, a function of ``(data_seed, epoch)`` only."""
    return torch.randperm(size, generator=torch.Generator().manual_seed(data_seed * 100_003 + epoch))


@torch.no_grad()
def evaluate(model: nn.Module, split: Split, batch_size: int = 1000) -> tuple[float, float]:
    """Accuracy and mean cross-entropy of ``model`` on ``split`` (eval mode, restored after)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    correct, loss = 0, 0.0
    for start in range(0, len(split), batch_size):
        images = split.images[start : start + batch_size].to(device)
        labels = split.labels[start : start + batch_size].to(device)
        logits = model(images)
        loss += float(F.cross_entropy(logits, labels, reduction="sum"))
        correct += int((logits.argmax(1) == labels).sum())
    model.train(was_training)
    return correct / len(split), loss / len(split)


def train(
    model: nn.Module,
    data: Dataset,
    config: TrainConfig = TrainConfig(),
    *,
    start_step: int = 0,
    end_step: int | None = None,
    record_step: int | None = None,
    on_epoch: Callable[[dict], None] | None = None,
    on_step: Callable[[int, int], None] | None = None,
    on_progress: Callable[[float], None] | None = None,
) -> TrainResult:
    """Train ``model`` in place from ``start_step`` to ``end_step`` (default: the end of the
    schedule); evaluate every epoch and at the end.

    The optimizer starts fresh (momentum zero) at ``start_step``, as rewinding prescribes.
    ``record_step`` asks for a copy of the (unmasked) model's state when training reaches it.
    ``on_progress(epoch)`` is called before every step with the fractional epoch (schedules
    such as ToST's ghost fading follow it).
    """
    device = resolve_device(config.device)
    model.to(device).train()
    per_epoch = steps_per_epoch(data.train, config.batch_size)
    total = config.epochs * per_epoch
    optimizer = torch.optim.SGD(
        model.parameters(),
        lr=config.lr,
        momentum=config.momentum,
        nesterov=config.nesterov,
        weight_decay=config.weight_decay,
    )
    result = TrainResult()
    if record_step == start_step:
        result.recorded = state_of(model)
    running, seen = torch.zeros((), device=device), 0
    order = None
    for step in range(start_step, total if end_step is None else min(end_step, total)):
        epoch, index = divmod(step, per_epoch)
        if order is None or index == 0:
            order = epoch_order(len(data.train), config.data_seed, epoch)
        batch = order[index * config.batch_size : (index + 1) * config.batch_size]
        images, labels = data.train.images[batch].to(device), data.train.labels[batch].to(device)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(config, step, total)
        if on_progress is not None:
            on_progress(step / per_epoch)
        smoothing = config.label_smoothing
        if config.label_smoothing_epochs and step / per_epoch >= config.label_smoothing_epochs:
            smoothing = 0.0
        loss = F.cross_entropy(model(images), labels, label_smoothing=smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        running += loss.detach()
        seen += 1
        if record_step is not None and step + 1 == record_step:
            result.recorded = state_of(model)
        if on_step is not None:
            on_step(step + 1, total)
        if index == per_epoch - 1:
            accuracy, test_loss = evaluate(model, data.test)
            entry = {
                "epoch": epoch + 1,
                "step": step + 1,
                "train_loss": float(running) / seen,
                "test_accuracy": accuracy,
                "test_loss": test_loss,
            }
            result.history.append(entry)
            running, seen = torch.zeros((), device=device), 0
            if on_epoch is not None:
                on_epoch(entry)
    result.accuracy = evaluate(model, data.test)[0]
    return result
