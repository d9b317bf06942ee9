"""``sparse-dip classify ...``: the pruning core on classification networks (a thin layer over
:mod:`sparse_dip.classification`)."""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path
from typing import Annotated

import typer

from sparse_dip import defaults
from sparse_dip.cli_common import APP_SETTINGS, examples, progress_bars, user_errors
from sparse_dip.errors import InputError
from sparse_dip.files import output_folder, output_path

classify_app = typer.Typer(
    help="Prune and train classifiers: OES, SynFlow, SNIP, GraSP, magnitude, random; IMP with rewinding; stability.",
    epilog=examples("sparse-dip classify collapse --model vgg16 --out collapse/"),
    **APP_SETTINGS,
)

ModelOption = Annotated[str, typer.Option(help="vgg11, vgg16, resnet20, resnet32 or small_cnn.")]
DatasetOption = Annotated[
    str | None,
    typer.Option(help="digits, cifar10, cifar100 or synthetic.", show_default="cifar10 with --data-dir, else digits"),
]
DataDirOption = Annotated[Path | None, typer.Option(help="Folder holding CIFAR in its python format.")]
SeedOption = Annotated[int, typer.Option(help="Seed of the initial weights (and of the random scores).")]
DeviceOption = Annotated[str, typer.Option(help="auto, cpu or cuda.")]
LrOption = Annotated[float, typer.Option(help="Peak SGD learning rate.")]
BatchOption = Annotated[int, typer.Option(help="Minibatch size.")]


def _checked(call):
    """Run ``call()``, turning a ``ValueError`` from the API into a one-line input error."""
    try:
        return call()
    except ValueError as error:
        raise InputError(str(error)) from None


def _dataset(name: str | None, data_dir: Path | None, seed: int = 0):
    from sparse_dip.classification.data import load_dataset

    return load_dataset(name or ("cifar10" if data_dir else "digits"), data_dir, seed)


def _model(name: str, shape: tuple[int, int, int], classes: int, seed: int):
    from sparse_dip.classification.models import build_classifier
    from sparse_dip.runtime import seeded_init

    return _checked(lambda: seeded_init(seed, lambda: build_classifier(name, shape[0], classes)))


def _train_config(epochs: int, lr: float, batch_size: int, label_smoothing: float, schedule: str, device: str):
    from sparse_dip.classification.train import TrainConfig
    from sparse_dip.runtime import resolve_device

    _checked(lambda: resolve_device(device))
    return _checked(
        lambda: TrainConfig(
            epochs=epochs,
            lr=lr,
            batch_size=batch_size,
            label_smoothing=label_smoothing,
            schedule=schedule,
            device=device,
        )
    )


def _run_record(**fields) -> dict:
    from sparse_dip.runtime import versions

    return {**fields, "versions": versions(), "command": sys.argv}


@classify_app.command(
    epilog=examples("sparse-dip classify prune --model vgg16 --method synflow --compression 1000 --out vgg16.mask")
)
def prune(
    model: ModelOption = "vgg16",
    method: Annotated[str, typer.Option(help=f"One of {', '.join(defaults.CLASSIFIER_PRUNING_METHODS)}.")] = "synflow",
    compression: Annotated[float, typer.Option(help="Weights before / weights after (1000: keep 0.1 %).")] = 1000.0,
    scope: Annotated[
        str, typer.Option(help="global (one ranking) or local (the same density in every layer).")
    ] = "global",
    iterations: Annotated[
        int | None,
        typer.Option(help="Pruning rounds.", show_default=f"{defaults.SYNFLOW_ROUNDS} for synflow, else 1"),
    ] = None,
    schedule: Annotated[
        str, typer.Option(help="exponential or linear density schedule over the rounds.")
    ] = "exponential",
    dataset: DatasetOption = None,
    data_dir: DataDirOption = None,
    data_free: Annotated[
        bool, typer.Option("--data-free", help="No data: Gaussian inputs for SNIP/GraSP, 3x32x32.")
    ] = False,
    mask_steps: Annotated[
        int, typer.Option(help="OES: mask-learning steps (minibatches of 128 training images).")
    ] = defaults.MASK_STEPS,
    out: Annotated[Path, typer.Option(help="Mask file.")] = Path("classifier.mask"),
    seed: SeedOption = 0,
) -> None:
    """Prune a classifier at initialisation and save the mask."""
    with user_errors():
        import time

        from sparse_dip.classification.pruning import prune_classifier
        from sparse_dip.pruning.mask_file import MaskFile, save_mask
        from sparse_dip.pruning.oes import OESConfig

        if scope not in ("global", "local"):
            raise InputError(f"--scope must be global or local, got {scope!r}")
        data = None if data_free else _dataset(dataset, data_dir, seed)
        shape, classes = ((3, 32, 32), 10) if data is None else (data.shape, data.classes)
        out = output_path(out, [])
        net = _model(model, shape, classes, seed)
        started = time.perf_counter()
        mask = _checked(
            lambda: prune_classifier(
                net,
                method,
                compression,
                data=data,
                shape=shape,
                classes=classes,
                scope="global" if scope == "global" else "layer",
                rounds=iterations,
                schedule=schedule,
                seed=seed,
                oes=OESConfig(steps=mask_steps),
            )
        )
        info = _run_record(
            kind="classifier",
            model=model,
            input_shape=list(shape),
            classes=classes,
            dataset=None if data is None else data.name,
            method=method,
            compression=compression,
            scope=scope,
            iterations=iterations,
            schedule=schedule,
            **({"mask_steps": mask_steps} if method == "oes" else {}),
            init_seed=seed,
            density=mask.density,
            seconds=time.perf_counter() - started,
        )
        save_mask(out, MaskFile(mask, info))
        collapsed = [n for n, d in mask.density_per_layer().items() if d == 0.0]
        typer.echo(
            f"wrote {out}: {method}, density {mask.density:.3g} ({mask.kept} of {mask.total} weights), "
            f"{len(collapsed)} layer(s) fully pruned, {info['seconds']:.0f} s"
        )


@classify_app.command(epilog=examples("sparse-dip classify collapse --model vgg16 --max-log10 6 --out collapse/"))
def collapse(
    model: ModelOption = "vgg16",
    methods: Annotated[
        str, typer.Option(help="Comma-separated pruning methods.")
    ] = "magnitude,random,snip,grasp,synflow",
    max_log10: Annotated[float, typer.Option(help="Sweep compression from 10^0 to 10^MAX.")] = 6.0,
    step: Annotated[float, typer.Option(help="Step of the sweep in log10 compression.")] = 0.25,
    iterations: Annotated[int, typer.Option(help="SynFlow rounds.")] = defaults.SYNFLOW_ROUNDS,
    dataset: DatasetOption = None,
    data_dir: DataDirOption = None,
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("collapse"),
    seed: SeedOption = 0,
) -> None:
    """Sweep compression at initialisation; find where each method first empties a layer."""
    with user_errors():
        from sparse_dip.classification.pruning import METHODS, compression_grid, layer_collapse
        from sparse_dip.files import write_json, write_text
        from sparse_dip.plots import layer_collapse_plot, save_figure

        names = [m.strip() for m in methods.split(",") if m.strip()]
        unknown = [m for m in names if m not in METHODS]
        if unknown or not names:
            raise InputError(f"unknown method(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(METHODS)}")
        if max_log10 <= 0 or step <= 0:
            raise InputError("--max-log10 and --step must be positive")
        # SNIP and GraSP score on data: CIFAR when given, else Gaussian inputs (data-free).
        data = _dataset(dataset, data_dir, seed) if (dataset or data_dir) else None
        shape, classes = ((3, 32, 32), 10) if data is None else (data.shape, data.classes)
        folder = output_folder(out, [])
        grid = compression_grid(max_log10, step)
        with progress_bars() as progress:
            task = progress.add_task("collapse", total=len(grid) * len(names), info="")

            def on_point(method: str, log_c: float, fractions: dict) -> None:
                progress.update(task, advance=1, info=f"{method} 10^{log_c:g}: min layer {min(fractions.values()):.2g}")

            curves = layer_collapse(
                lambda: _model(model, shape, classes, seed),
                names,
                grid,
                data=data,
                shape=shape,
                classes=classes,
                rounds=iterations,
                seed=seed,
                on_point=on_point,
            )
        results = {m: c.to_dict() for m, c in curves.items()}
        write_json(folder / "results.json", results)
        lines = ["| method | critical log10 compression | seconds |", "|---|---|---|"]
        for m, c in curves.items():
            critical = c.critical_log10_compression
            lines.append(f"| {m} | {'none' if critical is None else f'{critical:g}'} | {c.seconds:.0f} |")
        table = "\n".join(lines)
        write_text(
            folder / "results.md",
            f"{model}, data: {'Gaussian (data-free)' if data is None else data.name}, "
            f"seed {seed}, SynFlow {iterations} rounds\n\n{table}\n",
        )
        write_json(
            folder / "run.json",
            _run_record(
                model=model,
                methods=names,
                grid=grid,
                iterations=iterations,
                seed=seed,
                dataset=None if data is None else data.name,
            ),
        )
        save_figure(
            layer_collapse_plot({m: (c.log10_compressions, c.remaining) for m, c in curves.items()}),
            folder / "remaining_per_layer.png",
        )
        typer.echo(table)
        typer.echo(f"wrote {folder}/ (results.json, results.md, remaining_per_layer.png, run.json)")


@classify_app.command(
    "train", epilog=examples("sparse-dip classify train --model small_cnn --mask vgg.mask --recipe tost --epochs 20")
)
def train_command(
    model: ModelOption = "small_cnn",
    mask: Annotated[Path | None, typer.Option(help="Train under this mask (from classify prune).")] = None,
    recipe: Annotated[
        str, typer.Option(help="default, or tost (all four ToST techniques; flags below override).")
    ] = "default",
    ghost_neurons: Annotated[
        bool | None,
        typer.Option(
            "--ghost-neurons/--no-ghost-neurons", help="Swish blended into ReLU early.", show_default="from --recipe"
        ),
    ] = None,
    ghost_skips: Annotated[
        bool | None,
        typer.Option(
            "--ghost-skips/--no-ghost-skips", help="Dense 1x1 branches faded out early.", show_default="from --recipe"
        ),
    ] = None,
    rescale_init: Annotated[
        bool | None,
        typer.Option(
            "--rescale-init/--no-rescale-init",
            help="Kept weights x 1/sqrt(layer density).",
            show_default="from --recipe",
        ),
    ] = None,
    label_smoothing: Annotated[
        float | None,
        typer.Option(help="Label smoothing alpha.", show_default=f"0, or {defaults.TOST_LABEL_SMOOTHING} with tost"),
    ] = None,
    ghost_epochs: Annotated[float, typer.Option(help="Epochs over which ghosts fade out.")] = 5.0,
    dataset: DatasetOption = None,
    data_dir: DataDirOption = None,
    epochs: Annotated[int, typer.Option(help="Epochs.")] = 20,
    lr: LrOption = 0.05,
    batch_size: BatchOption = 64,
    schedule: Annotated[str, typer.Option(help="cosine or step.")] = "cosine",
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("train"),
    seed: SeedOption = 0,
    device: DeviceOption = "auto",
) -> None:
    """Train a classifier, dense or under a mask, with the default or the ToST recipe."""
    with user_errors():
        from sparse_dip.classification.tost import NO_TOST, ToSTConfig, train_sparse
        from sparse_dip.files import write_json
        from sparse_dip.pruning.mask_file import load_mask

        if recipe not in ("default", "tost"):
            raise InputError(f"--recipe must be default or tost, got {recipe!r}")
        base = ToSTConfig() if recipe == "tost" else NO_TOST
        tost = _checked(
            lambda: ToSTConfig(
                ghost_neurons=base.ghost_neurons if ghost_neurons is None else ghost_neurons,
                ghost_skips=base.ghost_skips if ghost_skips is None else ghost_skips,
                rescale_init=base.rescale_init if rescale_init is None else rescale_init,
                label_smoothing=base.label_smoothing if label_smoothing is None else label_smoothing,
                ghost_epochs=ghost_epochs,
            )
        )
        loaded = load_mask(mask) if mask else None
        data = _dataset(dataset, data_dir, seed)
        config = _train_config(epochs, lr, batch_size, 0.0, schedule, device)
        folder = output_folder(out, [mask] if mask else [])
        init_seed = int(loaded.info.get("init_seed", seed)) if loaded else seed
        net = _model(model, data.shape, data.classes, init_seed)
        if loaded is not None:
            _checked(partial(loaded.mask.check_against, net))
        with progress_bars() as progress:
            task = progress.add_task("train", total=None, info="")
            result = train_sparse(
                net,
                data,
                config,
                loaded.mask if loaded else None,
                tost,
                on_step=lambda step, total: progress.update(task, completed=step, total=total),
                on_epoch=lambda e: progress.update(
                    task, info=f"epoch {e['epoch']}: test {100 * e['test_accuracy']:.1f} %"
                ),
            )
        write_json(
            folder / "results.json",
            _run_record(
                model=model,
                dataset=data.name,
                mask=str(mask) if mask else None,
                density=loaded.mask.density if loaded else 1.0,
                init_seed=init_seed,
                settings=config.to_dict(),
                tost=tost.to_dict(),
                accuracy=result.accuracy,
                history=result.history,
            ),
        )
        typer.echo(f"test accuracy {100 * result.accuracy:.2f} % after {epochs} epochs; wrote {folder}/results.json")


@classify_app.command(epilog=examples("sparse-dip classify imp --levels 5 --rate 0.2 --rewind-step 21 --out imp/"))
def imp(
    model: ModelOption = "small_cnn",
    levels: Annotated[int, typer.Option(help="Pruning levels after the dense one.")] = 5,
    rate: Annotated[float, typer.Option(help="Fraction of the remaining weights removed per level.")] = 0.2,
    rewind_step: Annotated[int, typer.Option(help="Rewind to this training step (0: the initialisation).")] = 0,
    dataset: DatasetOption = None,
    data_dir: DataDirOption = None,
    epochs: Annotated[int, typer.Option(help="Epochs per level.")] = 20,
    lr: LrOption = 0.05,
    batch_size: BatchOption = 64,
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("imp"),
    seed: SeedOption = 0,
    device: DeviceOption = "auto",
) -> None:
    """Iterative magnitude pruning with rewinding: test accuracy at each density."""
    with user_errors():
        from sparse_dip.classification.lottery import imp as run_imp
        from sparse_dip.files import write_json, write_text
        from sparse_dip.pruning.imp import IMPConfig
        from sparse_dip.pruning.mask_file import MaskFile, save_mask

        if levels < 1:
            raise InputError(f"--levels must be positive, got {levels}")
        imp_config = _checked(lambda: IMPConfig(rate=rate, rewind_step=rewind_step))
        data = _dataset(dataset, data_dir, seed)
        config = _train_config(epochs, lr, batch_size, 0.0, "cosine", device)
        folder = output_folder(out, [])
        net = _model(model, data.shape, data.classes, seed)
        rows = []
        with progress_bars() as progress:
            task = progress.add_task("IMP", total=levels + 1, info="level 0 (dense)")

            def on_level(level) -> None:
                rows.append({"level": level.level, "density": level.density, "accuracy": level.result.accuracy})
                progress.update(
                    task,
                    advance=1,
                    info=f"level {level.level}: {100 * level.result.accuracy:.1f} % at density {level.density:.3f}",
                )

            result = run_imp(net, data, config, levels, imp_config, on_level=on_level)
        write_json(
            folder / "results.json",
            _run_record(
                model=model,
                dataset=data.name,
                rate=rate,
                rewind_step=rewind_step,
                seed=seed,
                settings=config.to_dict(),
                levels=rows,
            ),
        )
        table = "\n".join(
            ["| level | density | test accuracy |", "|---|---|---|"]
            + [f"| {r['level']} | {r['density']:.4f} | {100 * r['accuracy']:.2f} % |" for r in rows]
        )
        write_text(folder / "results.md", f"IMP on {model} / {data.name}, rewind step {rewind_step}\n\n{table}\n")
        save_mask(
            folder / "final.mask",
            MaskFile(
                result[-1].mask,
                _run_record(
                    kind="classifier",
                    model=model,
                    method="imp",
                    rewind_step=rewind_step,
                    init_seed=seed,
                    density=result[-1].mask.density,
                ),
            ),
        )
        typer.echo(table)
        typer.echo(f"wrote {folder}/ (results.json, results.md, final.mask)")


@classify_app.command(
    epilog=examples("sparse-dip classify stability --rewind-step 0 --rewind-step 21 --out stability/")
)
def stability(
    model: ModelOption = "small_cnn",
    rewind_step: Annotated[
        list[int] | None, typer.Option(help="Rewind step(s) to test (repeat the option).", show_default="0")
    ] = None,
    mask: Annotated[Path | None, typer.Option(help="Train the copies under this mask.")] = None,
    points: Annotated[int, typer.Option(help="Points on the interpolation path.")] = 30,
    dataset: DatasetOption = None,
    data_dir: DataDirOption = None,
    epochs: Annotated[int, typer.Option(help="Epochs.")] = 20,
    lr: LrOption = 0.05,
    batch_size: BatchOption = 64,
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("stability"),
    seed: SeedOption = 0,
    device: DeviceOption = "auto",
) -> None:
    """Linear mode connectivity: instability of copies split at each rewind step."""
    if rewind_step is None:
        rewind_step = [0]
    with user_errors():
        from sparse_dip.classification.lottery import stability as run_stability
        from sparse_dip.files import write_json
        from sparse_dip.plots import interpolation_plot, save_figure
        from sparse_dip.pruning.mask_file import load_mask

        if points < 2:
            raise InputError("--points must be at least 2")
        if any(k < 0 for k in rewind_step):
            raise InputError("--rewind-step must be non-negative")
        loaded = load_mask(mask) if mask else None
        data = _dataset(dataset, data_dir, seed)
        config = _train_config(epochs, lr, batch_size, 0.0, "cosine", device)
        folder = output_folder(out, [mask] if mask else [])
        init_seed = int(loaded.info.get("init_seed", seed)) if loaded else seed
        results = {}
        with progress_bars() as progress:
            for k in rewind_step:
                net = _model(model, data.shape, data.classes, init_seed)
                if loaded is not None:
                    _checked(partial(loaded.mask.check_against, net))
                task = progress.add_task(f"k={k}", total=None, info="")
                found = run_stability(
                    net,
                    data,
                    config,
                    k,
                    mask=loaded.mask if loaded else None,
                    points=points,
                    on_step=lambda step, total, t=task: progress.update(t, completed=step, total=total),
                )
                progress.update(task, info=f"instability {100 * found.instability:.2f} %")
                results[k] = found
        write_json(
            folder / "results.json",
            _run_record(
                model=model,
                dataset=data.name,
                mask=str(mask) if mask else None,
                seed=seed,
                settings=config.to_dict(),
                results={str(k): r.to_dict() for k, r in results.items()},
            ),
        )
        save_figure(
            interpolation_plot({f"rewind step {k}": (r.alphas, r.errors) for k, r in results.items()}),
            folder / "interpolation.png",
        )
        for k, r in results.items():
            typer.echo(
                f"rewind step {k}: instability {100 * r.instability:.2f} % "
                f"(endpoint errors {100 * r.errors[0]:.2f} %, {100 * r.errors[-1]:.2f} %; "
                f"path max {100 * max(r.errors):.2f} %)"
            )
        typer.echo(f"wrote {folder}/ (results.json, interpolation.png)")
