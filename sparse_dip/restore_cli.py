"""The restoration commands: ``denoise``, ``inpaint``, ``superres`` and ``deblur``.

Each is one forward operator (:mod:`sparse_dip.physics`) in front of the same run
(:func:`sparse_dip.restoration.pipeline.restore`), with the same options for the mask, the
fit, reports, checkpoints and mask transfer. Bad input (a hole mask of another size, a scale
that does not divide the image, a kernel larger than it) is refused with one line before
anything is written.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from sparse_dip import batch_cli, defaults
from sparse_dip.cli_common import examples, given, progress_bars, user_errors
from sparse_dip.errors import InputError, Notice

if TYPE_CHECKING:
    from sparse_dip.physics import Operator

FIT_STEPS_HELP = "Most fitting steps; the stopping rule usually ends the fit sooner (all of them with --no-stop)."
TASK_STEPS_HELP = "Fitting steps (at most, with --stop)."
OBJECTIVE_HELP = (
    "mse: fit the noisy image (DIP). sure: fit Stein's unbiased estimate of the error to the clean image, "
    "with the noisy image as the generator's input (DIP-SURE); needs the noise level (--sigma, or estimated)."
)
SIGMA_HELP = "Noise standard deviation on the 0-255 scale, for --objective sure."
STOP_HELP = "Stop at the first confirmed minimum of the windowed variance of the outputs (ES-WMV)."
TASK_STOP_HELP = (
    "Stop at the first confirmed minimum of the windowed variance of the outputs (ES-WMV), for a noisy "
    "observation; without noise the fit improves to the last step."
)

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
TaskSteps = Annotated[int, typer.Option(help=TASK_STEPS_HELP)]
TaskStop = Annotated[bool, typer.Option("--stop/--no-stop", help=TASK_STOP_HELP)]
MaskSteps = Annotated[int, typer.Option(help="OES mask-learning steps.")]
Seed = Annotated[int, typer.Option(help="Seed of the weights, input noise and relaxation noise.")]
Device = Annotated[str, typer.Option(help="auto, cpu or cuda.")]
Precision = Annotated[
    str,
    typer.Option(help="fp32, bf16, or auto (the faster of the two here, timed once per size and cached)."),
]
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
        list[Path],
        typer.Argument(
            help="The noisy image (PNG, TIFF, JPEG; grayscale or RGB); with --out-dir, any number of files, "
            "folders and globs.",
            metavar="NOISY...",
        ),
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
    out_dir: batch_cli.OutDir = None,
    share_mask: batch_cli.ShareMask = False,
    clean_dir: batch_cli.CleanDir = None,
    workers: batch_cli.Workers = 1,
    threads: batch_cli.Threads = None,
    ray_address: batch_cli.RayAddress = None,
) -> None:
    """Denoise an image, or many: learn a sparse mask of a random generator (OES), then fit its kept weights."""
    many = ("out_dir", "share_mask", "clean_dir", "workers", "threads", "ray_address")
    options = _options(locals(), "noisy", "many", *many)
    if out_dir is None and len(noisy) == 1 and not noisy[0].is_dir():
        with user_errors():
            for name in many:
                if given(ctx, name):
                    raise InputError(f"--{name.replace('_', '-')} is for many images: add --out-dir DIR")

        def identity():
            from sparse_dip.physics import Identity

            return Identity()

        _run(ctx, noisy[0], "denoised", identity, **options)
        return
    with user_errors():
        if out_dir is None and len(noisy) == 1:
            raise InputError(f"{noisy[0]}: is a folder; add --out-dir DIR to denoise every image in it")
        if out_dir is None:
            raise InputError("several images need --out-dir DIR for the outputs")
        for name in ("out", "clean", "report", "save_mask", "checkpoint_every", "resume"):
            if given(ctx, name):
                hint = " (use --clean-dir)" if name == "clean" else ""
                raise InputError(f"--{name.replace('_', '-')} is for one image; not with --out-dir{hint}")
        if fresh_init and mask is None and not share_mask:
            raise InputError("--fresh-init needs --mask or --share-mask")
        from sparse_dip.restoration.pipeline import RestoreConfig

        base = RestoreConfig()
        config = run_config(
            base,
            None if mask is not None else sparsity,
            seed,
            device,
            precision,
            mask_steps,
            steps,
            stop,
            objective=objective,
            sigma=sigma,
        )
    batch_cli.denoise_many(
        noisy, out_dir, config, clean_dir, mask, fresh_init, share_mask, workers, threads, ray_address
    )


def inpaint(
    ctx: typer.Context,
    image: Annotated[Path, typer.Argument(help="The image with missing pixels.", metavar="IMAGE")],
    holes: Annotated[Path, typer.Option(help="Image of the same size whose zero (black) pixels are missing.")],
    sparsity: Sparsity = defaults.SPARSITY,
    out: OutInpainted = None,
    clean: Clean = None,
    steps: TaskSteps = defaults.FIT_STEPS,
    stop: TaskStop = False,
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
    steps: TaskSteps = defaults.FIT_STEPS,
    stop: TaskStop = False,
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
    steps: TaskSteps = defaults.FIT_STEPS,
    stop: TaskStop = False,
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
    """Build the run from the options, restore with progress bars, say what was written."""
    with user_errors():
        from sparse_dip.images import output_suffix
        from sparse_dip.restoration.file_run import FileRun, run_file
        from sparse_dip.restoration.fit import DivergedError
        from sparse_dip.restoration.pipeline import RestoreConfig
        from sparse_dip.runtime import resolve_device

        if fresh_init and mask is None:
            raise InputError("--fresh-init needs --mask")
        if mask is not None and save_mask is not None:
            raise InputError("--save-mask writes a learned mask; with --mask nothing is learned")
        if mask is not None and (given(ctx, "sparsity") or given(ctx, "mask_steps")):
            ignored = "--sparsity and --mask-steps are ignored: the mask file sets the sparsity"
            warnings.warn(ignored, Notice, stacklevel=1)
        operator = operator_of()
        config = run_config(
            RestoreConfig.for_operator(operator),
            None if mask is not None else sparsity,
            seed,
            device,
            precision,
            mask_steps,
            steps,
            stop,
            objective=objective,
            sigma=sigma,
        )
        try:
            resolve_device(device)
        except ValueError as error:
            raise InputError(str(error)) from None
        out = out or observed.with_name(f"{observed.stem}_{task}{output_suffix(observed)}")
        run = FileRun(
            observed=observed,
            operator=operator,
            config=config,
            out=out,
            report=report or out.with_suffix(".json"),
            clean=clean,
            mask=mask,
            fresh_init=fresh_init,
            save_mask=save_mask,
            checkpoint_every=checkpoint_every,
            resume=resume,
            extra_inputs=tuple(extra_inputs or ()),
        )
        with progress_bars() as progress:
            bars = RunBars(progress, config)
            try:
                summary = run_file(run, bars.on_mask_step, bars.on_fit_step)
            except (KeyboardInterrupt, DivergedError) as error:
                _stopped(error, run.checkpoint if checkpoint_every else None)
            bars.finish(summary["fit_steps_run"])
        line = f"wrote {summary['output']} and {run.report} in {summary['seconds']:.0f} s"
        if "psnr" in summary:
            noisy = f" (noisy {summary['noisy_psnr']:.2f})" if "noisy_psnr" in summary else ""
            line += f": PSNR {summary['psnr']:.2f} dB{noisy}, SSIM {summary['ssim']:.3f}"
        typer.echo(line)
        if summary["sigma"] is not None:
            typer.echo(f"noise level: sigma {summary['sigma']['value']:.1f} ({summary['sigma']['source']})")
        if summary["stopping"] is not None:
            typer.echo(f"fit: {summary['stopping']['reason']}")
        typer.echo(precision_line(summary["precision"]))


def precision_line(precision: dict) -> str:
    """``precision: fit bf16 (fp32 0.252 s, bf16 0.168 s per step, probe), mask ...`` from a report."""
    parts = []
    for phase in ("mask", "fit"):
        if phase not in precision:
            continue
        found = precision[phase]
        timed = ""
        if found.get("fp32_seconds") is not None:
            timed = (
                f" (fp32 {found['fp32_seconds']:.3f} s, bf16 {found['bf16_seconds']:.3f} s per step, {found['source']})"
            )
        elif found.get("source") not in (None, "settings"):
            timed = f" ({found['source']})"
        parts.append(f"{phase} {found['picked']}{timed}")
    return "precision: " + "; ".join(parts)


def run_config(
    base,
    sparsity: float | None,
    seed: int,
    device: str,
    precision: str,
    mask_steps: int,
    steps: int,
    stop: bool,
    **changes,
):
    """``base`` (a :class:`~sparse_dip.restoration.pipeline.RestoreConfig`) with the command-line
    options applied; ``sparsity`` None keeps the base's (a mask file sets it). One-line errors."""
    from dataclasses import replace

    from sparse_dip.restoration.stopping import StopConfig

    auto = precision == "auto"
    try:
        return replace(
            base,
            sparsity=base.sparsity if sparsity is None else sparsity,
            seed=seed,
            device=device,
            oes=replace(base.oes, precision=base.oes.precision if auto else precision, steps=mask_steps),
            fit=replace(
                base.fit,
                precision=base.fit.precision if auto else precision,
                steps=steps,
                stop=(base.fit.stop or StopConfig()) if stop else None,
            ),
            auto_precision=auto,
            **changes,
        )
    except ValueError as error:
        raise InputError(str(error)) from None


class RunBars:
    """Progress bars of one run, created as its phases start: the mask search, then the fit."""

    def __init__(self, progress, config, prefix: str = "") -> None:
        self.progress, self.config, self.prefix = progress, config, prefix
        self.mask_task = self.fit_task = None

    def on_mask_step(self, step: int, loss: float) -> None:
        if self.mask_task is None:
            self.mask_task = self.progress.add_task(
                f"{self.prefix}{self.config.method} mask", total=self.config.oes.steps, info=""
            )
        self.progress.update(self.mask_task, completed=step, info=f"loss {loss:.4f}")

    def on_fit_step(self, step: int, values: dict[str, float]) -> None:
        if self.fit_task is None:
            self.fit_task = self.progress.add_task(f"{self.prefix}fit", total=self.config.fit.steps, info="")
        info = f"loss {values['loss']:.4f}"
        if "psnr_ema" in values:
            info += f"  PSNR {values['psnr_ema']:.2f} dB"
        elif "psnr" in values:
            info += f"  PSNR {values['psnr']:.2f} dB"
        self.progress.update(self.fit_task, completed=step, info=info)

    def finish(self, steps_run: int) -> None:
        """End the fit's bar full (a stopped fit ran fewer steps than its maximum)."""
        if self.fit_task is not None:
            self.progress.update(self.fit_task, total=steps_run, completed=steps_run)

    def remove(self) -> None:
        for task in (self.mask_task, self.fit_task):
            if task is not None:
                self.progress.remove_task(task)


def _stopped(stop: BaseException, checkpoint: Path | None) -> None:
    """One line for a run stopped by Ctrl-C or by a diverging loss, saying what is left."""
    from sparse_dip.cli_common import fail

    saved = checkpoint is not None and checkpoint.exists()
    if isinstance(stop, KeyboardInterrupt):
        hint = f"add --resume to continue from {checkpoint}" if saved else "run the command again to start over"
        fail(f"interrupted; no output was written ({hint})", 130)
    kept = f"; the last good checkpoint is kept at {checkpoint}" if saved else ""
    fail(f"{stop}: stopped, no output was written{kept}")
