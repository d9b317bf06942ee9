"""Sparse-DIP restoration end to end: build the generator, learn a mask, fit the kept weights.

:func:`restore` recovers an image ``x`` from an observation ``y = A(x)`` (plus noise) for a
known forward operator ``A`` (:mod:`sparse_dip.physics`) by fitting ``A(G(z))`` to ``y``; the
generator's canvas is sized from the image the operator declares. The mask is learned first
(OES or a baseline) on a smaller view of the same problem, then only the kept weights are
fitted. ``sparsity=0`` is dense DIP (no mask is learned). :mod:`sparse_dip.restoration.denoise`
is this with ``A = identity``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import torch
from torch.nn import functional as F

from sparse_dip import defaults, metrics
from sparse_dip.errors import InputError
from sparse_dip.generators.compact import compact
from sparse_dip.generators.hourglass import (
    Hourglass,
    HourglassConfig,
    crop,
    input_noise,
    levels_for,
    pad_to,
    padded_size,
)
from sparse_dip.images import to_array, to_tensor
from sparse_dip.physics import Identity, Operator
from sparse_dip.pruning.mask import Mask
from sparse_dip.pruning.mask_file import MaskFile, MaskFileError
from sparse_dip.pruning.oes import OESConfig
from sparse_dip.pruning.rescale import rescale_kept_weights
from sparse_dip.pruning.zeroed import zero_pruned
from sparse_dip.restoration import checkpoint, sure
from sparse_dip.restoration.classic import noise_sigma
from sparse_dip.restoration.fit import Callback, FitConfig, FitResult, fit
from sparse_dip.restoration.mask_compat import stored_generator
from sparse_dip.restoration.masks import METHODS, BaselineConfig, find_mask
from sparse_dip.restoration.memory import check_memory
from sparse_dip.restoration.precision_probe import choose_precision
from sparse_dip.restoration.stopping import StopConfig
from sparse_dip.runtime import resolve_device, seeded_init, stream, versions


@dataclass(frozen=True)
class RestoreConfig:
    """Everything that defines a run besides the observation and its operator. Defaults: see ``BENCHMARKS.md``.

    ``sparsity`` is the fraction of maskable weights removed, in ``[0, 1)``; ``method`` finds
    the mask (OES, or a baseline of :mod:`sparse_dip.restoration.masks`). The mask is
    learned on a smaller view of the image whose shorter side is at most ``mask_side`` pixels
    (0: the full image); a mask is over weights, not pixels. The default, 192, is the smallest
    side the 6-level generator runs on; a smaller view gets a shallower generator.
    ``mask_view`` says how that view is made: ``"downscale"`` (the whole scene, at a coarser
    scale and with less noise) or ``"crop"`` (the central region, at the image's own scale and noise level);
    an operator other than the identity always learns on the central region
    (:meth:`~sparse_dip.physics.base.Operator.central`).
    ``fit.steps`` is a maximum: by default the fit stops at the first confirmed minimum of the
    windowed variance of its outputs (``fit.stop``, :mod:`sparse_dip.restoration.stopping`);
    with ``fit.stop = None`` it runs every step, which :meth:`for_operator` chooses for every
    operator but the identity (:attr:`~sparse_dip.physics.base.Operator.stop_early`).
    ``objective="sure"`` fits (and searches the mask) by Stein's unbiased estimate of the error
    to the clean image instead of the error to the noisy one, with the generator's input the
    noisy image itself (DIP-SURE, :mod:`sparse_dip.restoration.sure`), for denoising only; it
    needs the noise std ``sigma`` (0-255 scale), estimated from the image when not given.
    ``rescale_init`` multiplies the kept weights of each layer by ``1 / sqrt(its density)``
    before the fit (ToST's sparsity-aware initialisation, :mod:`sparse_dip.pruning.rescale`).
    ``auto_precision`` replaces ``oes.precision`` and ``fit.precision`` by the faster of fp32 and
    bf16 at each phase's size on this machine (:mod:`sparse_dip.restoration.precision_probe`);
    the report says what was picked and the step times that decided it.
    """

    sparsity: float = defaults.SPARSITY
    method: str = "oes"
    seed: int = 0
    generator: HourglassConfig = field(default_factory=HourglassConfig)
    oes: OESConfig = field(default_factory=OESConfig)
    baseline: BaselineConfig = field(default_factory=BaselineConfig)
    fit: FitConfig = field(default_factory=lambda: FitConfig(stop=StopConfig()))
    mask_side: int = 192
    mask_view: Literal["downscale", "crop"] = "downscale"
    rescale_init: bool = False
    objective: Literal["mse", "sure"] = "mse"
    sigma: float | None = None
    device: str = "auto"
    auto_precision: bool = False

    def __post_init__(self) -> None:
        if self.objective not in ("mse", "sure"):
            raise InputError(f"objective must be 'mse' or 'sure', got {self.objective!r}")
        if self.sigma is not None and not 0.0 < self.sigma <= 255.0:
            raise InputError(f"sigma is the noise std on the 0-255 scale, in (0, 255]; got {self.sigma:g}")
        if self.sigma is not None and self.objective != "sure":
            raise InputError("sigma is used by the SURE objective only (objective 'sure')")
        if not 0.0 <= self.sparsity < 1.0:
            raise InputError(f"sparsity must be in [0, 1), got {self.sparsity}")
        if self.method not in METHODS:
            raise InputError(f"unknown mask method {self.method!r}; choose from {', '.join(METHODS)}")
        if self.mask_side < 0:
            raise InputError(f"mask_side must be non-negative, got {self.mask_side}")
        if self.mask_view not in ("downscale", "crop"):
            raise InputError(f"mask_view must be 'downscale' or 'crop', got {self.mask_view!r}")

    @classmethod
    def for_operator(cls, operator: Operator, **settings) -> RestoreConfig:
        """The defaults for ``operator`` (with ``settings`` changed): the stopping rule for
        denoising only, every fit step for inpainting, super-resolution and deblurring."""
        config = cls(**settings)
        if operator.stop_early:
            return config
        return replace(config, fit=replace(config.fit, stop=None))

    def to_dict(self) -> dict:
        return {
            "sparsity": self.sparsity,
            "method": self.method if self.sparsity > 0 else "dense",
            "seed": self.seed,
            "generator": self.generator.to_dict(),
            "oes": self.oes.to_dict(),
            "baseline": self.baseline.to_dict(),
            "fit": self.fit.to_dict(),
            "mask_side": self.mask_side,
            "mask_view": self.mask_view,
            "rescale_init": self.rescale_init,
            "objective": self.objective,
            "sigma": self.sigma,
            "device": self.device,
            "auto_precision": self.auto_precision,
        }


@dataclass
class RestoreResult:
    """The restored image (``H x W x C`` float32 in ``[0, 1]``, the operator's image size), the
    mask (None if dense), the fit, the report, and the mask with what made it, ready for
    :func:`~sparse_dip.pruning.mask_file.save_mask`."""

    image: np.ndarray
    mask: Mask | None
    fit: FitResult
    report: dict
    mask_file: MaskFile | None = None


def mask_view(image: torch.Tensor, side: int, how: str = "downscale") -> torch.Tensor:
    """The view of ``image`` (``[1, C, H, W]``) a denoising mask is learned on: shorter side at most ``side``.

    ``"downscale"`` resizes the whole image (antialiased bilinear); ``"crop"`` takes its central
    ``side x side`` square. ``side == 0`` or a small enough image returns ``image`` itself.
    """
    height, width = image.shape[-2:]
    if side == 0 or min(height, width) <= side:
        return image
    if how == "crop":
        return crop(image, side, side)
    scale = side / min(height, width)
    size = (max(side, round(height * scale)), max(side, round(width * scale)))
    return F.interpolate(image, size=size, mode="bilinear", antialias=True, align_corners=False)


@dataclass
class _Setup:
    """A run's operator and observation, its generator and input, the smaller problem a mask is
    learned on (operator and observation), the fit's settings (with the objective's sigma
    filled in) and where that sigma came from."""

    device: torch.device
    operator: Operator
    observation: torch.Tensor
    image_size: tuple[int, int]
    generator: HourglassConfig
    model: Hourglass
    z: torch.Tensor
    mask_operator: Operator
    mask_target: torch.Tensor
    fit: FitConfig
    sigma: dict | None

    @property
    def mask_image_size(self) -> tuple[int, int]:
        return self.mask_operator.image_size(*self.mask_target.shape[-2:])


def _check_observation(observation: np.ndarray, operator: Operator) -> tuple[int, int]:
    """The image size ``operator`` maps to ``observation``'s shape, or a one-line error."""
    if observation.ndim != 3 or observation.shape[2] not in (1, 3):
        raise InputError(f"expected an H x W x 1 or H x W x 3 image, got shape {observation.shape}")
    operator.check(*observation.shape)
    return operator.image_size(*observation.shape[:2])


def _mask_problem(
    observation: torch.Tensor, operator: Operator, config: RestoreConfig
) -> tuple[Operator, torch.Tensor]:
    if isinstance(operator, Identity):
        return operator, mask_view(observation, config.mask_side, config.mask_view)
    return operator.central(observation, config.mask_side)


def _mask_input(z: torch.Tensor, setup: _Setup, config: RestoreConfig) -> torch.Tensor:
    """The generator input for the mask phase: the fit's own input ``z``, or its central crop.
    (A SURE run's input is the image, so a downscaled view is its own input.)

    A central crop of the image is generated by the central crop of ``z`` (the generator is
    convolutional), so the mask is learned on exactly the input it will be fitted with. A
    downscaled view has no such counterpart and gets its own noise from the seed.
    """
    canvas = padded_size(*setup.mask_image_size, setup.generator.levels)
    if canvas == tuple(z.shape[-2:]):
        return z
    downscaled = isinstance(setup.operator, Identity) and config.mask_view == "downscale"
    if config.objective == "sure" and downscaled:
        return pad_to(setup.mask_target, *canvas)
    if downscaled:
        noise = input_noise(z.shape[1], *canvas, stream(config.seed, "mask input")).to(z.device)
    else:
        noise = crop(z, *canvas)
    return noise.clone(memory_format=torch.contiguous_format)


def _setup(
    observed: np.ndarray,
    operator: Operator,
    config: RestoreConfig,
    mask: MaskFile | None = None,
    fresh_init: bool = False,
) -> _Setup:
    """Build the generator for ``observed``: its own depth and seed, or those stored with ``mask``."""
    image_size = _check_observation(observed, operator)
    channels = observed.shape[2]
    if config.objective == "sure" and not isinstance(operator, Identity):
        raise InputError(f"the SURE objective is for denoising only, not for {operator.name}")
    device = resolve_device(config.device)
    operator = operator.to(device)
    observation = operator.prepare(to_tensor(observed, device))
    learn = mask is None and config.sparsity > 0
    mask_operator, mask_target = _mask_problem(observation, operator, config) if learn else (operator, observation)
    if mask is None:
        levels = levels_for(*mask_operator.image_size(*mask_target.shape[-2:]), config.generator.levels)
        if levels == 0:
            raise InputError(f"a {image_size[0]}x{image_size[1]} image is too small (at least 6x6 pixels)")
        generator = _run_generator(config, channels).with_levels(levels)
        init_seed = config.seed
    else:
        generator = stored_generator(mask, image_size, channels, _run_generator(config, channels))
        init_seed = int(mask.info.get("init_seed", config.seed))
    purpose = "fresh weights" if fresh_init else "weights"
    model = seeded_init(config.seed if fresh_init else init_seed, lambda: Hourglass(generator), purpose).to(device)
    if mask is not None:
        try:
            mask.mask.check_against(model)
        except ValueError as error:
            raise MaskFileError(f"the mask does not fit its own generator: {error}") from None
    canvas = padded_size(*image_size, generator.levels)
    fit_config, sigma = config.fit, None
    if config.objective == "sure":
        z = pad_to(observation, *canvas)
        value = config.sigma if config.sigma is not None else 255.0 * noise_sigma(observed)
        if not value > 0:
            raise InputError("the noise level estimated from the image is 0; give it with sigma")
        sigma = {"value": value, "source": "given" if config.sigma is not None else "estimated"}
        fit_config = replace(fit_config, sure_sigma=value / 255.0, input_noise_std=sure.INPUT_NOISE * value / 255.0)
    else:
        z = input_noise(generator.input_depth, *canvas, stream(config.seed, "input")).to(device)
    return _Setup(
        device, operator, observation, image_size, generator, model, z, mask_operator, mask_target, fit_config, sigma
    )


def _run_generator(config: RestoreConfig, channels: int) -> HourglassConfig:
    """The generator a run builds for a ``channels``-channel image (a SURE run's input is the image)."""
    changes = {"out_channels": channels, **({"input_depth": channels} if config.objective == "sure" else {})}
    return HourglassConfig(**{**config.generator.to_dict(), **changes})


def _learn(setup: _Setup, config: RestoreConfig, on_mask_step: Callable[[int, float], None] | None) -> Mask:
    return find_mask(
        config.method,
        setup.model,
        _mask_input(setup.z, setup, config),
        setup.mask_target,
        1.0 - config.sparsity,
        seed=config.seed,
        oes=config.oes,
        baseline=config.baseline,
        fit_config=setup.fit,
        on_step=on_mask_step,
        operator=setup.mask_operator,
    )


def _mask_info(mask: Mask, observed: np.ndarray, setup: _Setup, config: RestoreConfig, seconds: float) -> dict:
    """What a mask file records about the mask found in this run."""
    settings = config.to_dict()
    return {
        "method": config.method,
        "sparsity": config.sparsity,
        "density": mask.density,
        "generator": setup.generator.to_dict(),
        "init_seed": config.seed,
        "noise_seed": config.seed,
        "settings": {k: settings[k] for k in ("method", "seed", "oes", "baseline", "fit", "mask_side", "mask_view")},
        "source": {
            "height": observed.shape[0],
            "width": observed.shape[1],
            "channels": observed.shape[2],
            "sha256": checkpoint.fingerprint(observed),
            "mask_image_size": list(setup.mask_target.shape[-2:]),
            **({} if isinstance(setup.operator, Identity) else {"operator": setup.operator.to_dict()}),
        },
        "versions": versions(),
        "seconds": seconds,
    }


def _probe_precision(setup: _Setup, config: RestoreConfig, phases: tuple[str, ...]) -> dict:
    """The precision of each of ``phases`` (``"mask"``, ``"fit"``), timed at that phase's own size."""
    sizes = {"fit": setup.z.shape[-2:]}
    if "mask" in phases:
        sizes["mask"] = _mask_input(setup.z, setup, config).shape[-2:]
    return {phase: choose_precision(setup.generator, *sizes[phase], setup.device) for phase in phases}


def precision_for(observed: np.ndarray, operator: Operator, config: RestoreConfig, learns_mask: bool = True) -> dict:
    """What ``--precision auto`` picks for ``observed`` here, per phase (the probe, or its cache):
    ``restore`` with ``config.auto_precision`` makes the same choice."""
    setup = _setup(observed, operator, config)
    return _probe_precision(setup, config, ("mask", "fit") if learns_mask and config.sparsity > 0 else ("fit",))


def learn_mask_for(
    observed: np.ndarray,
    operator: Operator,
    config: RestoreConfig = RestoreConfig(),
    on_mask_step: Callable[[int, float], None] | None = None,
) -> MaskFile:
    """The mask phase of :func:`restore` alone: the mask ``config.method`` finds for ``observed``.

    ``restore(y, A, config, mask=learn_mask_for(y, A, config))`` gives the same image as
    ``restore(y, A, config)``.
    """
    if config.sparsity == 0:
        raise InputError("a mask needs a sparsity above 0")
    started = time.perf_counter()
    setup = _setup(observed, operator, config)
    if config.auto_precision:
        picked = _probe_precision(setup, config, ("mask",))["mask"]["picked"]
        config = replace(config, oes=replace(config.oes, precision=picked))
    check_memory(
        setup.generator,
        *padded_size(*setup.mask_image_size, setup.generator.levels),
        config.oes.precision,
        setup.device,
    )
    mask = _learn(setup, config, on_mask_step)
    return MaskFile(mask, _mask_info(mask, observed, setup, config, time.perf_counter() - started))


def restore(
    observed: np.ndarray,
    operator: Operator,
    config: RestoreConfig | None = None,
    clean: np.ndarray | None = None,
    on_mask_step: Callable[[int, float], None] | None = None,
    on_fit_step: Callback | None = None,
    mask: MaskFile | None = None,
    fresh_init: bool = False,
    checkpoint_every: int = 0,
    on_checkpoint: Callable[[dict], None] | None = None,
    resume: dict | None = None,
) -> RestoreResult:
    """Restore an image from ``observed`` (``h x w x C`` in ``[0, 1]``, C = 1 or 3), ``y = A(x)``.

    With ``clean`` (the image's shape, :meth:`~sparse_dip.physics.base.Operator.image_size`),
    PSNR is tracked during the fit and PSNR/SSIM are reported. ``on_mask_step(step, loss)`` and
    ``on_fit_step(step, values)`` report progress. ``config`` None is
    :meth:`RestoreConfig.for_operator` ``(operator)``.

    With ``mask`` (from :func:`learn_mask_for` or a mask file), no mask is learned: the
    generator is the one the mask was found on, its weights regenerated from the mask's seed
    (``fresh_init``: drawn anew from ``config.seed``), and ``config.sparsity`` is the mask's.
    The input noise is drawn from ``config.seed`` at this image's size.

    Every ``checkpoint_every`` fit steps ``on_checkpoint(state)`` receives a checkpoint
    (:mod:`sparse_dip.restoration.checkpoint`); ``resume=state`` continues that run, for the
    same observation, operator and settings, without learning the mask again, and ends with
    the same image as an uninterrupted run (CPU).
    """
    started = time.perf_counter()
    config = RestoreConfig.for_operator(operator) if config is None else config
    image_size = _check_observation(observed, operator)
    if clean is not None and clean.shape != (*image_size, observed.shape[2]):
        raise InputError(
            f"the clean image is {clean.shape}, the restored one will be {(*image_size, observed.shape[2])}"
        )
    if fresh_init and mask is None:
        raise InputError("fresh_init applies to a given mask only")
    if mask is not None:
        config = replace(config, sparsity=1.0 - mask.mask.density, method=str(mask.info.get("method", config.method)))
    image_hash = checkpoint.fingerprint(observed)
    if resume is not None:
        checkpoint.check_resumable(resume, config.to_dict(), operator.to_dict(), image_hash)
        if resume["mask"] is not None:
            mask = MaskFile(Mask(resume["mask"]), resume["mask_info"])
        fresh_init = resume["fresh_init"]
    setup = _setup(observed, operator, config, mask, fresh_init)
    requested = config  # what the report and checkpoints record as the settings
    precision = None
    if config.auto_precision:
        phases = ("mask", "fit") if mask is None and config.sparsity > 0 and resume is None else ("fit",)
        precision = resume["precision"] if resume is not None else _probe_precision(setup, config, phases)
        setup = replace(setup, fit=replace(setup.fit, precision=precision["fit"]["picked"]))
        if "mask" in precision:
            config = replace(config, oes=replace(config.oes, precision=precision["mask"]["picked"]))
    check_memory(setup.generator, *setup.z.shape[-2:], setup.fit.precision, setup.device)
    reference = None if clean is None else to_tensor(clean, setup.device)

    mask_info = None if mask is None else mask.info
    found = None if mask is None else mask.mask
    mask_started = time.perf_counter()
    if mask is None and config.sparsity > 0 and resume is None:
        found = _learn(setup, config, on_mask_step)
    mask_seconds = time.perf_counter() - mask_started
    if mask is None and found is not None:
        mask_info = _mask_info(found, observed, setup, config, mask_seconds)
    model, compaction = setup.model, None
    if found is not None:
        if config.rescale_init:
            rescale_kept_weights(setup.model, found)
        model, fit_mask, cut = compact(setup.model, found)  # empty channels cut: a thinner, equivalent network
        zero_pruned(model, fit_mask)  # the mask is frozen: zero the pruned weights and their gradients
        compaction = {
            "channels_removed": cut.channels_removed,
            "parameters": sum(p.numel() for p in setup.model.parameters()),
            "parameters_fitted": sum(p.numel() for p in model.parameters()),
        }

    if resume is not None:
        mask_seconds = resume["mask_seconds"]

    def save_state(state: dict) -> None:
        on_checkpoint(
            {
                "format": checkpoint.FORMAT,
                "settings": requested.to_dict(),
                "precision": precision,
                "operator": operator.to_dict(),
                "image_sha256": image_hash,
                "mask": None if found is None else dict(found),
                "mask_info": mask_info,
                "fresh_init": fresh_init,
                "mask_seconds": mask_seconds,
                "fit": state,
            }
        )

    fit_config = setup.fit
    fit_started = time.perf_counter()
    result = fit(
        model,
        setup.z,
        setup.observation,
        fit_config,
        clean=reference,
        generator=stream(config.seed, "perturbation", setup.device),
        callback=on_fit_step,
        checkpoint_every=checkpoint_every,
        on_checkpoint=save_state if on_checkpoint is not None else None,
        resume=None if resume is None else resume["fit"],
        operator=setup.operator,
    )
    fit_seconds = time.perf_counter() - fit_started
    image = to_array(result.image).clip(0.0, 1.0)

    report = {
        "sparsity": config.sparsity,
        "seed": config.seed,
        "settings": requested.to_dict(),
        "precision": precision or {"fit": {"picked": setup.fit.precision, "source": "settings"}},
        "operator": operator.to_dict(),
        "versions": versions(),
        "device": str(setup.device),
        "observation": {"height": observed.shape[0], "width": observed.shape[1], "channels": observed.shape[2]},
        "image": {"height": image_size[0], "width": image_size[1], "channels": observed.shape[2]},
        "levels": setup.generator.levels,
        "mask_image_size": list(setup.mask_image_size),
        "mask_source": None if mask is None else {"fresh_init": fresh_init, **mask.info},
        "returned": "ema" if fit_config.ema is not None else "last",
        "density": 1.0 if found is None else found.density,
        "density_per_layer": {} if found is None else found.density_per_layer(),
        "mask_seconds": mask_seconds,
        "fit_seconds": fit_seconds,
        "fit_steps": fit_config.steps,
        "fit_steps_run": result.history.step[-1],
        "seconds_per_fit_step": fit_seconds / result.history.step[-1],
        "stopping": result.stopping,
        "compaction": compaction,
        "objective": config.objective,
        "sigma": setup.sigma,
    }
    if clean is not None:
        history = result.history
        curve = "psnr_ema" if history.psnr_ema else "psnr"
        best, best_step = history.best(curve)
        report.update(
            psnr=metrics.psnr(image, clean),
            ssim=metrics.ssim(image, clean),
            psnr_last_output=metrics.psnr(to_array(result.last).clip(0, 1), clean),
            best_psnr=best,
            best_step=best_step,
            history=history.to_dict(),
        )
        if isinstance(operator, Identity):
            report["noisy_psnr"] = metrics.psnr(observed, clean)
    else:
        report["history"] = result.history.to_dict()
    report["seconds"] = time.perf_counter() - started
    mask_file = None if found is None else MaskFile(found, mask_info or {})
    return RestoreResult(image=image, mask=found, fit=result, report=report, mask_file=mask_file)
