"""ToST's recipe against the default one, on digits with the small CNN, across masks and sparsities.

    python benchmarks/tost.py                                   # 95/98/99 %, random/SNIP/SynFlow, 3 seeds
    python benchmarks/tost.py --sparsities 0.95 --seeds 1 --variants default,tost

For every sparsity, mask method and seed: the mask is found at initialisation (the seed sets
the weights and the random scores), then the same network is trained twice from that
initialisation under that mask, once with the default recipe (SGD, cosine, no smoothing) and
once with ToST (ghost neurons and ghost skips faded over the first 5 epochs, kept weights
rescaled by 1/sqrt(layer density), label smoothing 0.1), and once with each technique alone.
Test accuracy: mean and standard deviation over seeds, and the mean paired difference against
the default recipe.

Writes ``benchmarks/results/tost.{md,json}``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from functools import partial

from common import table, write_results

from sparse_dip.classification.data import load_digits
from sparse_dip.classification.models import build_classifier
from sparse_dip.classification.pruning import prune_classifier
from sparse_dip.classification.tost import NO_TOST, ToSTConfig, train_sparse
from sparse_dip.classification.train import TrainConfig
from sparse_dip.runtime import seeded_init

ALONE = dict(ghost_neurons=False, ghost_skips=False, rescale_init=False, label_smoothing=0.0)
VARIANTS = {
    "default": NO_TOST,
    "tost": ToSTConfig(),
    "ghost neurons": ToSTConfig(**{**ALONE, "ghost_neurons": True}),
    "ghost skips": ToSTConfig(**{**ALONE, "ghost_skips": True}),
    "rescaled init": ToSTConfig(**{**ALONE, "rescale_init": True}),
    "label smoothing": ToSTConfig(**{**ALONE, "label_smoothing": 0.1}),
}


def _cell(values: list[float]) -> str:
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{100 * statistics.mean(values):.2f} ± {100 * spread:.2f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sparsities", default="0.95,0.98,0.99")
    parser.add_argument("--methods", default="random,snip,synflow")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    args = parser.parse_args()

    data = load_digits()
    config = TrainConfig(epochs=args.epochs, batch_size=64, lr=0.05, device="cpu")
    recipes = {name: VARIANTS[name] for name in args.variants.split(",")}
    others = [name for name in recipes if name != "default"]
    runs: dict = {}
    rows = []
    started = time.perf_counter()
    for sparsity in [float(s) for s in args.sparsities.split(",")]:
        for method in args.methods.split(","):
            accuracies: dict[str, list[float]] = {name: [] for name in recipes}
            for seed in range(args.seeds):
                build = partial(seeded_init, seed, lambda: build_classifier("small_cnn", 1, 10))
                mask = prune_classifier(build(), method, 1 / (1 - sparsity), data=data, seed=seed)
                for name, recipe in recipes.items():
                    accuracies[name].append(train_sparse(build(), data, config, mask, recipe).accuracy)
            runs[f"{sparsity}/{method}"] = accuracies
            d = accuracies["default"]
            row = [f"{100 * sparsity:g} %", method, _cell(d)]
            for name in others:
                gain = statistics.mean(b - a for a, b in zip(d, accuracies[name]))
                row.append(f"{_cell(accuracies[name])} ({100 * gain:+.2f})")
            rows.append(row)
            print(" | ".join(map(str, rows[-1])), flush=True)
    markdown = (
        f"## ToST against the default recipe: digits, small CNN, {args.epochs} epochs, {args.seeds} seeds\n\n"
        + table(["sparsity", "mask", "default recipe", *others], rows)
        + "\n\nTest accuracy % (mean ± sd over seeds) and, in brackets, the mean paired difference to the "
        "default recipe (same seed: same initial weights and mask)."
        + f"\n\nSGD (Nesterov, momentum 0.9), lr 0.05 cosine, batch 64, weight decay 5e-4; ToST: "
        f"{ToSTConfig().to_dict()}. Total {time.perf_counter() - started:.0f} s.\n"
    )
    md, js = write_results(
        "tost",
        markdown,
        {"runs": runs, "train": config.to_dict(), "variants": {n: v.to_dict() for n, v in recipes.items()}},
    )
    print(markdown)
    print(f"wrote {md} and {js}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
