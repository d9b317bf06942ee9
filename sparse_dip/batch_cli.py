"""Many images from the command line: ``sparse-dip denoise PATH... --out-dir DIR`` and ``sparse-dip sweep``.

A thin layer over :mod:`sparse_dip.batch`: progress bars (one over the images, the current
image's own under it when it runs here), the summary rewritten as each image ends, one line
at the end, and exit code 1 if any image failed (2 for bad options, before anything runs).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sparse_dip import defaults
from sparse_dip.cli_common import examples, fail, progress_bars, user_errors
from sparse_dip.errors import InputError

OutDir = Annotated[Path | None, typer.Option(help="Folder for the outputs (input names kept) and the summary.")]
ShareMask = Annotated[
    bool,
    typer.Option(
        "--share-mask",
        help="Learn one OES mask on the first image (one for colour, one for grayscale) and fit every image with it.",
    ),
]
CleanDir = Annotated[Path | None, typer.Option(help="Folder of clean references, matched by file name: PSNR/SSIM.")]
Workers = Annotated[int, typer.Option(help="Images run in parallel, as Ray tasks when more than 1 (extra: ray).")]
RayAddress = Annotated[
    str | None,
    typer.Option(help="Send the images to this running Ray cluster (ray start --head prints it); --workers is unused."),
]
Threads = Annotated[
    int | None,
    typer.Option(
        help="Torch threads per image (on a cluster also the CPUs each task asks for).",
        show_default="torch's own in-process; the cores divided among the workers; 1 on a cluster",
    ),
]


def check_executor(workers: int, threads: int | None, ray_address: str | None, device: str) -> float:
    """One-line errors for the executor options, before anything runs; the GPUs each task asks for.

    Without a cluster the device is resolved here (``auto`` is CUDA when this machine has it);
    on a cluster ``--device cuda`` asks Ray for a GPU per task and ``auto`` for none.
    """
    from sparse_dip.runtime import resolve_device

    if ray_address is None:
        try:
            device = resolve_device(device).type
        except ValueError as error:
            raise InputError(str(error)) from None
    elif device not in ("auto", "cpu", "cuda") and not device.startswith("cuda:"):
        raise InputError(f"device must be auto, cpu or cuda, got {device!r}")
    if workers < 1:
        raise InputError(f"--workers must be at least 1, got {workers}")
    if threads is not None and threads < 1:
        raise InputError(f"--threads must be at least 1, got {threads}")
    if workers > 1 or ray_address is not None:
        try:
            import ray  # noqa: F401
        except ImportError:
            from sparse_dip.batch.executor import RAY_HINT

            raise InputError(RAY_HINT) from None
    if ray_address is not None:
        from sparse_dip.batch.executor import start_ray

        start_ray(ray_address, cpus=0)  # a wrong address fails here, before a mask is learned
    return 1 if device.startswith("cuda") else 0


INTERRUPTED = "interrupted; the finished images and the summary are kept: run the same command again to go on"


def _execute(runs, out_dir: Path, title: str, write, workers, threads, ray_address, gpus: float) -> list:
    """Run ``runs`` with progress bars, rewriting the summary (``write``) as each ends; Ctrl-C
    keeps what finished (an image being fitted leaves nothing) and says how to go on."""
    from sparse_dip.batch.folder import run_batch
    from sparse_dip.restore_cli import RunBars

    with progress_bars() as progress:
        overall = progress.add_task("images", total=len(runs), info="")

        def bars(run):
            return RunBars(progress, run.config, prefix="  ")

        def on_outcome(outcome, so_far) -> None:
            write(out_dir, so_far, title)
            info = f"{Path(outcome.image).name}: {outcome.status}"
            if outcome.status == "failed":
                info += f" ({outcome.reason})"
            elif outcome.psnr is not None:
                info += f", {outcome.psnr:.2f} dB"
            progress.update(overall, completed=len(so_far), info=info)

        try:
            return run_batch(
                runs,
                workers=workers,
                threads=threads,
                address=ray_address,
                gpus=gpus,
                bars=bars if workers == 1 and ray_address is None else None,
                on_outcome=on_outcome,
            )
        except KeyboardInterrupt:
            fail(INTERRUPTED, 130)


def _finish(outcomes: list, out_dir: Path, name: str) -> None:
    from sparse_dip.batch.summary import counts

    failed = [o for o in outcomes if o.status == "failed"]
    typer.echo(f"{counts(outcomes)}; wrote {out_dir / (name + '.csv')} and {out_dir / (name + '.md')}")
    for outcome in failed:
        why = outcome.reason if outcome.image in outcome.reason else f"{outcome.image}: {outcome.reason}"
        typer.echo(f"sparse-dip: failed: {why}", err=True)
    if failed:
        raise typer.Exit(1)


def denoise_many(
    paths: list[Path],
    out_dir: Path,
    config,
    clean_dir: Path | None,
    mask: Path | None,
    fresh_init: bool,
    share_mask: bool,
    workers: int,
    threads: int | None,
    ray_address: str | None,
) -> None:
    """``sparse-dip denoise`` on many files: one output per image in ``out_dir``, and a summary."""
    with user_errors():
        from sparse_dip.batch.folder import plan, share_masks
        from sparse_dip.batch.inputs import check_folders, expand
        from sparse_dip.batch.summary import write_summary
        from sparse_dip.files import output_folder
        from sparse_dip.pruning.mask_file import load_mask

        gpus = check_executor(workers, threads, ray_address, config.device)
        if clean_dir is not None and not clean_dir.is_dir():
            raise InputError(f"--clean-dir {clean_dir}: not a folder")
        if mask is not None:
            load_mask(mask)  # a bad mask file is one error now, not one failed row per image
        images = expand(paths)
        check_folders(images, out_dir, clean_dir)
        runs = plan(images, out_dir, config, clean_dir, mask, fresh_init)
        out_dir = output_folder(out_dir, images)
        if share_mask and mask is None:
            with progress_bars() as progress:
                from sparse_dip.restore_cli import RunBars

                bars = RunBars(progress, config, prefix="shared ")
                runs, said = share_masks(runs, out_dir, config, bars.on_mask_step)
            for line in said:
                typer.echo(line)
        outcomes = _execute(runs, out_dir, "sparse-dip denoise", write_summary, workers, threads, ray_address, gpus)
        write_summary(out_dir, outcomes, "sparse-dip denoise")
    _finish(outcomes, out_dir, "summary")


def sweep(
    images: Annotated[Path, typer.Option(help="Folder (or glob) of the images.")],
    out_dir: Annotated[Path, typer.Option(help="Folder for every run's output and results.csv / results.md.")],
    methods: Annotated[
        str, typer.Option(help=f"Comma-separated: dense, {', '.join(defaults.PRUNING_METHODS)}.")
    ] = "oes,imp,snip,random",
    sparsity: Annotated[str, typer.Option(help="Comma-separated sparsities, each in (0, 1).")] = "0.9,0.95,0.98",
    seeds: Annotated[str, typer.Option(help="Comma-separated seeds.")] = "0,1,2",
    clean_dir: CleanDir = None,
    steps: Annotated[int, typer.Option(help="Most fitting steps (the stopping rule usually ends sooner).")] = (
        defaults.FIT_STEPS
    ),
    stop: Annotated[bool, typer.Option("--stop/--no-stop", help="The windowed-variance stopping rule.")] = True,
    mask_steps: Annotated[int, typer.Option(help="OES mask-learning steps.")] = defaults.MASK_STEPS,
    workers: Workers = 1,
    threads: Threads = None,
    ray_address: RayAddress = None,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    precision: Annotated[str, typer.Option(help="fp32, bf16, or auto (the faster of the two here).")] = "fp32",
) -> None:
    """Run a grid of denoising runs (images x methods x sparsities x seeds); resumes when rerun."""
    with user_errors():
        from sparse_dip.batch.inputs import check_folders, expand
        from sparse_dip.batch.summary import write_results
        from sparse_dip.batch.sweep import parse_list, plan_sweep
        from sparse_dip.files import output_folder
        from sparse_dip.restoration.pipeline import RestoreConfig
        from sparse_dip.restore_cli import run_config

        gpus = check_executor(workers, threads, ray_address, device)
        if clean_dir is not None and not clean_dir.is_dir():
            raise InputError(f"--clean-dir {clean_dir}: not a folder")
        found = expand([images])
        check_folders(found, out_dir, clean_dir)
        base = run_config(RestoreConfig(), None, 0, device, precision, mask_steps, steps, stop)
        runs = plan_sweep(
            found,
            out_dir,
            base,
            parse_list(methods, str, "--methods"),
            parse_list(sparsity, float, "--sparsity"),
            parse_list(seeds, int, "--seeds"),
            clean_dir,
        )
        out_dir = output_folder(out_dir, found)
        outcomes = _execute(runs, out_dir, "sparse-dip sweep", write_results, workers, threads, ray_address, gpus)
        write_results(out_dir, outcomes, "sparse-dip sweep")
    _finish(outcomes, out_dir, "results")


def register(app: typer.Typer) -> None:
    """Add ``sweep`` to ``app`` (many-file ``denoise`` is :func:`denoise_many`, called by ``denoise``)."""
    app.command(
        epilog=examples(
            "sparse-dip sweep --images noisy/ --clean-dir clean/ --methods oes,random --sparsity 0.9,0.95 "
            "--seeds 0,1 --out-dir sweep/"
        )
    )(sweep)
