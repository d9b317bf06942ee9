"""Sparse-DIP beyond denoising: inpainting, x4 super-resolution and deblurring, against what a user would pick.

    python benchmarks/inverse.py                                  # every task, the shared images
    python benchmarks/inverse.py --tasks sr4 --images pepper,baboon
    python benchmarks/inverse.py --methods default,classic --side 128   # quick look

Tasks, on the central 256x256 crop of each shared image (pepper, baboon, barbara, F16, Set12
01-06), observations rounded to 8 bits as a user's file is:
- ``inpaint50``: half the pixels missing, chosen at random (seeded), no noise;
- ``inpainttext``: a text overlay (Pillow's bundled font) marks the missing pixels, no noise;
- ``sr4``: x4 antialiased bicubic downsampling (Pillow's, :mod:`sparse_dip.physics.downsampling`);
- ``deblur``: a Gaussian blur of std 2 pixels, circular boundary, plus Gaussian noise of std 2/255.

Rows per image and task:
- ``classic``: the baselines of :mod:`sparse_dip.restoration.classic_inverse` (biharmonic
  inpainting, bicubic upsampling, Wiener and Richardson-Lucy deconvolution);
- ``default``: ``restore(y, A)`` with the package defaults, as ``sparse-dip inpaint|superres|deblur``
  runs it (OES mask at 95 % sparsity, the stopping rule; the clean image only scores it);
- ``dense``: dense DIP for ``--dense-steps`` steps from the same seed, scored at its best logged
  step (an oracle) and at the default's step maximum (the same budget, no stopping rule);
- ``random``, ``snip``, ``imp``: Sparse-DIP with those masks instead of OES, else the defaults;
- ``default_stop`` (dev images only, not rerun): the default as it was with the stopping rule on,
  the evidence for turning it off for these tasks (:attr:`~sparse_dip.physics.base.Operator.stop_early`).

The dev split (pepper, baboon, barbara) is where the defaults for these tasks were chosen; the
summary reports the test split (F16, Set12 01-06) and the dev split apart.

Rows are written as they finish and a rerun skips those already in
``benchmarks/results/inverse[_SIDE].json``, so a stopped run resumes where it stopped. The
summary gives per task the mean and worst case of the default against the best classic
baseline and against dense DIP's oracle. Skips cleanly when no shared image is present.
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
import torch
from common import RESULTS, central_crop, shared_image, table, write_results

from sparse_dip import defaults, metrics
from sparse_dip.images import to_array, to_tensor
from sparse_dip.physics import Blur, Downsampling, Inpainting, Operator, gaussian_kernel
from sparse_dip.restoration.classic_inverse import BASELINES, classic_restore
from sparse_dip.restoration.pipeline import RestoreConfig, restore

IMAGES = ("pepper", "baboon", "barbara", "F16", *(f"set12_{i:02d}" for i in range(1, 7)))
TASKS = ("inpaint50", "inpainttext", "sr4", "deblur")
METHODS = ("classic", "default", "dense", "random", "snip", "imp")
DEFAULT_METHODS = ("classic", "default", "dense")
MASK_BASELINES = ("random", "snip", "imp")
REPORTED = ("default", "default_stop", "dense", *MASK_BASELINES)
DEV = ("pepper", "baboon", "barbara")
TEXT = "Sparse deep image priors fill what the camera never saw"


def text_mask(height: int, width: int) -> np.ndarray:
    """``True`` where a text overlay leaves the image visible: 18-pixel text, 1-pixel stroke, 24 apart."""
    from PIL import Image, ImageDraw, ImageFont

    canvas = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=18)
    words = (TEXT + " ") * 8
    for i, top in enumerate(range(6, height - 16, 24)):
        draw.text((-(i * 37) % 60 - 60, top), words, fill=0, font=font, stroke_width=1, stroke_fill=0)
    return np.asarray(canvas) > 0


def observe(task: str, clean: np.ndarray, seed: int = 0) -> tuple[np.ndarray, Operator]:
    """The observation of ``clean`` for ``task`` and its operator."""
    rng = np.random.default_rng(seed)
    height, width = clean.shape[:2]
    if task == "inpaint50":
        operator: Operator = Inpainting.from_array(rng.random((height, width)) >= 0.5)
    elif task == "inpainttext":
        operator = Inpainting.from_array(text_mask(height, width))
    elif task == "sr4":
        operator = Downsampling(4)
    elif task == "deblur":
        operator = Blur(torch.as_tensor(gaussian_kernel(2.0), dtype=torch.float32), "circular", "gaussian:2")
    else:
        raise ValueError(f"unknown task {task!r}")
    with torch.no_grad():
        observed = to_array(operator(to_tensor(clean, "cpu").double()).float())
    if task == "deblur":
        observed = observed + rng.normal(0.0, 2.0 / 255, observed.shape).astype(np.float32)
    if isinstance(operator, Inpainting):
        observed = observed * (operator.mask[0, 0].numpy()[..., None] > 0)  # holes hold zeros in the file
    return (np.round(np.clip(observed, 0, 1) * 255) / 255).astype(np.float32), operator


def dip_row(method: str, observed, operator, clean, dense_steps: int) -> dict:
    base = RestoreConfig.for_operator(operator, device="cpu")
    if method == "dense":
        config = replace(base, sparsity=0.0, fit=replace(base.fit, steps=dense_steps, stop=None))
    else:
        config = base if method == "default" else replace(base, method=method)
    started = time.perf_counter()
    report = restore(observed, operator, config, clean=clean).report
    seconds = time.perf_counter() - started
    history = report["history"]
    row = {"psnr": report["psnr"], "ssim": report["ssim"], "seconds": seconds}
    if method == "dense":
        curve = history["psnr_ema"]
        best = int(np.argmax(curve))
        budget = min(range(len(history["step"])), key=lambda i: abs(history["step"][i] - defaults.FIT_STEPS))
        row = {
            "psnr": curve[best],
            "best_step": history["step"][best],
            "seconds": seconds * history["step"][best] / history["step"][-1],
            "psnr_at_budget": curve[budget],
            "budget_step": history["step"][budget],
            "psnr_final": report["psnr"],
        }
    else:
        row.update(
            best_psnr=report["best_psnr"],
            best_step=report["best_step"],
            fit_steps_run=report["fit_steps_run"],
            chosen_step=(report["stopping"] or {}).get("chosen_step"),
            mask_seconds=report["mask_seconds"],
        )
    return row


def classic_rows(observed, operator, clean) -> dict:
    rows = {}
    for name in BASELINES[operator.name]:
        started = time.perf_counter()
        image = classic_restore(name, observed, operator)
        rows[name] = {
            "psnr": metrics.psnr(image, clean),
            "ssim": metrics.ssim(image, clean),
            "seconds": time.perf_counter() - started,
        }
    return rows


def paired_gap(rows, method: str, reference: str) -> dict | None:
    """Mean and worst PSNR of ``method`` minus ``reference`` over the rows that have both."""
    gaps = [r[method]["psnr"] - r[reference]["psnr"] for r in rows if method in r and reference in r]
    return {"mean": statistics.mean(gaps), "worst": min(gaps), "images": len(gaps)} if gaps else None


def summarise(rows: dict) -> tuple[str, dict]:
    """Per task: mean PSNR of every row, and the default against the best classic and dense's oracle."""
    lines, summary = [], {}
    for task in TASKS:
        have = {k: r for k, r in rows.items() if k.endswith(f"/{task}") and "classic" in r}
        if not have:
            continue
        classic_names = list(next(iter(have.values()))["classic"])
        means = {n: statistics.mean(r["classic"][n]["psnr"] for r in have.values()) for n in classic_names}
        best_classic = max(means, key=means.get)
        entry: dict = {"images": len(have), "classic": means, "best_classic": best_classic}
        body = [
            [n, means[n], "-", f"{statistics.mean(r['classic'][n]['seconds'] for r in have.values()):.1f}", len(have)]
            for n in classic_names
        ]
        for method in REPORTED:
            with_method = [r for r in have.values() if method in r]
            if not with_method:
                continue
            gaps = [r[method]["psnr"] - r["classic"][best_classic]["psnr"] for r in with_method]
            entry[method] = {
                "mean_psnr": statistics.mean(r[method]["psnr"] for r in with_method),
                "mean_vs_classic": statistics.mean(gaps),
                "worst_vs_classic": min(gaps),
                "mean_seconds": statistics.mean(r[method]["seconds"] for r in with_method),
                "images": len(with_method),
            }
            label = {"dense": "dense DIP, oracle step", "default_stop": "default with the stopping rule"}.get(
                method, method
            )
            body.append(
                [
                    label,
                    entry[method]["mean_psnr"],
                    f"{entry[method]['mean_vs_classic']:+.2f} ({entry[method]['worst_vs_classic']:+.2f})",
                    f"{entry[method]['mean_seconds']:.0f}",
                    len(with_method),
                ]
            )
            if method == "dense":
                budget = statistics.mean(r["dense"]["psnr_at_budget"] for r in with_method)
                body.append([f"dense DIP at step {defaults.FIT_STEPS}", budget, "-", "-", len(with_method)])
                entry["dense"]["mean_psnr_at_budget"] = budget
        for method in MASK_BASELINES:
            if gap := paired_gap(have.values(), method, "default"):
                entry[method]["vs_oes"] = gap
        if gap := paired_gap(have.values(), "default", "dense"):
            entry["default_vs_dense_oracle"] = gap
        summary[task] = entry
        lines.append(f"#### {task} ({len(have)} images; best classic baseline: {best_classic})\n")
        lines.append(table(["method", "mean PSNR", "vs best classic: mean (worst)", "mean seconds", "images"], body))
        if "default_vs_dense_oracle" in entry:
            d = entry["default_vs_dense_oracle"]
            lines.append(
                f"\nDefault against dense DIP's oracle: mean {d['mean']:+.2f} dB, worst {d['worst']:+.2f} dB.\n"
            )
        for method in MASK_BASELINES:
            if "vs_oes" in entry.get(method, {}):
                d = entry[method]["vs_oes"]
                lines.append(
                    f"\n{method} masks against OES (the default) on the same {d['images']} images: "
                    f"mean {d['mean']:+.2f} dB, worst {d['worst']:+.2f} dB.\n"
                )
    return "\n".join(lines), summary


def per_image_table(rows: dict) -> str:
    body = []
    for key, r in rows.items():
        classic = max((v["psnr"] for v in r.get("classic", {}).values()), default=float("nan"))
        cells = [key, classic]
        for method in REPORTED:
            cells.append(r[method]["psnr"] if method in r else "-")
        d = r.get("default") or r.get("default_stop")
        cells.append(f"{d['chosen_step'] or d['fit_steps_run']} / {d['fit_steps_run']}" if d else "-")
        body.append(cells)
    return table(["image/task", "best classic", *REPORTED, "default: returned / run steps"], body)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--images", default=",".join(IMAGES))
    parser.add_argument("--methods", default=",".join(DEFAULT_METHODS), help=f"from {', '.join(METHODS)}")
    parser.add_argument("--side", type=int, default=256, help="central crop side")
    parser.add_argument("--dense-steps", type=int, default=3000)
    args = parser.parse_args()
    tasks, methods = args.tasks.split(","), args.methods.split(",")
    for given, known in ((tasks, TASKS), (methods, METHODS)):
        if set(given) - set(known):
            parser.error(f"unknown: {', '.join(sorted(set(given) - set(known)))}; choose from {', '.join(known)}")
    images = {n: p for n in args.images.split(",") if (p := shared_image(n)) is not None}
    if not images:
        print("skipped: none of the shared images is present (../shared/data/images)")
        return 0
    name = "inverse" + ("" if args.side == 256 else f"_{args.side}")
    json_path = RESULTS / f"{name}.json"
    rows: dict = json.loads(json_path.read_text())["rows"] if json_path.exists() else {}
    for (image_name, pixels), task in itertools.product(images.items(), tasks):
        clean = central_crop(pixels, args.side)
        observed, operator = observe(task, clean)
        row = rows.setdefault(f"{image_name}/{task}", {"shape": list(clean.shape)})
        for method in methods:
            if method in row:
                continue
            if method == "classic":
                row[method] = classic_rows(observed, operator, clean)
                shown = ", ".join(f"{n} {v['psnr']:.2f}" for n, v in row[method].items())
            else:
                row[method] = dip_row(method, observed, operator, clean, args.dense_steps)
                shown = f"{row[method]['psnr']:.2f} dB, {row[method]['seconds']:.0f} s"
            print(f"{image_name}/{task} {method}: {shown}", flush=True)
            _write(name, args, rows)
    _write(name, args, rows)
    return 0


def _write(name: str, args, rows: dict) -> None:
    test = {k: r for k, r in rows.items() if k.split("/")[0] not in DEV}
    dev = {k: r for k, r in rows.items() if k.split("/")[0] in DEV}
    test_md, summary = summarise(test)
    dev_md, dev_summary = summarise(dev)
    summary_md = f"### Test split: {', '.join(IMAGES[len(DEV) :])}\n\n{test_md}\n\n"
    summary_md += f"### Dev split (the defaults were chosen here): {', '.join(DEV)}\n\n{dev_md}"
    markdown = (
        f"## Inverse problems ({args.side}x{args.side} central crops)\n\n"
        "PSNR in dB against the clean image. `default` is Sparse-DIP with the package defaults; "
        f"`dense` is dense DIP at its best logged step of {args.dense_steps} (an oracle; its seconds are "
        "to that step); 'vs best classic' is against the classic baseline with the higher mean.\n\n"
        + summary_md
        + "\n\n### Every image\n\n"
        + per_image_table(rows)
    )
    results = {"settings": vars(args), "summary": summary, "dev_summary": dev_summary, "rows": rows}
    write_results(name, markdown, results)


if __name__ == "__main__":
    sys.exit(main())
