"""Denoising quality without an oracle, on a dev split (defaults chosen there) and a test split (only reported).

    python benchmarks/quality.py --split test                       # 256x256 crops, sigma 15, 25, 50
    python benchmarks/quality.py --split dev --sigmas 25 --methods default,bm3d,tv
    python benchmarks/quality.py --split test --side 0              # native sizes
    python benchmarks/quality.py --split test --side 0 --sigmas 25 --images astronaut --methods default,bm3d,tv

Rows, per image and noise level (Gaussian, seeded, rounded to 8 bits as a user's file is):
- ``default``: ``denoise(noisy)`` with the package defaults, as ``sparse-dip denoise noisy.png``
  runs it: no step count, no clean image for any decision (the clean image only scores the
  output and logs the curve the stopping rule is judged against);
- ``dense``: dense DIP for ``--dense-steps`` steps, scored at its best logged step (an oracle
  no user has: the upper bound of a perfect stopping rule for dense DIP);
- ``bm3d`` with the true sigma; ``tv`` and ``nlmeans`` with sigma estimated (TV's weight by
  scikit-image's self-supervised calibration), as a user would run them;
- ``zsn2n``: Zero-Shot Noise2Noise with the paper's settings;
- ``default4x``: the default with a four-fold step maximum. The fit's learning rate is constant
  and the stopping rule reads only the steps so far, so a default run that stopped before its
  maximum is the first part of this one and returns the same image (asserted by
  ``tests/test_stopping.py``); only runs that reached the maximum are fitted again.

Reports, per sigma, the mean and the worst case of each method against BM3D and of the
default against TV, the number of images where the default is at or above TV and above the
noisy input, and wall times; for the default, how far its chosen step's PSNR is from the best
PSNR its run logged. Rows are written as they finish and a rerun skips rows already in
``benchmarks/results/quality_SPLIT[_SIDE].json`` (``--rerun default`` recomputes one method, e.g.
after a change of defaults), so a stopped run resumes where it stopped. With ``--figures``, a
zoomed side by side (clean, noisy, default, dense, BM3D, TV) goes to
``benchmarks/results/quality_SPLIT_figures/`` for each image and sigma whose outputs are cached.
Skips cleanly when no image of the split is present.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import time
from dataclasses import replace

import numpy as np
from common import RESULTS, noisy_copy, split_images, table, write_results

from sparse_dip import metrics
from sparse_dip.images import load_image, save_image
from sparse_dip.restoration.classic import classic_denoise
from sparse_dip.restoration.denoise import DenoiseConfig, denoise

METHODS = ("default", "dense", "bm3d", "tv", "nlmeans", "zsn2n", "default4x")


def dense_config(steps: int) -> DenoiseConfig:
    base = DenoiseConfig(sparsity=0.0, device="cpu")
    return replace(base, fit=replace(base.fit, steps=steps, stop=None))


def run(method: str, noisy: np.ndarray, clean: np.ndarray, sigma: float, dense_steps: int) -> tuple[dict, np.ndarray]:
    """One row: PSNR/SSIM of the output, seconds, and what the method chose (dense: no image)."""
    started = time.perf_counter()
    extra: dict = {}
    if method == "default":
        result = denoise(noisy, DenoiseConfig(device="cpu"), clean=clean)
        image, report = result.image, result.report
        extra = {
            "best_psnr": report["best_psnr"],
            "best_step": report["best_step"],
            "fit_steps_run": report["fit_steps_run"],
            "fit_steps_max": report["fit_steps"],
            "chosen_step": (report["stopping"] or {}).get("chosen_step"),
        }
    elif method == "default4x":
        base = DenoiseConfig(device="cpu")
        result = denoise(noisy, replace(base, fit=replace(base.fit, steps=4 * base.fit.steps)), clean=clean)
        image, report = result.image, result.report
        extra = {"fit_steps_run": report["fit_steps_run"], "fit_steps_max": report["fit_steps"]}
    elif method == "dense":
        report = denoise(noisy, dense_config(dense_steps), clean=clean).report
        history = report["history"]
        best = int(np.argmax(history["psnr_ema"]))
        extra = {"best_step": history["step"][best], "final_psnr": report["psnr"]}
        seconds = report["seconds"] * history["step"][best] / history["step"][-1]  # to the oracle step
        row = {"psnr": history["psnr_ema"][best], "ssim": None, "seconds": seconds, **extra}
        return row, None
    else:
        image = classic_denoise(method, noisy, sigma / 255 if method == "bm3d" else None)
    row = {
        "psnr": metrics.psnr(image, clean),
        "ssim": metrics.ssim(image, clean),
        "seconds": time.perf_counter() - started,
        **extra,
    }
    return row, image


def summarise(rows: dict, sigmas: list[float], images: list[str]) -> tuple[str, dict]:
    """Per sigma: mean and worst case against BM3D and TV, counts, times."""
    lines, summary = [], {}
    for sigma in sigmas:
        have = {
            name: rows[f"{name}/{sigma:g}"]
            for name in images
            if f"{name}/{sigma:g}" in rows and "bm3d" in rows[f"{name}/{sigma:g}"]
        }
        if not have:
            continue
        entry = {}
        for method in METHODS:
            gaps = [r[method]["psnr"] - r["bm3d"]["psnr"] for r in have.values() if method in r]
            if gaps:
                seconds = [r[method]["seconds"] for r in have.values() if method in r]
                entry[method] = {
                    "mean_vs_bm3d": statistics.mean(gaps),
                    "worst_vs_bm3d": min(gaps),
                    "mean_psnr": statistics.mean(r[method]["psnr"] for r in have.values() if method in r),
                    "mean_seconds": statistics.mean(seconds),
                    "images": len(gaps),
                }
        default = [r for r in have.values() if "default" in r]
        if default and all("tv" in r for r in default):
            vs_tv = [r["default"]["psnr"] - r["tv"]["psnr"] for r in default]
            picks = [r["default"]["best_psnr"] - r["default"]["psnr"] for r in default]
            entry["default_vs_tv"] = {"mean": statistics.mean(vs_tv), "worst": min(vs_tv)}
            entry["default_at_or_above_tv"] = sum(v >= 0 for v in vs_tv)
            entry["default_above_noisy"] = sum(r["default"]["psnr"] > r["noisy_psnr"] for r in default)
            entry["stop_within_0.3"] = sum(p <= 0.3 for p in picks)
            entry["stop_gap_worst"] = max(picks)
            entry["count"] = len(default)
            longer = [r for r in default if "default4x" in r]
            if longer:
                changes = [abs(r["default4x"]["psnr"] - r["default"]["psnr"]) for r in longer]
                entry["max_change_4x_steps"] = {"max": max(changes), "images": len(changes)}
        summary[f"{sigma:g}"] = entry
        noisy = statistics.mean(r["noisy_psnr"] for r in have.values())
        body = [
            [
                method,
                e["mean_psnr"],
                e["mean_vs_bm3d"],
                e["worst_vs_bm3d"],
                f"{e['mean_seconds']:.0f}",
                e["images"],
            ]
            for method, e in entry.items()
            if method in METHODS
        ]
        lines.append(f"### sigma {sigma:g} (noisy input: {noisy:.2f} dB on average)\n")
        lines.append(table(["method", "mean PSNR", "mean vs BM3D", "worst vs BM3D", "mean seconds", "images"], body))
        if "default_vs_tv" in entry:
            lines.append(
                f"\nDefault against TV: mean {entry['default_vs_tv']['mean']:+.2f} dB, worst "
                f"{entry['default_vs_tv']['worst']:+.2f} dB; at or above TV on {entry['default_at_or_above_tv']} of "
                f"{entry['count']} images, above the noisy input on {entry['default_above_noisy']}. Stopping rule: "
                f"within 0.3 dB of its run's best logged PSNR on {entry['stop_within_0.3']} of {entry['count']} "
                f"(worst {entry['stop_gap_worst']:.2f} dB).\n"
            )
        if "max_change_4x_steps" in entry:
            change = entry["max_change_4x_steps"]
            lines.append(
                f"Four times the step maximum changes the default's PSNR by at most {change['max']:.2f} dB "
                f"({change['images']} images).\n"
            )
    return "\n".join(lines), summary


def per_image_table(rows: dict) -> str:
    body = []
    for key, r in rows.items():
        cells = [key, r["noisy_psnr"]]
        for method in METHODS:
            cells.append(r[method]["psnr"] if method in r else "-")
        d = r.get("default", {})
        cells.append(f"{d.get('chosen_step', '-')} / {d.get('fit_steps_run', '-')}" if d else "-")
        body.append(cells)
    return table(["image/sigma", "noisy", *METHODS, "default: chosen / run steps"], body)


def figure(name: str, sigma: float, clean: np.ndarray, noisy: np.ndarray, outputs: dict, rows: dict, folder) -> None:
    """Clean, noisy and each output side by side, with a 4x zoom of the central 48x48 region."""
    from sparse_dip.plots import image_grid, save_figure

    half = 24
    top, left = clean.shape[0] // 2 - half, clean.shape[1] // 2 - half

    def zoom(image: np.ndarray) -> np.ndarray:
        return np.kron(image[top : top + 2 * half, left : left + 2 * half], np.ones((4, 4, 1)))

    tiles = {"clean": clean, f"noisy ({rows['noisy_psnr']:.2f} dB)": noisy}
    for method, image in outputs.items():
        tiles[f"{method} ({rows[method]['psnr']:.2f} dB)"] = image
    tiles.update({f"{label}, zoom": zoom(image) for label, image in list(tiles.items())})
    folder.mkdir(parents=True, exist_ok=True)
    save_figure(image_grid(tiles, columns=len(tiles) // 2), folder / f"{name}_sigma{sigma:g}.jpg")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", default="test", choices=("dev", "test"))
    parser.add_argument("--sigmas", default="15,25,50")
    parser.add_argument("--side", type=int, default=256, help="central crop side; 0 for native size")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--images", default="", help="comma-separated images of the split (default: all)")
    parser.add_argument("--dense-steps", type=int, default=3000)
    parser.add_argument("--rerun", default="", help="comma-separated methods to recompute for every row")
    parser.add_argument("--figures", action="store_true", help="zoomed side-by-side figures of the cached outputs")
    args = parser.parse_args()

    methods = [m for m in args.methods.split(",") if m]
    unknown = set(methods) - set(METHODS)
    if unknown:
        parser.error(f"unknown methods {', '.join(sorted(unknown))}; choose from {', '.join(METHODS)}")
    images = split_images(args.split, args.side)
    reported = list(images)  # the summary covers every image with rows, not only this run's
    if args.images:
        chosen = args.images.split(",")
        if set(chosen) - set(images):
            parser.error(f"not in the {args.split} split (or absent): {', '.join(sorted(set(chosen) - set(images)))}")
        images = {name: images[name] for name in chosen}
    if not images:
        print("skipped: no image of the split is present (../shared/data/images)")
        return 0
    sigmas = [float(s) for s in args.sigmas.split(",")]
    name = f"quality_{args.split}" + ("" if args.side == 256 else f"_{args.side or 'native'}")
    json_path = RESULTS / f"{name}.json"
    rows: dict = json.loads(json_path.read_text())["rows"] if json_path.exists() else {}
    rerun = set(args.rerun.split(",")) - {""}
    cache = RESULTS / "cache" / name  # outputs for the figures; not committed
    for (image_name, clean), sigma in itertools.product(images.items(), sigmas):
        key = f"{image_name}/{sigma:g}"
        noisy = noisy_copy(clean, sigma, seed=0)
        row = rows.setdefault(key, {"noisy_psnr": metrics.psnr(noisy, clean), "shape": list(clean.shape)})
        for method in methods:
            if method in row and method not in rerun:
                continue
            default = row.get("default", {})
            if method == "default4x" and default and default["fit_steps_run"] < default["fit_steps_max"]:
                row[method] = {**default, "same_as_default": True}  # stopped early: the same run (docstring)
                _write(name, args, rows, sigmas, reported)
                continue
            row[method], image = run(method, noisy, clean, sigma, args.dense_steps)
            if image is not None:
                cache.mkdir(parents=True, exist_ok=True)
                save_image(cache / f"{image_name}_sigma{sigma:g}_{method}.png", image)
            print(f"{key} {method}: {row[method]['psnr']:.2f} dB, {row[method]['seconds']:.0f} s", flush=True)
            _write(name, args, rows, sigmas, reported)
        if args.figures:
            outputs = {}
            for method in ("default", "dense", "bm3d", "tv"):
                path = cache / f"{image_name}_sigma{sigma:g}_{method}.png"
                if method == "dense" and "dense" in row and not path.exists():  # rerun to its best step
                    cache.mkdir(parents=True, exist_ok=True)
                    save_image(path, denoise(noisy, dense_config(row["dense"]["best_step"])).image)
                if path.exists():
                    outputs[method] = load_image(path).pixels
            figure(image_name, sigma, clean, noisy, outputs, row, RESULTS / f"{name}_figures")
    _write(name, args, rows, sigmas, reported)
    return 0


def _write(name: str, args, rows: dict, sigmas: list[float], images: list[str]) -> None:
    summary_md, summary = summarise(rows, sigmas, images)
    size = f"{args.side}x{args.side} central crops" if args.side else "native size"
    markdown = (
        f"## Denoising quality, {args.split} split ({size})\n\n"
        "PSNR in dB against the clean image; 'vs BM3D' is the method's PSNR minus BM3D's on the same "
        "image (BM3D given the true sigma). `default` is `sparse-dip denoise noisy.png`; `dense` is "
        f"dense DIP at its best logged step of {args.dense_steps} (an oracle; its seconds are to that "
        "step).\n\n" + summary_md + "\n\n### Every image\n\n" + per_image_table(rows)
    )
    write_results(name, markdown, {"settings": vars(args), "summary": summary, "rows": rows})


if __name__ == "__main__":
    sys.exit(main())
