"""The ``sparse-dip`` command line: a thin layer over the Python API.

Every command answers bad input with one line on stderr and exit code 2, and writes its
outputs atomically (a run that fails or is interrupted leaves nothing behind). Heavy imports
(torch) happen inside the commands so that ``--help`` is instant.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from sparse_dip import __version__, defaults
from sparse_dip.batch_cli import register as register_batch
from sparse_dip.classify_cli import classify_app
from sparse_dip.cli_common import APP_SETTINGS, examples, progress_bars, user_errors
from sparse_dip.errors import InputError
from sparse_dip.files import output_folder, output_path
from sparse_dip.restore_cli import FIT_STEPS_HELP, STOP_HELP, Boundary, Holes, Kernel, Scale, task_operator
from sparse_dip.restore_cli import register as register_restoration

app = typer.Typer(
    help="Restore images with sparse deep image priors (Optimal Eye Surgeon + Sparse-DIP).",
    epilog=examples("sparse-dip denoise noisy.png --sparsity 0.95", "sparse-dip denoise --help"),
    **APP_SETTINGS,
)
app.add_typer(classify_app, name="classify")

register_restoration(app)
register_batch(app)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"sparse-dip {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool, typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Restore images with sparse deep image priors (Optimal Eye Surgeon + Sparse-DIP)."""


@app.command(
    epilog=examples("sparse-dip compare noisy.png --clean clean.png --methods dense,oes,random,bm3d,tv --out cmp/")
)
def compare(
    noisy: Annotated[
        Path, typer.Argument(help="The observed (noisy, damaged, small or blurred) image.", metavar="IMAGE")
    ],
    clean: Annotated[Path | None, typer.Option(help="Clean reference: PSNR/SSIM per method and PSNR curves.")] = None,
    methods: Annotated[
        str,
        typer.Option(
            help=f"Comma-separated: dense, {', '.join(defaults.PRUNING_METHODS)}; references: bm3d, tv, nlmeans, "
            "zsn2n (denoise), biharmonic (inpaint), bicubic (superres), wiener, richardson-lucy (deblur)."
        ),
    ] = ",".join(("dense", *defaults.PRUNING_METHODS)),
    task: Annotated[str, typer.Option(help="denoise, inpaint, superres or deblur.")] = "denoise",
    holes: Holes = None,
    scale: Scale = 4,
    kernel: Kernel = None,
    boundary: Boundary = "circular",
    sparsity: Annotated[
        float, typer.Option(help="Fraction of weights removed by every mask method, in (0, 1).")
    ] = defaults.SPARSITY,
    steps: Annotated[int, typer.Option(help=FIT_STEPS_HELP)] = defaults.FIT_STEPS,
    stop: Annotated[
        bool | None,
        typer.Option("--stop/--no-stop", help=STOP_HELP, show_default="stop for denoise, no-stop for the other tasks"),
    ] = None,
    mask_steps: Annotated[int, typer.Option(help="OES mask-learning steps.")] = defaults.MASK_STEPS,
    imp_steps: Annotated[
        int | None, typer.Option(help="Fitting steps per IMP level.", show_default="the fitting steps")
    ] = None,
    rewind_step: Annotated[int, typer.Option(help="IMP rewinds to this step (0: the initialisation).")] = 0,
    sigma: Annotated[
        float | None,
        typer.Option(help="Noise level (0-255) for the classic denoisers.", show_default="estimated from the image"),
    ] = None,
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("comparison"),
    seed: Annotated[int, typer.Option(help="Seed shared by every method (weights, input noise).")] = 0,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    precision: Annotated[
        str, typer.Option(help="fp32, or bf16 autocast (faster on some CPUs: BENCHMARKS.md).")
    ] = "fp32",
) -> None:
    """Compare dense DIP, Sparse-DIP with each mask method and classic baselines on one image."""
    with user_errors():
        from dataclasses import replace

        from sparse_dip import metrics
        from sparse_dip.files import write_json, write_text
        from sparse_dip.images import load_image, output_suffix, save_image
        from sparse_dip.physics import Identity
        from sparse_dip.plots import image_grid, psnr_curves, save_figure
        from sparse_dip.pruning.imp import IMPConfig, imp_densities
        from sparse_dip.restoration.compare import check_methods, classic_methods, results_table
        from sparse_dip.restoration.compare import compare as run_compare
        from sparse_dip.restoration.denoise import DenoiseConfig
        from sparse_dip.restoration.masks import BaselineConfig
        from sparse_dip.restoration.stopping import StopConfig
        from sparse_dip.runtime import resolve_device, versions

        operator = task_operator(task, holes, scale, kernel, boundary)
        names = check_methods([m.strip() for m in methods.split(",") if m.strip()], operator)
        if not 0.0 < sparsity < 1.0:
            raise InputError(f"--sparsity must be in (0, 1) for a comparison, got {sparsity}")
        base = DenoiseConfig.for_operator(operator)
        stop = operator.stop_early if stop is None else stop
        try:
            config = DenoiseConfig(
                sparsity=sparsity,
                seed=seed,
                device=device,
                oes=replace(base.oes, precision=precision, steps=mask_steps),
                fit=replace(base.fit, precision=precision, steps=steps, stop=StopConfig() if stop else None),
                baseline=BaselineConfig(
                    imp=IMPConfig(rewind_step=rewind_step), imp_steps=imp_steps if imp_steps is not None else steps
                ),
            )
            resolve_device(device)
        except ValueError as error:
            raise InputError(str(error)) from None
        source = load_image(noisy)
        operator.check(*source.pixels.shape)
        image_shape = (*operator.image_size(*source.pixels.shape[:2]), source.pixels.shape[2])
        reference = load_image(clean) if clean else None
        if reference is not None and reference.pixels.shape != image_shape:
            raise InputError(
                f"{clean}: the clean image is {reference.pixels.shape}, the restored one will be {image_shape}"
            )
        extra = [holes] if task == "inpaint" and holes else []
        extra += [Path(kernel)] if task == "deblur" and kernel and not kernel.startswith("gaussian:") else []
        inputs = [noisy, *extra] + ([clean] if clean else [])
        folder = output_folder(out, inputs)

        fit_total = config.fit.steps
        started = time.perf_counter()
        with progress_bars() as progress:
            tasks: dict[str, tuple] = {}  # name: (task id, total)

            def on_method(name: str):
                if name in classic_methods(operator):
                    tasks[name] = (progress.add_task(name, total=1, info="running"), 1)
                    return None, None
                if name == "oes":
                    mask_total = config.oes.steps
                elif name == "imp":
                    mask_total = len(imp_densities(1 - sparsity)) * config.baseline.imp_steps
                else:
                    mask_total = 0
                task = progress.add_task(name, total=mask_total + fit_total, info="mask" if mask_total else "")
                tasks[name] = (task, mask_total + fit_total)

                def on_mask(step: int, value: float) -> None:
                    done = step * config.baseline.imp_steps if name == "imp" else step
                    progress.update(task, completed=done, info=f"mask {'level' if name == 'imp' else 'step'} {step}")

                def on_fit(step: int, values: dict[str, float]) -> None:
                    info = f"PSNR {values['psnr_ema']:.2f} dB" if "psnr_ema" in values else f"loss {values['loss']:.4f}"
                    progress.update(task, completed=mask_total + step, info=info)

                return on_mask, on_fit

            def on_result(name: str, row) -> None:
                info = f"{row.seconds:.0f} s" + ("" if row.final_psnr is None else f", PSNR {row.final_psnr:.2f} dB")
                task, total = tasks[name]
                progress.update(task, completed=total, info=info)

            results = run_compare(
                source.pixels,
                names,
                config,
                clean=None if reference is None else reference.pixels,
                sigma=None if sigma is None else sigma / 255,
                on_method=on_method,
                on_result=on_result,
                operator=operator,
            )

        denoising = isinstance(operator, Identity)
        noisy_psnr = None if reference is None or not denoising else metrics.psnr(source.pixels, reference.pixels)
        for name, row in results.items():
            save_image(folder / f"{name}{output_suffix(noisy)}", row.image, bits=source.bits)
        write_json(folder / "results.json", {name: row.summary() for name, row in results.items()})
        write_text(folder / "results.md", results_table(results, noisy_psnr) + "\n")
        write_json(
            folder / "run.json",
            {
                "command": sys.argv,
                "noisy": str(noisy),
                "task": task,
                "operator": operator.to_dict(),
                "clean": str(clean) if clean else None,
                "seed": seed,
                "settings": config.to_dict(),
                "fit_steps": fit_total,
                "sigma": sigma,
                "versions": versions(),
                "seconds": time.perf_counter() - started,
                "noisy_psnr": noisy_psnr,
                "reports": {name: row.report for name, row in results.items() if row.report is not None},
            },
        )
        tiles = {} if reference is None else {"clean": reference.pixels}
        tiles[("noisy" if denoising else "observed") + ("" if noisy_psnr is None else f" ({noisy_psnr:.2f} dB)")] = (
            source.pixels
        )
        for name, row in results.items():
            tiles[name + ("" if row.final_psnr is None else f" ({row.final_psnr:.2f} dB)")] = row.image
        save_figure(image_grid(tiles), folder / "grid.png")
        if reference is not None:
            curves = {
                name: (row.history["step"], row.history["psnr_ema"] or row.history["psnr"])
                for name, row in results.items()
                if row.history is not None
            }
            levels = {name: row.final_psnr for name, row in results.items() if row.history is None}
            if noisy_psnr is not None:
                levels["noisy input"] = noisy_psnr
            save_figure(
                psnr_curves(curves, levels, title=f"{noisy.name}: PSNR against fitting step"),
                folder / "psnr_curves.png",
            )
        typer.echo(results_table(results, noisy_psnr))
        typer.echo(
            f"wrote {folder}/ (results.json, results.md, grid.png"
            f"{', psnr_curves.png' if reference is not None else ''}, one image per method)"
        )


@app.command("find-mask", epilog=examples("sparse-dip find-mask noisy.png --sparsity 0.95 --out noisy.mask"))
def find_mask(
    image: Annotated[Path, typer.Argument(help="The (noisy) image the mask is learned on.", metavar="IMAGE")],
    sparsity: Annotated[float, typer.Option(help="Fraction of weights removed, in (0, 1).")] = defaults.SPARSITY,
    out: Annotated[Path | None, typer.Option(help="Mask file.", show_default="IMAGE.mask beside IMAGE")] = None,
    method: Annotated[str, typer.Option(help=f"One of {', '.join(defaults.PRUNING_METHODS)}.")] = "oes",
    mask_steps: Annotated[int, typer.Option(help="OES mask-learning steps.")] = defaults.MASK_STEPS,
    imp_steps: Annotated[int, typer.Option(help="Fitting steps per IMP level.")] = defaults.IMP_STEPS,
    seed: Annotated[int, typer.Option(help="Seed of the weights and input noise (stored in the mask file).")] = 0,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    precision: Annotated[
        str, typer.Option(help="fp32, or bf16 autocast (faster on some CPUs: BENCHMARKS.md).")
    ] = "fp32",
) -> None:
    """Learn a mask on an image and save it, for `denoise --mask` on this or other images."""
    with user_errors():
        from dataclasses import replace

        from sparse_dip.images import load_image
        from sparse_dip.pruning.mask_file import save_mask
        from sparse_dip.restoration.denoise import DenoiseConfig, learn_image_mask
        from sparse_dip.restoration.masks import BaselineConfig
        from sparse_dip.runtime import resolve_device

        if not 0.0 < sparsity < 1.0:
            raise InputError(f"--sparsity must be in (0, 1) for a mask, got {sparsity}")
        base = DenoiseConfig()
        try:
            config = DenoiseConfig(
                sparsity=sparsity,
                method=method,
                seed=seed,
                device=device,
                oes=replace(base.oes, precision=precision, steps=mask_steps),
                fit=replace(base.fit, precision=precision),
                baseline=BaselineConfig(imp_steps=imp_steps),
            )
            resolve_device(device)
        except ValueError as error:
            raise InputError(str(error)) from None
        source = load_image(image)
        out = output_path(out or image.with_suffix(".mask"), [image])
        started = time.perf_counter()
        with progress_bars() as progress:
            total = config.oes.steps if method == "oes" else None
            task = progress.add_task(f"{method} mask", total=total, info="")

            def on_step(step: int, value: float) -> None:
                progress.update(task, completed=step, info=f"level {step}" if method == "imp" else f"loss {value:.4g}")

            found = learn_image_mask(source.pixels, config, on_mask_step=on_step)
            progress.update(task, total=1, completed=1)
        found.info["source"]["file"] = str(image)
        found.info["command"] = sys.argv
        save_mask(out, found)
        typer.echo(
            f"wrote {out} ({out.stat().st_size / 1024:.0f} KB): {method} mask, density {found.mask.density:.4f}, "
            f"seed {seed}, in {time.perf_counter() - started:.0f} s"
        )


@app.command("inspect-mask", epilog=examples("sparse-dip inspect-mask noisy.mask --plot density.png"))
def inspect_mask(
    mask: Annotated[Path, typer.Argument(help="A mask file.", metavar="MASK")],
    plot: Annotated[Path | None, typer.Option(help="Write a bar chart of the kept fraction per layer.")] = None,
) -> None:
    """Print a mask file's header and its per-layer density."""
    with user_errors():
        import json

        from sparse_dip.plots import density_bars, layer_labels, save_figure
        from sparse_dip.pruning.mask_file import FORMAT_VERSION, load_mask

        loaded = load_mask(mask)
        if plot is not None:
            plot = output_path(plot, [mask])
        info = {k: v for k, v in loaded.info.items() if k not in ("settings", "versions")}
        typer.echo(f"{mask}: sparse-dip mask, format version {FORMAT_VERSION}")
        typer.echo(f"kept {loaded.mask.kept} of {loaded.mask.total} weights (density {loaded.mask.density:.4f})")
        for key, value in info.items():
            typer.echo(f"  {key}: {json.dumps(value)}")
        if "versions" in loaded.info:
            typer.echo("  versions: " + ", ".join(f"{k} {v}" for k, v in loaded.info["versions"].items()))
        labels = layer_labels({n: tuple(t.shape) for n, t in loaded.mask.items()})
        typer.echo(f"{'layer':<36} {'kept':>9} {'of':>9} {'density':>8}")
        for name, tensor in loaded.mask.items():
            typer.echo(
                f"{labels[name]:<36} {int(tensor.sum()):>9} {tensor.numel():>9} {float(tensor.float().mean()):>8.4f}"
            )
        if plot is not None:
            per_layer = {labels[n]: d for n, d in loaded.mask.density_per_layer().items()}
            title = f"{mask.name}: kept fraction per layer (overall {loaded.mask.density:.3f})"
            save_figure(density_bars({mask.name: per_layer}, title), plot)
            typer.echo(f"wrote {plot}")


@app.command("add-noise", epilog=examples("sparse-dip add-noise photo.png --sigma 25 --seed 0 --out noisy.png"))
def add_noise(
    clean: Annotated[Path, typer.Argument(help="The clean image.", metavar="CLEAN")],
    sigma: Annotated[float, typer.Option(help="Noise standard deviation on the 0-255 scale.")] = 25.0,
    seed: Annotated[int, typer.Option(help="Seed of the noise.")] = 0,
    out: Annotated[
        Path | None, typer.Option(help="Noisy image.", show_default="CLEAN_noisy.png beside CLEAN; .tif for a TIFF")
    ] = None,
) -> None:
    """Add white Gaussian noise to an image, to make test inputs (written at the input's bit depth)."""
    with user_errors():
        from sparse_dip.images import add_gaussian_noise, load_image, output_suffix, save_image

        out = output_path(out or clean.with_name(f"{clean.stem}_noisy{output_suffix(clean)}"), [clean])
        image = load_image(clean)
        save_image(out, add_gaussian_noise(image.pixels, sigma, seed), bits=image.bits)
        typer.echo(f"wrote {out} (sigma {sigma:g}, seed {seed})")


def main() -> None:
    """Entry point of the ``sparse-dip`` console script."""
    app()
