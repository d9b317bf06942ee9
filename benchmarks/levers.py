"""The quality levers of issue 21, each a variant of the default ``denoise``, on the dev split.

    python benchmarks/levers.py                                  # every variant, sigma 25
    python benchmarks/levers.py --variants default,kept20 --sigmas 15,25,50
    python benchmarks/levers.py --split test --variants default,sure   # confirm on held-out images

Each variant changes one thing of :class:`~sparse_dip.restoration.denoise.DenoiseConfig` and is
run exactly as ``sparse-dip denoise noisy.png`` runs the default: no clean image for any
decision, the stopping rule on. The clean image only scores the output. Rows (image, sigma,
variant) are written as they finish to ``benchmarks/results/levers_SPLIT.json`` and a rerun skips
them, so a stopped run resumes; rows of the default, BM3D and TV that ``quality.py`` already
computed for the same split are taken from its JSON (the same runs). BM3D (true sigma) and TV
(as a user runs it) are scored as references. The table gives, per variant and sigma, the mean
PSNR, the mean and worst difference to the default on the same images, the mean against BM3D,
and seconds.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np
from common import RESULTS, noisy_copy, split_images, table, write_results

from sparse_dip import metrics
from sparse_dip.generators.hourglass import HourglassConfig
from sparse_dip.restoration.classic import classic_denoise
from sparse_dip.restoration.denoise import DenoiseConfig, denoise

BASE = DenoiseConfig(device="cpu")


def _fit(**changes) -> DenoiseConfig:
    return replace(BASE, fit=replace(BASE.fit, **changes))


VARIANTS: dict[str, tuple[str, Callable[[float], DenoiseConfig]]] = {
    "default": ("the package defaults (95 % of weights removed)", lambda sigma: BASE),
    "kept20": ("80 % removed", lambda sigma: replace(BASE, sparsity=0.8)),
    "kept50": ("50 % removed", lambda sigma: replace(BASE, sparsity=0.5)),
    "input_noise": ("fresh input noise each step, std 1/30 (DIP's recipe)", lambda sigma: _fit(input_noise_std=1 / 30)),
    "lr3e-3": ("Adam learning rate 0.003 instead of 0.01", lambda sigma: _fit(lr=0.003)),
    "sure": (
        "SURE objective (DIP-SURE), sigma estimated from the image",
        lambda sigma: replace(BASE, objective="sure"),
    ),
    "sure_true_sigma": (
        "SURE objective given the true sigma",
        lambda sigma: replace(BASE, objective="sure", sigma=sigma),
    ),
    "skip4": (
        "4-channel skip connections at every level (DIP's denoising generator)",
        lambda sigma: replace(BASE, generator=HourglassConfig(skip=(4,) * 6)),
    ),
    "seeds2": ("the mean of two default runs, seeds 0 and 1 (twice the time)", lambda sigma: BASE),
    "bf16": (
        "bf16 autocast in the mask search and the fit (what --precision auto picks where bf16 is faster)",
        lambda sigma: replace(BASE, oes=replace(BASE.oes, precision="bf16"), fit=replace(BASE.fit, precision="bf16")),
    ),
}
ENSEMBLES = {"seeds2": 2}
REFERENCES = ("bm3d", "tv")


def run(variant: str, noisy, clean, sigma: float) -> dict:
    started = time.perf_counter()
    if variant in REFERENCES:
        image = classic_denoise(variant, noisy, sigma / 255 if variant == "bm3d" else None)
        return {"psnr": metrics.psnr(image, clean), "seconds": time.perf_counter() - started}
    config = VARIANTS[variant][1](sigma)
    if variant in ENSEMBLES:
        images = [denoise(noisy, replace(config, seed=seed)).image for seed in range(ENSEMBLES[variant])]
        image = np.mean(images, axis=0)
        return {"psnr": metrics.psnr(image, clean), "seconds": time.perf_counter() - started}
    report = denoise(noisy, config, clean=clean).report
    return {
        "psnr": report["psnr"],
        "ssim": report["ssim"],
        "best_psnr": report["best_psnr"],
        "best_step": report["best_step"],
        "chosen_step": (report["stopping"] or {}).get("chosen_step"),
        "seconds": report["seconds"],
    }


def summarise(rows: dict, variants: list[str], sigmas: list[float]) -> tuple[str, dict]:
    body, summary = [], {}
    for sigma, variant in itertools.product(sigmas, variants):
        paired = [r for k, r in rows.items() if k.endswith(f"/{sigma:g}") and variant in r and "default" in r]
        if not paired:
            continue
        gains = [r[variant]["psnr"] - r["default"]["psnr"] for r in paired]
        vs_bm3d = [r[variant]["psnr"] - r["bm3d"]["psnr"] for r in paired if "bm3d" in r]
        entry = {
            "images": len(paired),
            "mean_psnr": statistics.mean(r[variant]["psnr"] for r in paired),
            "mean_vs_default": statistics.mean(gains),
            "worst_vs_default": min(gains),
            "mean_vs_bm3d": statistics.mean(vs_bm3d) if vs_bm3d else None,
            "mean_seconds": statistics.mean(r[variant]["seconds"] for r in paired),
        }
        summary[f"{variant}/{sigma:g}"] = entry
        body.append(
            [
                f"{sigma:g}",
                variant,
                entry["images"],
                entry["mean_psnr"],
                entry["mean_vs_default"],
                entry["worst_vs_default"],
                "-" if entry["mean_vs_bm3d"] is None else entry["mean_vs_bm3d"],
                f"{entry['mean_seconds']:.0f}",
            ]
        )
    header = ["sigma", "variant", "images", "mean PSNR", "mean vs default", "worst vs default", "mean vs BM3D", "s"]
    return table(header, body), summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", default="dev", choices=("dev", "test"))
    parser.add_argument("--sigmas", default="25")
    parser.add_argument("--side", type=int, default=256, help="central crop side; 0 for native size")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    args = parser.parse_args()
    variants = [v for v in args.variants.split(",") if v]
    unknown = set(variants) - set(VARIANTS)
    if unknown:
        parser.error(f"unknown variants {', '.join(sorted(unknown))}; choose from {', '.join(VARIANTS)}")
    images = split_images(args.split, args.side)
    if not images:
        print("skipped: no image of the split is present (../shared/data/images)")
        return 0
    sigmas = [float(s) for s in args.sigmas.split(",")]
    name = f"levers_{args.split}" + ("" if args.side == 256 else f"_{args.side or 'native'}")
    json_path = RESULTS / f"{name}.json"
    rows: dict = json.loads(json_path.read_text())["rows"] if json_path.exists() else {}
    # quality.py runs the same default on the same noisy images: reuse its rows rather than refit
    quality_path = RESULTS / f"{name.replace('levers', 'quality', 1)}.json"
    quality = json.loads(quality_path.read_text())["rows"] if quality_path.exists() else {}
    wanted = [*REFERENCES, *(["default"] if "default" not in variants else []), *variants]
    for sigma, (image_name, clean) in itertools.product(sigmas, images.items()):
        key = f"{image_name}/{sigma:g}"
        noisy = noisy_copy(clean, sigma, seed=0)
        row = rows.setdefault(key, {"noisy_psnr": metrics.psnr(noisy, clean)})
        for variant in wanted:
            if variant in row:
                continue
            done = quality.get(key, {}).get(variant) if variant in ("default", *REFERENCES) else None
            row[variant] = {**done, "from": quality_path.name} if done else run(variant, noisy, clean, sigma)
            print(f"{key} {variant}: {row[variant]['psnr']:.2f} dB, {row[variant]['seconds']:.0f} s", flush=True)
            _write(name, args, rows, variants, sigmas)
    _write(name, args, rows, variants, sigmas)
    return 0


def _write(name: str, args, rows: dict, variants: list[str], sigmas: list[float]) -> None:
    listed = sorted({v for r in rows.values() for v in r if v in VARIANTS}, key=list(VARIANTS).index)
    summary_md, summary = summarise(rows, listed, sigmas)
    legend = "\n".join(f"- `{v}`: {VARIANTS[v][0]}" for v in listed)
    per_image = table(
        ["image/sigma", "noisy", *REFERENCES, *listed],
        [
            [k, r["noisy_psnr"], *(r[m]["psnr"] if m in r else "-" for m in (*REFERENCES, *listed))]
            for k, r in rows.items()
        ],
    )
    markdown = (
        f"## Quality levers, {args.split} split\n\n"
        "PSNR (dB) of `denoise` with one setting changed, stopping rule on, no clean image used; "
        "differences are to the default on the same images.\n\n"
        f"{legend}\n\n{summary_md}\n\n### Every image\n\n{per_image}"
    )
    write_results(name, markdown, {"settings": vars(args), "summary": summary, "rows": rows})


if __name__ == "__main__":
    sys.exit(main())
