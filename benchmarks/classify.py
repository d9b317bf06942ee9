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

Writes ``benchmarks/results/classify.{md,json}`` and ``classify_collapse.png``.
"""

from __future__ import annotations

import argparse
import sys
import time

from common import RESULTS, table, write_results

from sparse_dip.classification.data import load_dataset, load_digits
from sparse_dip.classification.lottery import imp, stability
from sparse_dip.classification.models import build_classifier
from sparse_dip.classification.pruning import compression_grid, layer_collapse
from sparse_dip.classification.train import TrainConfig, steps_per_epoch
from sparse_dip.plots import layer_collapse_plot, save_figure
from sparse_dip.pruning.imp import IMPConfig
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-collapse", action="store_true")
    parser.add_argument("--skip-lottery", action="store_true")
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
    md, js = write_results("classify", "\n".join(parts), data)
    for partial in RESULTS.glob("classify_partial.*"):
        partial.unlink()
    print("\n".join(parts))
    print(f"wrote {md} and {js}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
