"""The deep-image-prior fitting loop: one generator, one fixed input, one corrupted image.

The loop knows nothing of pruning: a Sparse-DIP run passes a generator whose mask is already
enforced (:func:`sparse_dip.pruning.zeroed.zero_pruned`, or the parametrisation of
:func:`sparse_dip.pruning.parametrize.apply_mask`), a dense DIP run a plain one.

Which image is returned: with ``ema`` set, the exponential moving average of the outputs
(DIP's "output averaging"), because averaging removes the step-to-step jitter of a network
fitted with Adam and is worth about 0.5 dB here (``BENCHMARKS.md``); without it, the output
of the last step. The average starts from zero and is divided by ``1 - ema**step`` (as Adam
corrects its moments), so it is a proper weighted mean of the outputs so far even in a short
run; DIP's reference starts it from the first, random output instead. Neither is an oracle
pick: the best step is only *reported* when a clean reference is given, never used to choose
the output.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Literal

import torch
from torch import nn

from sparse_dip import defaults
from sparse_dip.generators.hourglass import crop
from sparse_dip.metrics import psnr_torch
from sparse_dip.physics import Operator
from sparse_dip.restoration.data_loss import IDENTITY, data_loss
from sparse_dip.restoration.stopping import StopConfig, WindowedVariance, average_lag
from sparse_dip.runtime import Precision, autocast, check_precision


@dataclass(frozen=True)
class FitConfig:
    """Settings of the fitting loop (Adam on MSE to the observation, or on its SURE).

    With ``sure_sigma`` (the noise std on the image's scale) the loss is Stein's unbiased
    estimate of the MSE to the clean image (:mod:`sparse_dip.restoration.sure`): the generator's
    input must then be the observation itself, reflect-padded to the canvas (DIP-SURE), and each
    step evaluates the generator twice, as one batch of two.

    With ``stop``, ``steps`` is a maximum: the loop stops at the first confirmed minimum of the
    windowed variance of its outputs (:mod:`sparse_dip.restoration.stopping`) and returns the
    average centred on that minimum's window (:func:`~sparse_dip.restoration.stopping.average_lag`).
    """

    steps: int = defaults.FIT_STEPS
    lr: float = 0.01
    lr_schedule: Literal["constant", "cosine"] = "constant"
    ema: float | None = 0.99
    input_noise_std: float = 0.0
    weight_decay: float = 0.0
    precision: Precision = "fp32"
    log_every: int = 50
    stop: StopConfig | None = None
    sure_sigma: float | None = None

    def __post_init__(self) -> None:
        if self.sure_sigma is not None and not self.sure_sigma > 0:
            raise ValueError(f"sure_sigma must be positive, got {self.sure_sigma}")
        if self.steps < 1:
            raise ValueError(f"steps must be positive, got {self.steps}")
        if self.log_every < 1:
            raise ValueError(f"log_every must be positive, got {self.log_every}")
        if self.lr_schedule not in ("constant", "cosine"):
            raise ValueError(f"lr_schedule must be 'constant' or 'cosine', got {self.lr_schedule!r}")
        if self.ema is not None and not 0.0 <= self.ema < 1.0:
            raise ValueError(f"ema must be in [0, 1), got {self.ema}")
        check_precision(self.precision)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class FitHistory:
    """Every ``log_every`` steps: the training loss and, with a clean reference, PSNR (dB)."""

    step: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    psnr: list[float] = field(default_factory=list)
    psnr_ema: list[float] = field(default_factory=list)

    def best(self, key: str = "psnr") -> tuple[float, int]:
        """The highest value of ``key`` and the step it was reached at."""
        values = getattr(self, key)
        if not values:
            raise ValueError(f"no {key} was recorded")
        i = max(range(len(values)), key=values.__getitem__)
        return values[i], self.step[i]

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class FitResult:
    """``image`` is what the loop returns (the EMA when enabled, else the output; with a stopping
    rule, at the step it chose), ``[1, C, H, W]``; ``last`` the output of the last step run;
    ``recorded`` the model's state dict after step ``record_step`` when one was asked for;
    ``stopping`` what the stopping rule saw and chose (``None`` without one)."""

    image: torch.Tensor
    last: torch.Tensor
    history: FitHistory
    recorded: dict[str, torch.Tensor] | None = None
    stopping: dict | None = None


Callback = Callable[[int, dict[str, float]], None]


class DivergedError(ArithmeticError):
    """The loss became NaN or infinite; ``step`` is the log step where it was seen."""

    def __init__(self, step: int) -> None:
        super().__init__(f"the loss became NaN or infinite by step {step}")
        self.step = step


def fit(
    model: nn.Module,
    z: torch.Tensor,
    observation: torch.Tensor,
    config: FitConfig = FitConfig(),
    clean: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    callback: Callback | None = None,
    record_step: int | None = None,
    checkpoint_every: int = 0,
    on_checkpoint: Callable[[dict], None] | None = None,
    resume: dict | None = None,
    operator: Operator = IDENTITY,
) -> FitResult:
    """Fit ``operator(model(z))`` to ``observation`` (``[1, C, h, w]`` in ``[0, 1]``).

    The generated image is the central crop of ``model(z)`` of the size ``operator`` declares
    for the observation (:meth:`~sparse_dip.physics.base.Operator.image_size`); ``clean``, the
    returned image and the averages have that size.

    Adam on every parameter that requires a gradient, at a constant learning rate or annealed
    to zero by the last step (``lr_schedule="cosine"``); with ``input_noise_std > 0`` the input
    is perturbed by fresh Gaussian noise each step (DIP's regulariser). Loss and PSNR are kept
    on the device and read on the host only every ``log_every`` steps, when ``callback(step,
    values)`` is called; a non-finite loss found there stops the run with
    :class:`DivergedError`. ``record_step`` keeps a copy of the model's state after that step
    (IMP rewinds to it).

    Every ``checkpoint_every`` steps ``on_checkpoint(state)`` receives everything the loop needs
    to continue (model, optimizer, schedule, average, random state, history so far); ``fit(...,
    resume=state)`` continues from it and, on the CPU, ends with bit-identical results.
    """
    device = z.device
    height, width = operator.image_size(*observation.shape[-2:])
    sigma = config.sure_sigma
    if sigma is not None and z.shape[1] != observation.shape[1]:
        raise ValueError(f"a SURE fit needs the observation as input, got {z.shape[1]} input channels")
    params = [p for p in model.parameters() if p.requires_grad]
    # fused: one kernel for every parameter, 4-5x faster than the per-tensor loop on the default
    # generator (benchmarks/adam_step.py).
    optimizer = torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay, fused=True)
    schedule = (
        torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.steps)
        if config.lr_schedule == "cosine"
        else None
    )
    generator = generator or torch.Generator(device=device).manual_seed(0)
    average: torch.Tensor | None = None  # bias-corrected
    running: torch.Tensor | None = None
    logged: list[tuple[int, torch.Tensor, torch.Tensor | None, torch.Tensor | None]] = []
    history = FitHistory()
    recorded = None
    watcher = (
        None if config.stop is None else WindowedVariance(config.stop, observation.shape[1] * height * width, device)
    )
    lag = 0 if config.stop is None else average_lag(config.ema, config.stop.window)
    chosen: torch.Tensor | None = None  # the returned image, taken `lag` steps after a variance minimum
    chosen_step: int | None = None
    take_at: int | None = None
    stopped = False
    first = 1
    if resume is not None:
        model.load_state_dict(resume["model"])
        optimizer.load_state_dict(resume["optimizer"])
        if schedule is not None:
            schedule.load_state_dict(resume["schedule"])
        running = resume["running"]
        generator.set_state(resume["generator"])
        logged = [tuple(entry) for entry in resume["logged"]]
        if watcher is not None:
            watcher.load_state_dict(resume["watcher"])
            chosen, chosen_step, take_at = resume["chosen"], resume["chosen_step"], resume["take_at"]
        first = resume["step"] + 1
    model.train()

    def forward(batch: torch.Tensor) -> torch.Tensor:
        with autocast(device, config.precision):
            return crop(model(batch).float(), height, width)

    for step in range(first, config.steps + 1):
        inputs = z
        if config.input_noise_std > 0:
            inputs = z + config.input_noise_std * torch.randn(z.shape, generator=generator, device=device)

        loss, output = data_loss(forward, inputs, observation, sigma, generator, operator)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if schedule is not None:
            schedule.step()
        if step == record_step:
            recorded = {n: t.detach().clone() for n, t in model.state_dict().items()}

        output = output.detach()
        if config.ema is not None:
            running = torch.zeros_like(output) if running is None else running
            running.lerp_(output, 1.0 - config.ema)
        if watcher is not None:
            watcher.add(output)
            decision = watcher.check(step)
            if decision == "best":
                take_at = step + lag
            stopped = decision == "stop"
            ending = stopped or step == config.steps
            if take_at is not None and (step == take_at or (ending and take_at > step)):
                # a copy only here: `lag` steps after a new minimum, or at the end if that comes first
                chosen = output.clone() if running is None else running / (1.0 - config.ema**step)
                chosen_step = step
        if step % config.log_every == 0 or step == config.steps or stopped:
            if running is not None:
                average = running / (1.0 - config.ema**step)
            quality = None if clean is None else psnr_torch(output, clean)
            quality_ema = None if clean is None or average is None else psnr_torch(average, clean)
            logged.append((step, loss.detach(), quality, quality_ema))
            if not torch.isfinite(loss):
                raise DivergedError(step)
            if callback is not None:
                values = {"loss": float(loss.detach())}
                if quality is not None:
                    values["psnr"] = float(quality)
                if quality_ema is not None:
                    values["psnr_ema"] = float(quality_ema)
                callback(step, values)
        if stopped:
            break
        if checkpoint_every and on_checkpoint is not None and step % checkpoint_every == 0 and step < config.steps:
            on_checkpoint(
                {
                    "step": step,
                    "model": {n: t.detach().clone() for n, t in model.state_dict().items()},
                    "optimizer": copy.deepcopy(optimizer.state_dict()),  # its tensors change in place
                    "schedule": None if schedule is None else copy.deepcopy(schedule.state_dict()),
                    "running": None if running is None else running.clone(),
                    "generator": generator.get_state(),
                    "watcher": None if watcher is None else watcher.state_dict(),
                    "chosen": None if chosen is None else chosen.clone(),
                    "chosen_step": chosen_step,
                    "take_at": take_at,
                    "logged": [
                        [s, float(v), None if q is None else float(q), None if e is None else float(e)]
                        for s, v, q, e in logged
                    ],
                }
            )

    for step, loss_value, quality, quality_ema in logged:
        history.step.append(step)
        history.loss.append(float(loss_value))
        if quality is not None:
            history.psnr.append(float(quality))
        if quality_ema is not None:
            history.psnr_ema.append(float(quality_ema))
    last = output
    image = average if average is not None else last
    stopping = None
    if watcher is not None:
        image = chosen if chosen is not None else image
        returned_step = chosen_step if chosen is not None else step
        stopping = {
            "variance_minimum_step": watcher.best_step,
            "chosen_step": returned_step,
            "last_step": step,
            "stopped": stopped,
            "reason": watcher.reason(stopped, step, returned_step),
            "variance": {"step": watcher.steps, "value": watcher.variances},
        }
    return FitResult(image=image, last=last, history=history, recorded=recorded, stopping=stopping)
