"""Channel-level OES against OES: PSNR at equal wall time, and how much thinner the fitted network is.

    python benchmarks/structured.py                          # the dev split, sigma 25
    python benchmarks/structured.py --images pepper --sparsities 0.5

On the central 256x256 crop of each image (noise seed 0), the default OES mask (95 % of the
weights pruned one by one) against ``oes-channels`` masks at ``--sparsities`` (whole filters
pruned, the empty channels cut from the network before the fit,
:mod:`sparse_dip.generators.compact`). Every run learns its mask and fits ``--steps`` steps
without the stopping rule (the PSNR of the averaged output logged every 10 steps); from the
curve and the measured time per step, each row gives its peak PSNR (an oracle), the best PSNR
it reaches within the wall time the OES run takes to its own default end (mask search plus 1300
steps; both runs scored at their best step by then, an oracle for each, because OES overfits
before step 1300 at this size and its stopping rule ends it near its peak), the seconds it takes
to reach its peak, and the parameters the fit trains. Rows are written as they finish to
``benchmarks/results/structured.{md,json}`` and a rerun resumes. Skips cleanly without the
shared images.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from dataclasses import replace

import numpy as np
from common import RESULTS, SPLITS, noisy_copy, split_images, table, write_results

from sparse_dip import defaults
from sparse_dip.physics import Identity
from sparse_dip.restoration.pipeline import RestoreConfig, restore

SIGMA = 25.0


def run(noisy: np.ndarray, clean: np.ndarray, method: str, sparsity: float, steps: int) -> dict:
    base = RestoreConfig(device="cpu", method=method, sparsity=sparsity)
    config = replace(base, fit=replace(base.fit, steps=steps, stop=None))
    report = restore(noisy, Identity(), config, clean=clean).report
    history = report["history"]
    return {
        "steps": history["step"],
        "psnr": history["psnr_ema"],
        "mask_seconds": report["mask_seconds"],
        "seconds_per_step": report["seconds_per_fit_step"],
        "parameters": report["compaction"]["parameters"],
        "parameters_fitted": report["compaction"]["parameters_fitted"],
        "channels_removed": report["compaction"]["channels_removed"],
        "density": report["density"],
    }


def best_by(row: dict, seconds: float) -> float:
    """The best PSNR the run reached within ``seconds`` of wall time (mask search included)."""
    step = (seconds - row["mask_seconds"]) / row["seconds_per_step"]
    reached = [p for s, p in zip(row["steps"], row["psnr"]) if s <= step]
    return max(reached) if reached else float("nan")


def seconds_to_peak(row: dict) -> float:
    """Wall time (mask search included) to the run's best logged step."""
    peak = max(range(len(row["psnr"])), key=row["psnr"].__getitem__)
    return row["mask_seconds"] + row["steps"][peak] * row["seconds_per_step"]


def summarise(rows: dict, variants: list[str]) -> tuple[str, dict]:
    body, summary = [], {}
    for variant in ["oes", *variants]:
        have = {k.split("/")[0]: r for k, r in rows.items() if k.endswith(f"/{variant}")}
        pairs = [(img, r) for img, r in have.items() if f"{img}/oes" in rows]
        if not pairs:
            continue
        gaps_peak, gaps_time = [], []
        for img, r in pairs:
            own = rows[f"{img}/oes"]
            budget = own["mask_seconds"] + own["seconds_per_step"] * defaults.FIT_STEPS
            gaps_peak.append(max(r["psnr"]) - max(own["psnr"]))
            gaps_time.append(best_by(r, budget) - best_by(own, budget))
        entry = {
            "images": len(pairs),
            "mean_peak_psnr": statistics.mean(max(r["psnr"]) for _, r in pairs),
            "peak_vs_oes": {"mean": statistics.mean(gaps_peak), "worst": min(gaps_peak)},
            "equal_time_vs_oes": {"mean": statistics.mean(gaps_time), "worst": min(gaps_time)},
            "seconds_per_step": statistics.mean(r["seconds_per_step"] for _, r in pairs),
            "parameters_fitted": statistics.mean(r["parameters_fitted"] for _, r in pairs),
            "mask_seconds": statistics.mean(r["mask_seconds"] for _, r in pairs),
            "seconds_to_peak": statistics.mean(seconds_to_peak(r) for _, r in pairs),
        }
        summary[variant] = entry
        body.append(
            [
                variant,
                entry["mean_peak_psnr"],
                f"{entry['peak_vs_oes']['mean']:+.2f} ({entry['peak_vs_oes']['worst']:+.2f})",
                f"{entry['equal_time_vs_oes']['mean']:+.2f} ({entry['equal_time_vs_oes']['worst']:+.2f})",
                f"{entry['seconds_per_step']:.3f}",
                f"{entry['parameters_fitted'] / 1e6:.2f} M",
                f"{entry['mask_seconds']:.0f}",
                f"{entry['seconds_to_peak']:.0f}",
                entry["images"],
            ]
        )
    header = [
        "mask",
        "mean peak PSNR",
        "peak vs OES: mean (worst)",
        "best by OES's wall time vs OES: mean (worst)",
        "s / fit step",
        "parameters fitted",
        "mask s",
        "s to peak",
        "images",
    ]
    return table(header, body), summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", default=",".join(SPLITS["dev"]))
    parser.add_argument("--sparsities", default="0.5,0.75", help="of the oes-channels masks")
    parser.add_argument("--steps", type=int, default=2000)
    args = parser.parse_args()
    images = {n: p for n, p in split_images("dev", 256).items() if n in args.images.split(",")}
    if not images:
        print("skipped: none of the images is present (../shared/data/images)")
        return 0
    json_path = RESULTS / "structured.json"
    rows: dict = json.loads(json_path.read_text())["rows"] if json_path.exists() else {}
    variants = ["oes", *(f"oes-channels {s}" for s in args.sparsities.split(","))]
    for name, clean in images.items():
        noisy = noisy_copy(clean, SIGMA, seed=0)
        for variant in variants:
            key = f"{name}/{variant}"
            if key in rows:
                continue
            method, sparsity = (
                ("oes", defaults.SPARSITY) if variant == "oes" else ("oes-channels", float(variant.split()[1]))
            )
            rows[key] = run(noisy, clean, method, sparsity, args.steps)
            r = rows[key]
            print(f"{key}: peak {max(r['psnr']):.2f}, {r['seconds_per_step']:.3f} s/step", flush=True)
            _write(args, rows, variants)
    _write(args, rows, variants)
    return 0


def _write(args, rows: dict, variants: list[str]) -> None:
    summary_md, summary = summarise(rows, variants[1:])
    markdown = (
        "## Channel-level OES against OES (256x256 crops, sigma 25)\n\n"
        f"Each run: its mask search, then {args.steps} fit steps without the stopping rule. 'Best by OES's wall time' "
        "compares the best PSNR each run reached within the time the OES run takes to its default end "
        f"(search plus {defaults.FIT_STEPS} steps), on the same image; 's to peak' is the wall time to the "
        "run's best step, search included.\n\n" + summary_md
    )
    write_results("structured", markdown, {"settings": vars(args), "summary": summary, "rows": rows})


if __name__ == "__main__":
    sys.exit(main())
