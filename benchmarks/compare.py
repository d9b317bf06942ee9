"""Every mask method on the DIP generator, at a budget long enough for dense DIP to overfit.

    python benchmarks/compare.py                                   # pepper, central 256x256, 6000 steps
    python benchmarks/compare.py --image F16 --steps 4000 --methods dense,oes,random

The OES paper's claims, checked on one image (sigma 25, noise seed 0, 8-bit noisy input):
dense DIP restores early and then fits the noise, Sparse-DIP (OES masks) does not, and OES
masks make better priors than random, magnitude, SNIP, GraSP and SynFlow masks at
initialisation and than IMP's lottery tickets. Every DIP method runs through
``sparse_dip.restoration.compare`` with the same seed (initial weights, input noise) and the
same fitting settings; BM3D, TV and NL-means are reference rows (BM3D given the true sigma).

Writes ``benchmarks/results/compare_IMAGE_SIDE.{md,json}`` with ``_curves.png`` and
``_grid.png``. Skips cleanly when ``../shared/data/images`` is absent.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace

from common import RESULTS, noisy_copy, shared_image, write_results

from sparse_dip import metrics
from sparse_dip.plots import image_grid, psnr_curves, save_figure
from sparse_dip.pruning.imp import IMPConfig
from sparse_dip.restoration.compare import DIP_METHODS, compare, results_table
from sparse_dip.restoration.denoise import DenoiseConfig
from sparse_dip.restoration.masks import BaselineConfig

SIGMA = 25.0


def claims(results: dict) -> list[str]:
    """The paper's claims, each as a measured sentence (true or false, as it came out)."""
    lines = []
    dense = results.get("dense")
    oes = results.get("oes")
    if dense is not None:
        drop = dense.best_psnr - dense.final_psnr
        lines.append(
            f"- dense DIP fell {drop:.2f} dB from its best ({dense.best_psnr:.2f} @ {dense.best_step}) "
            f"to its final PSNR ({dense.final_psnr:.2f}): {'at least' if drop >= 3 else 'LESS than'} 3 dB."
        )
    if oes is not None and dense is not None:
        gain = oes.final_psnr - dense.final_psnr
        lines.append(
            f"- OES final {oes.final_psnr:.2f} dB vs dense final {dense.final_psnr:.2f}: {gain:+.2f} dB "
            f"({'meets' if gain >= 3 else 'MISSES'} the +3 dB claim)."
        )
    if oes is not None:
        for name in ("imp", "random", "magnitude", "snip", "grasp", "synflow"):
            if name in results:
                other = results[name].final_psnr
                verdict = ">=" if oes.final_psnr >= other else "BELOW"
                lines.append(f"- OES {oes.final_psnr:.2f} {verdict} {name} {other:.2f} (final PSNR).")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image", default="pepper")
    parser.add_argument("--side", type=int, default=256)
    parser.add_argument("--steps", type=int, default=6000)
    parser.add_argument("--imp-steps", type=int, default=1000, help="fitting steps per IMP level")
    parser.add_argument("--methods", default=",".join([*DIP_METHODS, "bm3d", "tv", "nlmeans"]))
    parser.add_argument("--sparsity", type=float, default=0.95)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    image = shared_image(args.image)
    if image is None:
        print(f"skipping: ../shared/data/images/{args.image}.png is absent")
        return 0
    top, left = (image.shape[0] - args.side) // 2, (image.shape[1] - args.side) // 2
    clean = image[top : top + args.side, left : left + args.side]
    noisy = noisy_copy(clean, SIGMA, seed=0)
    noisy_psnr = metrics.psnr(noisy, clean)
    base = DenoiseConfig(sparsity=args.sparsity, seed=args.seed)
    config = replace(
        base,
        fit=replace(base.fit, steps=args.steps, log_every=50, stop=None),
        baseline=BaselineConfig(imp=IMPConfig(), imp_steps=args.imp_steps),
    )

    def announce(name: str):
        print(f"{name} ...", flush=True)
        return None, None

    stem = f"compare_{args.image}_{args.side}"
    finished: dict = {}

    def report(name: str, row) -> None:
        best = "" if row.best_psnr is None else f", best {row.best_psnr:.2f} @ {row.best_step}"
        print(f"  {name}: final {row.final_psnr:.2f}{best}, {row.seconds:.0f} s", flush=True)
        finished[name] = row.summary()
        write_results(f"{stem}_partial", f"{len(finished)} methods so far", {"results": finished})

    methods = [m for m in args.methods.split(",") if m]
    results = compare(noisy, methods, config, clean=clean, sigma=SIGMA / 255, on_method=announce, on_result=report)

    curves = {n: (r.history["step"], r.history["psnr_ema"]) for n, r in results.items() if r.history}
    levels = {n: r.final_psnr for n, r in results.items() if not r.history}
    levels["noisy input"] = noisy_psnr
    save_figure(
        psnr_curves(curves, levels, title=f"{args.image} {args.side}x{args.side}, sigma 25: PSNR (returned average)"),
        RESULTS / f"{stem}_curves.png",
    )
    tiles = {"clean": clean, f"noisy ({noisy_psnr:.2f} dB)": noisy}
    tiles.update({f"{n} ({r.final_psnr:.2f} dB)": r.image for n, r in results.items()})
    save_figure(image_grid(tiles), RESULTS / f"{stem}_grid.png")

    settings = config.to_dict()
    markdown = (
        f"## {args.image}, central {args.side}x{args.side}, sigma {SIGMA:g}, {args.steps} fitting steps, "
        f"{args.sparsity:.0%} sparsity\n\n"
        + results_table(results, noisy_psnr)
        + "\n\n"
        + "\n".join(claims(results))
        + f"\n\nFit: Adam lr {settings['fit']['lr']}, output EMA {settings['fit']['ema']}, "
        f"{settings['fit']['precision']}, same seed and "
        f"input for every method; IMP: {args.imp_steps} steps per level, 20 % per level, rewound to init; "
        f"SynFlow: {settings['baseline']['synflow_rounds']} rounds; OES: {settings['oes']['steps']} steps. "
        f"Curves: `{stem}_curves.png`; outputs: `{stem}_grid.png`.\n"
    )
    data = {
        "settings": settings,
        "noisy_psnr": noisy_psnr,
        "results": {n: {**r.summary(), "history": r.history} for n, r in results.items()},
    }
    md, js = write_results(stem, markdown, data)
    print(markdown)
    print(f"wrote {md} and {js}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
