"""How well the windowed-variance stopping rule picks its step: PSNR and variance curves, then the rule replayed.

    python benchmarks/stopping.py [--split dev] [--sigmas 15,25,50] [--steps 2400] [--side 256]

Each run is the default pipeline (OES mask, Sparse-DIP fit) on a ``side x side`` central crop
of an image of the split, with seeded Gaussian noise, fitted for ``--steps`` steps *without*
stopping while the returned (EMA) PSNR against the clean image and the ES-WMV variance of the
outputs are recorded every 10 steps. The stopping rule is then replayed on the recorded
variance for each setting of a small grid (warm-up x patience), and for each the step it
would have chosen is scored against the run's best recorded PSNR: the gap, its mean, its worst
case and the fraction of runs within 0.3 dB. Rows are written as they finish and a rerun
skips runs already in ``benchmarks/results/stopping_SPLIT.json``, so a stopped run resumes.
Writes ``benchmarks/results/stopping_SPLIT.{md,json}``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import time
from dataclasses import replace

import torch
from common import RESULTS, noisy_copy, split_images, table, write_results

from sparse_dip.restoration.denoise import DenoiseConfig, denoise
from sparse_dip.restoration.stopping import StopConfig, WindowedVariance, average_lag

EMA = DenoiseConfig().fit.ema
WARMUPS = (0, 100, 200, 300, 400)
PATIENCES = (100, 200, 300, 500)


def record(clean, sigma: float, steps: int, seed: int) -> dict:
    """One long fit with the variance recorded and no stop, its curves every 10 steps."""
    noisy = noisy_copy(clean, sigma, seed=0)
    base = DenoiseConfig(seed=seed, device="cpu")
    watch_only = StopConfig(patience=10 * steps, warmup=0)  # records the variance, never stops
    config = replace(base, fit=replace(base.fit, steps=steps, log_every=10, stop=watch_only))
    started = time.perf_counter()
    result = denoise(noisy, config, clean=clean)
    history = result.report["history"]
    return {
        "steps": history["step"],
        "psnr_ema": history["psnr_ema"],
        "psnr": history["psnr"],
        "variance": result.fit.stopping["variance"],
        "noisy_psnr": result.report["noisy_psnr"],
        "seconds": time.perf_counter() - started,
    }


def replay(run: dict, rule: StopConfig, most_steps: int | None = None) -> tuple[int, float]:
    """The step whose average the rule would return on this run's recorded variance (with the
    fit capped at ``most_steps``, default: as recorded), and that average's PSNR."""
    judge = WindowedVariance(rule, numel=1, device=torch.device("cpu"))  # the fit's own decision
    for step, value in zip(run["variance"]["step"], run["variance"]["value"]):
        if most_steps is not None and step > most_steps:
            break
        if step % rule.every == 0 and judge.judge(step, value) == "stop":
            break
    best_step = judge.best_step
    last = run["steps"][-1] if most_steps is None else min(most_steps, run["steps"][-1])
    if best_step is not None and best_step + rule.patience < last:
        last = best_step + rule.patience  # where the fit stops
    chosen = last if best_step is None else min(best_step + average_lag(EMA, rule.window), last)
    psnr_at = dict(zip(run["steps"], run["psnr_ema"]))
    return chosen, psnr_at[chosen]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", default="dev", choices=("dev", "test"))
    parser.add_argument("--sigmas", default="15,25,50")
    parser.add_argument("--steps", type=int, default=2400)
    parser.add_argument("--side", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    images = split_images(args.split, args.side)
    if not images:
        print("skipped: the shared images (../shared/data/images) are absent")
        return 0
    json_path = RESULTS / f"stopping_{args.split}.json"
    runs: dict = json.loads(json_path.read_text())["runs"] if json_path.exists() else {}
    for (name, clean), sigma in itertools.product(images.items(), [float(s) for s in args.sigmas.split(",")]):
        key = f"{name}/sigma{sigma:g}"
        if key in runs and runs[key]["steps"][-1] >= args.steps:
            continue
        runs[key] = record(clean, sigma, args.steps, args.seed)
        best = max(runs[key]["psnr_ema"])
        print(f"{key}: best EMA PSNR {best:.2f} dB, {runs[key]['seconds']:.0f} s", flush=True)
        _write(args, runs)
    _write(args, runs)
    return 0


def _write(args, runs: dict) -> None:
    rows, grid = [], {}
    for warmup, patience in itertools.product(WARMUPS, PATIENCES):
        rule = StopConfig(warmup=warmup, patience=patience)
        gaps, chosen_steps = [], []
        for run in runs.values():
            step, value = replay(run, rule)
            gaps.append(max(run["psnr_ema"]) - value)
            chosen_steps.append(step)
        within = sum(g <= 0.3 for g in gaps) / len(gaps)
        grid[f"{warmup}/{patience}"] = {"gaps": gaps, "steps": chosen_steps}
        rows.append([warmup, patience, statistics.mean(gaps), max(gaps), f"{100 * within:.0f} %", max(chosen_steps)])
    per_run = []
    default, most = StopConfig(), DenoiseConfig().fit.steps
    for key, run in runs.items():
        step, value = replay(run, default)
        capped_step, capped = replay(run, default, most)
        best = max(run["psnr_ema"])
        best_step = run["steps"][run["psnr_ema"].index(best)]
        per_run.append([key, run["noisy_psnr"], best, best_step, capped, capped_step, value, step, best - capped])
    markdown = (
        f"## The stopping rule replayed on recorded fits ({args.split} split, {args.side}x{args.side} crops, "
        f"{args.steps} steps, seed {args.seed})\n\n"
        "Gap: the run's best EMA PSNR minus the EMA PSNR the rule returns (dB), with the fit capped at "
        f"the default maximum of {DenoiseConfig().fit.steps} steps; 'within 0.3' is the share of runs "
        "whose gap is at most 0.3 dB; 'latest chosen step' the latest step whose average any run returns.\n\n"
        + table(["warm-up", "patience", "mean gap", "worst gap", "within 0.3 dB", "latest chosen step"], rows)
        + f"\n\n### Each run under the default rule ({default.to_dict()})\n\n"
        f"Returned PSNR and chosen step with the default maximum of {most} fit steps, and with the "
        f"fit run to {args.steps}; gap: best minus returned at the default maximum.\n\n"
        + table(
            [
                "run",
                "noisy",
                "best EMA PSNR",
                "at step",
                f"returned, max {most}",
                "chosen step",
                f"returned, max {args.steps}",
                "chosen step",
                "gap",
            ],
            per_run,
        )
    )
    write_results(f"stopping_{args.split}", markdown, {"settings": vars(args), "runs": runs, "grid": grid})


if __name__ == "__main__":
    sys.exit(main())
