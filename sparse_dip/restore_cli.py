"""The restoration commands: ``denoise``, ``inpaint``, ``superres`` and ``deblur``.

Each is one forward operator (:mod:`sparse_dip.physics`) in front of the same run
(:func:`sparse_dip.restoration.pipeline.restore`), with the same options for the mask, the
fit, reports, checkpoints and mask transfer. Bad input (a hole mask of another size, a scale
that does not divide the image, a kernel larger than it) is refused with one line before
anything is written.
"""

from __future__ import annotations

import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from sparse_dip import defaults
from sparse_dip.cli_common import examples, given, output_path, progress_bars, user_errors
from sparse_dip.errors import InputError, Notice

if TYPE_CHECKING:
    from sparse_dip.physics import Operator

FIT_STEPS_HELP = "Most fitting steps; the stopping rule usually ends the fit sooner (all of them with --no-stop)."
OBJECTIVE_HELP = (
    "mse: fit the noisy image (DIP). sure: fit Stein's unbiased estimate of the error to the clean image, "
    "with the noisy image as the generator's input (DIP-SURE); needs the noise level (--sigma, or estimated)."
)
SIGMA_HELP = "Noise standard deviation on the 0-255 scale, for --objective sure."
STOP_HELP = "Stop at the first confirmed minimum of the windowed variance of the outputs (ES-WMV)."

Sparsity = Annotated[float, typer.Option(help="Fraction of weights removed, in [0, 1); 0 is dense DIP.")]


def _out(argument: str, task: str):
    default = f"{argument}_{task}.png beside {argument}; .tif for a TIFF"
    return Annotated[Path | None, typer.Option(help="Restored image.", show_default=default)]


OutDenoised = _out("NOISY", "denoised")
OutInpainted = _out("IMAGE", "inpainted")
OutUpscaled = _out("IMAGE", "xSCALE")
OutDeblurred = _out("IMAGE", "deblurred")
Clean = Annotated[Path | None, typer.Option(help="Clean reference: track PSNR and report PSNR/SSIM.")]
Steps = Annotated[int, typer.Option(help=FIT_STEPS_HELP)]
Stop = Annotated[bool, typer.Option("--stop/--no-stop", help=STOP_HELP)]
MaskSteps = Annotated[int, typer.Option(help="OES mask-learning steps.")]
Seed = Annotated[int, typer.Option(help="Seed of the weights, input noise and relaxation noise.")]
Device = Annotated[str, typer.Option(help="auto, cpu or cuda.")]
Precision = Annotated[str, typer.Option(help="fp32, or bf16 autocast (faster on some CPUs: BENCHMARKS.md).")]
Report = Annotated[Path | None, typer.Option(help="JSON report.", show_default="OUT with .json")]
MaskIn = Annotated[Path | None, typer.Option(help="Use this mask file (from find-mask) instead of learning one.")]
FreshInit = Annotated[
    bool,
    typer.Option("--fresh-init", help="With --mask: new random weights instead of the ones the mask was found on."),
]
SaveMask = Annotated[Path | None, typer.Option(help="Also write the learned mask to this file.")]
CheckpointEvery = Annotated[int, typer.Option(help="Save a checkpoint (OUT with .ckpt) every N fit steps; 0: never.")]
Resume = Annotated[bool, typer.Option("--resume", help="Continue from OUT's checkpoint (same image and options).")]


TASKS = ("denoise", "inpaint", "superres", "deblur")
Holes = Annotated[
    Path | None, typer.Option(help="inpaint: image of the same size whose zero (black) pixels are missing.")
]
Scale = Annotated[int, typer.Option(help="superres: upscaling factor, 2, 3 or 4 (Pillow's bicubic downsampling).")]
Kernel = Annotated[
    str | None, typer.Option(help="deblur: gaussian:SIGMA (pixels), or a .npy file holding a 2-D kernel.")
]
Boundary = Annotated[
    str,
    typer.Option(help="deblur: circular (the image wraps around) or valid (IMAGE is smaller than the sharp image)."),
]


def task_operator(task: str, holes: Path | None, scale: int, kernel: str | None, boundary: str) -> Operator:
    """The forward operator of a restoration ``task`` from its command-line options (one-line errors)."""
    from sparse_dip.physics import Blur, Downsampling, Identity, Inpainting

    if task == "denoise":
        return Identity()
    if task == "inpaint":
        if holes is None:
            raise InputError("--task inpaint needs --holes MASK.png")
        return Inpainting.from_image(holes)
    if task == "superres":
        return Downsampling(scale)
    if task == "deblur":
        if kernel is None:
            raise InputError("--task deblur needs --kernel gaussian:SIGMA or K.npy")
        return Blur.parse(kernel, boundary)  # type: ignore[arg-type]
    raise InputError(f"--task must be one of {', '.join(TASKS)}, got {task!r}")


def register(app: typer.Typer) -> None:
    """Add the restoration commands to ``app``."""
    app.command(epilog=examples("sparse-dip denoise noisy.png --sparsity 0.95 --clean clean.png --out restored.png"))(
        denoise
    )
    app.command(epilog=examples("sparse-dip inpaint photo.png --holes holes.png --clean original.png"))(inpaint)
    app.command(epilog=examples("sparse-dip superres small.png --scale 4 --clean original.png"))(superres)
    app.command(
        epilog=examples("sparse-dip deblur blurred.png --kernel gaussian:2.0", "sparse-dip deblur b.png --kernel k.npy")
    )(deblur)


def denoise(
    ctx: typer.Context,
    noisy: Annotated[
        Path, typer.Argument(help="The noisy image (PNG, TIFF, JPEG; grayscale or RGB).", metavar="NOISY")
    ],
    sparsity: Sparsity = defaults.SPARSITY,
    out: OutDenoised = None,
    clean: Clean = None,
    steps: Steps = defaults.FIT_STEPS,
    stop: Stop = True,
    objective: Annotated[str, typer.Option(help=OBJECTIVE_HELP)] = "mse",
    sigma: Annotated[
        float | None, typer.Option(help=SIGMA_HELP, show_default="estimated from the image (wavelet MAD)")
    ] = None,
    mask_steps: MaskSteps = defaults.MASK_STEPS,
    seed: Seed = 0,
    device: Device = "auto",
    precision: Precision = "fp32",
    report: Report = None,
    mask: MaskIn = None,
    fresh_init: FreshInit = False,
    save_mask: SaveMask = None,
    checkpoint_every: CheckpointEvery = 0,
    resume: Resume = False,
) -> None:
    """Denoise an image: learn a sparse mask of a random generator (OES), then fit its kept weights."""
    options = _options(locals(), "noisy")

    def identity():
        from sparse_dip.physics import Identity

        return Identity()

    _run(ctx, noisy, "denoised", identity, **options)


def inpaint(
    ctx: typer.Context,
    image: Annotated[Path, typer.Argument(help="The image with missing pixels.", metavar="IMAGE")],
    holes: Annotated[Path, typer.Option(help="Image of the same size whose zero (black) pixels are missing.")],
    sparsity: Sparsity = defaults.SPARSITY,
    out: OutInpainted = None,
    clean: Clean = None,
    steps: Steps = defaults.FIT_STEPS,
    stop: Stop = True,
    mask_steps: MaskSteps = defaults.MASK_STEPS,
    seed: Seed = 0,
    device: Device = "auto",
    precision: Precision = "fp32",
    report: Report = None,
    mask: MaskIn = None,
    fresh_init: FreshInit = False,
    save_mask: SaveMask = None,
    checkpoint_every: CheckpointEvery = 0,
    resume: Resume = False,
) -> None:
    """Fill in the missing pixels of an image: fit m * G(z) to the observed ones (y = m * x)."""
    options = _options(locals(), "image", "holes")

    _run(ctx, image, "inpainted", lambda: task_operator("inpaint", holes, 4, None, ""), extra_inputs=[holes], **options)


def superres(
    ctx: typer.Context,
    image: Annotated[Path, typer.Argument(help="The low-resolution image.", metavar="IMAGE")],
    scale: Annotated[
        int, typer.Option(help="Upscaling factor: 2, 3 or 4 (y is x downsampled by Pillow's bicubic).")
    ] = 4,
    sparsity: Sparsity = defaults.SPARSITY,
    out: OutUpscaled = None,
    clean: Clean = None,
    steps: Steps = defaults.FIT_STEPS,
    stop: Stop = True,
    mask_steps: MaskSteps = defaults.MASK_STEPS,
    seed: Seed = 0,
    device: Device = "auto",
    precision: Precision = "fp32",
    report: Report = None,
    mask: MaskIn = None,
    fresh_init: FreshInit = False,
    save_mask: SaveMask = None,
    checkpoint_every: CheckpointEvery = 0,
    resume: Resume = False,
) -> None:
    """Upscale an image by 2, 3 or 4: fit the bicubic downsampling of G(z) to it."""
    options = _options(locals(), "image", "scale")

    _run(ctx, image, f"x{scale}", lambda: task_operator("superres", None, scale, None, ""), **options)


def deblur(
    ctx: typer.Context,
    image: Annotated[Path, typer.Argument(help="The blurred image.", metavar="IMAGE")],
    kernel: Annotated[str, typer.Option(help="gaussian:SIGMA (pixels), or a .npy file holding a 2-D kernel.")],
    boundary: Annotated[
        str, typer.Option(help="circular (the image wraps around) or valid (IMAGE is smaller than the sharp image).")
    ] = "circular",
    sparsity: Sparsity = defaults.SPARSITY,
    out: OutDeblurred = None,
    clean: Clean = None,
    steps: Steps = defaults.FIT_STEPS,
    stop: Stop = True,
    mask_steps: MaskSteps = defaults.MASK_STEPS,
    seed: Seed = 0,
    device: Device = "auto",
    precision: Precision = "fp32",
    report: Report = None,
    mask: MaskIn = None,
    fresh_init: FreshInit = False,
    save_mask: SaveMask = None,
    checkpoint_every: CheckpointEvery = 0,
    resume: Resume = False,
) -> None:
    """Deblur an image with a known kernel: fit k * G(z) to it."""
    options = _options(locals(), "image", "kernel", "boundary")

    def blur():
        return task_operator("deblur", None, 4, kernel, boundary)

    extra = [] if kernel.startswith("gaussian:") else [Path(kernel)]
    _run(ctx, image, "deblurred", blur, extra_inputs=extra, **options)


def _options(arguments: dict, *own: str) -> dict:
    """A command's arguments (``locals()`` at its first line) less the context and its own ones."""
    return {k: v for k, v in arguments.items() if k not in ("ctx", *own)}


def _run(
    ctx: typer.Context,
    observed: Path,
    task: str,
    operator_of: Callable[[], Operator],
    *,
    sparsity: float,
    out: Path | None,
    clean: Path | None,
    steps: int,
    stop: bool,
    mask_steps: int,
    seed: int,
    device: str,
    precision: str,
    report: Path | None,
    mask: Path | None,
    fresh_init: bool,
    save_mask: Path | None,
    checkpoint_every: int,
    resume: bool,
    objective: str = "mse",
    sigma: float | None = None,
    extra_inputs: list[Path] | None = None,
) -> None:
    """Load, check, restore, write: the body every restoration command shares."""
    with user_errors():
        from dataclasses import replace

        from sparse_dip import metrics
        from sparse_dip.files import write_json
        from sparse_dip.images import load_image, output_suffix, quantize, save_image
        from sparse_dip.physics import Identity
        from sparse_dip.pruning.mask_file import load_mask
        from sparse_dip.pruning.mask_file import save_mask as write_mask
        from sparse_dip.restoration import denoise as denoising
        from sparse_dip.restoration.fit import DivergedError
        from sparse_dip.restoration.pipeline import RestoreConfig, restore
        from sparse_dip.runtime import resolve_device

        if fresh_init and mask is None:
            raise InputError("--fresh-init needs --mask")
        if mask is not None and save_mask is not None:
            raise InputError("--save-mask writes a learned mask; with --mask nothing is learned")
        given_mask = load_mask(mask) if mask is not None else None
        if given_mask is not None and (given(ctx, "sparsity") or given(ctx, "mask_steps")):
            ignored = "--sparsity and --mask-steps are ignored: the mask file sets the sparsity"
            warnings.warn(ignored, Notice, stacklevel=1)
        base = RestoreConfig()
        try:
            config = RestoreConfig(
                sparsity=base.sparsity if given_mask else sparsity,
                seed=seed,
                device=device,
                objective=objective,
                sigma=sigma,
                oes=replace(base.oes, precision=precision, steps=mask_steps),
                fit=replace(base.fit, precision=precision, steps=steps, stop=base.fit.stop if stop else None),
            )
        except ValueError as error:
            raise InputError(str(error)) from None
        try:
            resolve_device(device)
        except ValueError as error:
            raise InputError(str(error)) from None
        source = load_image(observed)
        operator = operator_of()
        height, width, channels = source.pixels.shape
        operator.check(height, width, channels)
        image_shape = (*operator.image_size(height, width), channels)
        reference = load_image(clean) if clean else None
        if reference is not None and reference.pixels.shape != image_shape:
            raise InputError(
                f"{clean}: the clean image is {reference.pixels.shape}, the restored one will be {image_shape}"
            )
        inputs = [observed, *(extra_inputs or [])] + ([clean] if clean else []) + ([mask] if mask else [])
        out = output_path(out or observed.with_name(f"{observed.stem}_{task}{output_suffix(observed)}"), inputs)
        report = output_path(report or out.with_suffix(".json"), inputs)
        if save_mask is not None:
            save_mask = output_path(save_mask, inputs + [out, report])
        if checkpoint_every < 0:
            raise InputError(f"--checkpoint-every must be non-negative, got {checkpoint_every}")
        checkpoint_path = out.with_suffix(".ckpt")
        state = _load_checkpoint(checkpoint_path) if resume else None
        learns = given_mask is None and config.sparsity > 0 and state is None

        started = time.perf_counter()
        with progress_bars() as progress:
            if learns:  # a dense run, a given mask or a resumed fit has no mask phase
                mask_task = progress.add_task(f"{config.method} mask", total=config.oes.steps, info="")
            fit_task = progress.add_task("fit", total=config.fit.steps, info="", start=False)

            def on_mask(step: int, loss: float) -> None:
                progress.update(mask_task, completed=step, info=f"loss {loss:.4f}")

            def on_fit(step: int, values: dict[str, float]) -> None:
                progress.start_task(fit_task)
                info = f"loss {values['loss']:.4f}"
                if "psnr_ema" in values:
                    info += f"  PSNR {values['psnr_ema']:.2f} dB"
                elif "psnr" in values:
                    info += f"  PSNR {values['psnr']:.2f} dB"
                progress.update(fit_task, completed=step, info=info)

            common = {
                "clean": None if reference is None else reference.pixels,
                "on_mask_step": on_mask if learns else None,
                "on_fit_step": on_fit,
                "mask": given_mask,
                "fresh_init": fresh_init,
                "checkpoint_every": checkpoint_every,
                "on_checkpoint": lambda s: _save_checkpoint(checkpoint_path, s),
                "resume": state,
            }
            try:
                if isinstance(operator, Identity):
                    result = denoising.denoise(source.pixels, config, **common)
                else:
                    result = restore(source.pixels, operator, config, **common)
            except (KeyboardInterrupt, DivergedError) as error:
                _stopped(error, checkpoint_path if checkpoint_every else None)
            run = result.report["fit_steps_run"]
            progress.update(fit_task, total=run, completed=run)  # a stopped fit ends its bar full
        save_image(out, result.image, bits=source.bits)
        summary = {**result.report, "bits": source.bits}
        if reference is not None:  # scored as written: at the file's bit depth
            written = quantize(result.image, source.bits)
            summary.update(psnr=metrics.psnr(written, reference.pixels), ssim=metrics.ssim(written, reference.pixels))
        if save_mask is not None and result.mask_file is not None:
            result.mask_file.info["source"]["file"] = str(observed)
            write_mask(save_mask, result.mask_file)
        summary["seconds"] = time.perf_counter() - started
        summary.update(
            input=str(observed),
            inputs=[str(p) for p in extra_inputs or []],
            clean=str(clean) if clean else None,
            mask=str(mask) if mask else None,
            output=str(out),
            command=sys.argv,
        )
        write_json(report, summary)
        checkpoint_path.unlink(missing_ok=True)
        line = f"wrote {out} and {report} in {summary['seconds']:.0f} s"
        if reference is not None:
            noisy = f" (noisy {summary['noisy_psnr']:.2f})" if "noisy_psnr" in summary else ""
            line += f": PSNR {summary['psnr']:.2f} dB{noisy}, SSIM {summary['ssim']:.3f}"
        typer.echo(line)
        if result.report["sigma"] is not None:
            typer.echo(f"noise level: sigma {result.report['sigma']['value']:.1f} ({result.report['sigma']['source']})")
        if result.report["stopping"] is not None:
            typer.echo(f"fit: {result.report['stopping']['reason']}")


def _save_checkpoint(path: Path, state: dict) -> None:
    import torch

    from sparse_dip.files import atomic_path

    with atomic_path(path) as temporary:
        torch.save(state, temporary)


def _load_checkpoint(path: Path) -> dict:
    """A checkpoint written by :func:`_save_checkpoint`, loaded without running any code."""
    import pickle

    import torch

    if not path.exists():
        raise InputError(f"--resume: no checkpoint at {path} (was the run started with --checkpoint-every?)")
    try:
        return torch.load(path, weights_only=True)
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError, ValueError) as error:
        raise InputError(f"{path}: unreadable checkpoint ({str(error).splitlines()[0]})") from None


def _stopped(stop: BaseException, checkpoint: Path | None) -> None:
    """One line for a run stopped by Ctrl-C or by a diverging loss, saying what is left."""
    from sparse_dip.cli_common import fail

    saved = checkpoint is not None and checkpoint.exists()
    if isinstance(stop, KeyboardInterrupt):
        hint = f"add --resume to continue from {checkpoint}" if saved else "run the command again to start over"
        fail(f"interrupted; no output was written ({hint})", 130)
    kept = f"; the last good checkpoint is kept at {checkpoint}" if saved else ""
    fail(f"{stop}: stopped, no output was written{kept}")
