"""The runs behind the default settings: named variants of the denoising pipeline on one image.

    python benchmarks/sweep.py --image pepper --side 256 --steps 2000
    python benchmarks/sweep.py --image pepper --side 512 --steps 3000 --variants default,dense

Each variant changes one thing from the package defaults (``DenoiseConfig()``, with the given
``--mask-side`` and number of fit steps); all run on the
central ``side x side`` crop of a shared image at sigma 25 with the same seeds, and report the
returned (EMA) PSNR at the end of the budget, the best PSNR and its step on the EMA and on the
raw curve, and the EMA curve every 200 steps. Writes ``benchmarks/results/sweep_IMAGE_SIDE.{md,json}``
(or ``NAME.{md,json}`` with ``--name``).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from common import noisy_copy, shared_image, table, write_results

from sparse_dip.images import load_image
from sparse_dip.restoration.denoise import DenoiseConfig, denoise

VARIANTS = {
    "default": lambda base: base,
    "mask-crop": lambda base: replace(base, mask_view="crop"),
    "mask-full": lambda base: replace(base, mask_side=0),
    "mask-192": lambda base: replace(base, mask_side=192),
    "oes-300": lambda base: replace(base, oes=replace(base.oes, steps=300)),
    "oes-1200": lambda base: replace(base, oes=replace(base.oes, steps=1200)),
    "oes-1200-192": lambda base: replace(base, mask_side=192, oes=replace(base.oes, steps=1200)),
    "oes-1200-128": lambda base: replace(base, mask_side=128, oes=replace(base.oes, steps=1200)),
    "oes-600-256": lambda base: replace(base, mask_side=256, oes=replace(base.oes, steps=600)),
    "oes-2400": lambda base: replace(base, oes=replace(base.oes, steps=2400)),
    "oes-600-lr0.2": lambda base: replace(base, oes=replace(base.oes, steps=600, lr=0.2)),
    "cosine": lambda base: replace(base, fit=replace(base.fit, lr_schedule="cosine")),
    "cosine-lr2e-2": lambda base: replace(base, fit=replace(base.fit, lr_schedule="cosine", lr=2e-2)),
    "input-noise": lambda base: replace(base, fit=replace(base.fit, input_noise_std=1 / 30)),
    "lr5e-3": lambda base: replace(base, fit=replace(base.fit, lr=5e-3)),
    "lr2e-2": lambda base: replace(base, fit=replace(base.fit, lr=2e-2)),
    "oes-all": lambda base: replace(base, oes=replace(base.oes, include="all")),
    "bf16": lambda base: replace(
        base, oes=replace(base.oes, precision="bf16"), fit=replace(base.fit, precision="bf16")
    ),
    "rescale-init": lambda base: replace(base, rescale_init=True),
    "dense": lambda base: replace(base, sparsity=0.0),
    "dense-lr1e-3": lambda base: replace(base, sparsity=0.0, fit=replace(base.fit, lr=1e-3)),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image", default="pepper", help="a shared image's name, or a path")
    parser.add_argument("--side", type=int, default=256)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--mask-side", type=int, default=DenoiseConfig().mask_side)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--seed", type=int, default=0, help="the run's seed (the noise added to the image is seed 0)")
    parser.add_argument("--name", help="results file name [default: sweep_IMAGE_SIDE]")
    args = parser.parse_args()
    path = Path(args.image)
    image = load_image(path).pixels if path.is_file() else shared_image(args.image)
    if image is None:
        print(f"skipping: ../shared/data/images/{args.image}.png is absent")
        return 0
    top, left = (image.shape[0] - args.side) // 2, (image.shape[1] - args.side) // 2
    clean = image[top : top + args.side, left : left + args.side]
    noisy = noisy_copy(clean, 25, seed=0)

    results, rows = {}, []
    for name in args.variants.split(","):
        base = DenoiseConfig(mask_side=args.mask_side, seed=args.seed)
        config = VARIANTS[name](replace(base, fit=replace(base.fit, steps=args.steps, stop=None)))
        report = denoise(noisy, config, clean=clean).report
        history = report["history"]
        raw_best = max(range(len(history["psnr"])), key=history["psnr"].__getitem__)
        curve = [round(history["psnr_ema"][i], 2) for i in range(3, len(history["step"]), 4)]
        results[name] = {
            "settings": report["settings"],
            "psnr": report["psnr"],
            "best_psnr": report["best_psnr"],
            "best_step": report["best_step"],
            "history": history,
            "density_per_layer": report["density_per_layer"],
            "mask_seconds": report["mask_seconds"],
            "fit_seconds": report["fit_seconds"],
        }
        rows.append(
            [
                name,
                report["psnr"],
                f"{report['best_psnr']:.2f} @ {report['best_step']}",
                f"{history['psnr'][raw_best]:.2f} @ {history['step'][raw_best]}",
                " ".join(map(str, curve)),
                f"{report['mask_seconds']:.0f} + {report['fit_seconds']:.0f}",
            ]
        )
        print(rows[-1], flush=True)
    markdown = (
        f"## Variants on {args.image}, central {args.side}x{args.side} crop, sigma 25, {args.steps} fit steps, "
        f"mask learned at most {args.mask_side} px unless the variant says, seed {args.seed}\n\n"
        + table(
            [
                "variant",
                "final PSNR (EMA)",
                "best EMA @ step",
                "best raw @ step",
                "EMA PSNR at steps 200, 400, ...",
                "s (mask + fit)",
            ],
            rows,
        )
    )
    md, js = write_results(args.name or f"sweep_{Path(args.image).stem}_{args.side}", markdown, {"results": results})
    print(markdown)
    print(f"wrote {md} and {js}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
