"""The pruning core on classifiers: layer collapse on VGG-16, IMP with rewinding and stability on digits.

    python benchmarks/classify.py                       # everything below
    python benchmarks/classify.py --skip-collapse       # only the digits experiments

1. Layer collapse at initialisation (SynFlow paper, Fig. 1): VGG-16 (CIFAR variant with
   BatchNorm), compression swept from 10^0 to 10^6 in steps of 10^0.25; for each of magnitude,
   random, SNIP, GraSP and SynFlow (100 rounds, exponential schedule, BatchNorm in eval mode)
   the critical compression, the largest swept before one that empties a layer. No CIFAR is on
   this machine: SNIP and GraSP score on a batch of Gaussian inputs with random labels (10 per
   class); pass ``--data-dir`` to score on CIFAR-10 instead. SynFlow, magnitude and random use
   no data by definition.
2. IMP on scikit-learn's digits with the small CNN: 5 levels of 20 %, rewinding to step 0 and
   to a later step, test accuracy per density.
3. Instability (Frankle et al. 2020) of the dense small CNN for rewind step 0 and the later step.
4. Pruning at initialisation on digits: the small CNN pruned to 95, 98 and 99 % sparsity by OES
   (its mask learned on minibatches of the training set, weights frozen), SNIP, SynFlow,
   magnitude and random, then trained under the mask with the IMP section's recipe; test
   accuracy per method and sparsity, for ``--seeds`` seeds (mean and worst).

Writes ``benchmarks/results/classify.{md,json}`` and ``classify_collapse.png`` (1-3), and
``classify_at_init.{md,json}`` (4; ``--skip-collapse --skip-lottery`` runs it alone).
"""

from __future__ import annotations

import argparse
import sys
import time

from common import RESULTS, table, write_results

from sparse_dip.classification.data import load_dataset, load_digits
from sparse_dip.classification.lottery import imp, stability
from sparse_dip.classification.models import build_classifier
from sparse_dip.classification.pruning import compression_grid, layer_collapse, prune_classifier
from sparse_dip.classification.train import TrainConfig, steps_per_epoch, train
from sparse_dip.plots import layer_collapse_plot, save_figure
from sparse_dip.pruning.imp import IMPConfig
from sparse_dip.pruning.parametrize import apply_mask
from sparse_dip.runtime import seeded_init

PAPER = {"magnitude": 2.75, "random": 3.33, "snip": 3.58, "grasp": 3.58, "synflow": 5.92}


def collapse_section(args) -> tuple[str, dict]:
    data = load_dataset("cifar10", args.data_dir) if args.data_dir else None
    grid = compression_grid(6.0, 0.25)

    def on_point(method: str, log_c: float, fractions: dict) -> None:
        print(f"  {method} 10^{log_c:g}: smallest layer fraction {min(fractions.values()):.3g}", flush=True)

    curves = layer_collapse(
        lambda: seeded_init(args.seed, lambda: build_classifier("vgg16", 3, 10)),
        ["magnitude", "random", "snip", "grasp", "synflow"],
        grid,
        data=data,
        shape=(3, 32, 32),
        classes=10,
        rounds=100,
        seed=args.seed,
        on_point=on_point,
    )
    save_figure(
        layer_collapse_plot({m: (c.log10_compressions, c.remaining) for m, c in curves.items()}),
        RESULTS / "classify_collapse.png",
    )
    rows = []
    for method, curve in curves.items():
        critical = curve.critical_log10_compression
        rows.append(
            [
                method,
                "none" if critical is None else f"{critical:g}",
                f"{PAPER[method]:g}",
                f"{curve.seconds:.0f}",
                f"{curve.seconds / len(grid):.1f}",
            ]
        )
    synflow = curves["synflow"].critical_log10_compression or 0
    others = [curves[m].critical_log10_compression or 0 for m in ("magnitude", "snip", "grasp")]
    verdict = (
        f"SynFlow's critical compression 10^{synflow:g} {'>=' if synflow >= 5 else 'is BELOW'} 10^5; "
        f"magnitude, SNIP and GraSP at most 10^{max(others):g} "
        f"({'<=' if max(others) <= 4 else 'ABOVE'} 10^4)."
    )
    markdown = (
        "## Layer collapse at initialisation, VGG-16 (BatchNorm), 2 cores\n\n"
        + table(["method", "critical log10 compression (ours)", "paper (Fig. 1)", "sweep s", "s per point"], rows)
        + f"\n\n{verdict} Grid: 10^0 to 10^6 in steps of 10^0.25; SNIP/GraSP data: "
        + ("CIFAR-10" if data is not None else "Gaussian inputs, random labels (no CIFAR here)")
        + ". Per-layer curves: `classify_collapse.png`.\n"
    )
    return markdown, {m: c.to_dict() for m, c in curves.items()}


def lottery_section(args) -> tuple[str, dict]:
    data = load_digits(seed=args.seed)
    config = TrainConfig(epochs=args.epochs, batch_size=64, lr=0.05, device="cpu")
    per_epoch = steps_per_epoch(data.train, config.batch_size)
    late = args.late_rewind or per_epoch  # one epoch: ~5 % of a 20-epoch run
    total = per_epoch * config.epochs
    found: dict = {"imp": {}, "stability": {}}
    rows = []
    for k in (0, late):
        started = time.perf_counter()
        model = seeded_init(args.seed, lambda: build_classifier("small_cnn", 1, 10))
        levels = imp(model, data, config, 5, IMPConfig(rewind_step=k))
        found["imp"][k] = [{"level": lv.level, "density": lv.density, "accuracy": lv.result.accuracy} for lv in levels]
        print(
            f"IMP rewind {k}: "
            + ", ".join(f"{lv.density:.3f}: {100 * lv.result.accuracy:.1f} %" for lv in levels)
            + f" ({time.perf_counter() - started:.0f} s)",
            flush=True,
        )
    for lv0, lvk in zip(found["imp"][0], found["imp"][late]):
        rows.append(
            [lv0["level"], f"{lv0['density']:.3f}", f"{100 * lv0['accuracy']:.2f}", f"{100 * lvk['accuracy']:.2f}"]
        )
    stab_rows = []
    for k in (0, late):
        model = seeded_init(args.seed, lambda: build_classifier("small_cnn", 1, 10))
        result = stability(model, data, config, k)
        found["stability"][k] = result.to_dict()
        stab_rows.append(
            [
                k,
                f"{100 * k / total:.1f} %",
                f"{100 * result.errors[0]:.2f}",
                f"{100 * result.errors[-1]:.2f}",
                f"{100 * max(result.errors):.2f}",
                f"{100 * result.instability:.2f}",
            ]
        )
        print(f"stability rewind {k}: instability {100 * result.instability:.2f} %", flush=True)
    markdown = (
        f"## IMP with rewinding on digits (small CNN, {config.epochs} epochs of {per_epoch} steps, "
        "SGD lr 0.05 cosine)\n\n"
        + table(["level", "density", "test accuracy %, rewind to 0", f"test accuracy %, rewind to step {late}"], rows)
        + "\n\n## Instability (dense small CNN, two data orders, 30 points on the line)\n\n"
        + table(
            ["rewind step", "of training", "error A %", "error B %", "max error on path %", "instability %"], stab_rows
        )
        + "\n"
    )
    return markdown, found


AT_INIT_METHODS = ("oes", "snip", "synflow", "magnitude", "random")
AT_INIT_SPARSITIES = (0.95, 0.98, 0.99)


def at_init_section(args) -> tuple[str, dict]:
    data = load_digits(seed=0)
    config = TrainConfig(epochs=args.epochs, batch_size=64, lr=0.05, device="cpu")
    found: dict = {}
    for method in AT_INIT_METHODS:
        for sparsity in AT_INIT_SPARSITIES:
            runs = []
            for seed in range(args.seeds):
                model = seeded_init(seed, lambda: build_classifier("small_cnn", 1, 10))
                started = time.perf_counter()
                mask = prune_classifier(model, method, 1.0 / (1.0 - sparsity), data=data, seed=seed)
                prune_seconds = time.perf_counter() - started
                apply_mask(model, mask)
                result = train(model, data, config)
                runs.append({"seed": seed, "accuracy": result.accuracy, "prune_seconds": prune_seconds})
            found.setdefault(method, {})[f"{sparsity:g}"] = runs
            accuracies = [100 * r["accuracy"] for r in runs]
            print(f"at init {method} {sparsity:.0%}: {accuracies}", flush=True)
    header = ["method", *(f"{s:.0%} sparse: mean (worst) %" for s in AT_INIT_SPARSITIES), "prune s (99 %)"]
    rows = []
    for method, per in found.items():
        cells = [method]
        for sparsity in AT_INIT_SPARSITIES:
            accuracies = [100 * r["accuracy"] for r in per[f"{sparsity:g}"]]
            cells.append(f"{sum(accuracies) / len(accuracies):.2f} ({min(accuracies):.2f})")
        last = per[f"{AT_INIT_SPARSITIES[-1]:g}"]
        cells.append(f"{sum(r['prune_seconds'] for r in last) / len(last):.1f}")
        rows.append(cells)
    markdown = (
        f"## Pruning at initialisation on digits (small CNN, {args.seeds} seeds, then {config.epochs} epochs "
        "under the mask)\n\n" + table(header, rows) + "\n"
    )
    return markdown, found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-collapse", action="store_true")
    parser.add_argument("--skip-lottery", action="store_true")
    parser.add_argument("--skip-at-init", action="store_true")
    parser.add_argument("--seeds", type=int, default=3, help="seeds of the pruning-at-init section")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--late-rewind", type=int, default=0, help="late rewind step [default: one epoch]")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    parts, data = [], {}
    if not args.skip_collapse:
        markdown, data["collapse"] = collapse_section(args)
        parts.append(markdown)
        write_results("classify_partial", "\n".join(parts), data)
    if not args.skip_lottery:
        markdown, data["lottery"] = lottery_section(args)
        parts.append(markdown)
    if parts:
        md, js = write_results("classify", "\n".join(parts), data)
        for partial in RESULTS.glob("classify_partial.*"):
            partial.unlink()
        print("\n".join(parts))
        print(f"wrote {md} and {js}")
    if not args.skip_at_init:
        markdown, found = at_init_section(args)
        md, js = write_results("classify_at_init", markdown, {"settings": vars(args), "runs": found})
        print(markdown)
        print(f"wrote {md} and {js}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
