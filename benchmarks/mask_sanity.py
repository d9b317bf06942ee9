"""Is an OES mask more than its per-layer densities? Its own, shuffled, profile and uniform masks, fitted alike.

    python benchmarks/mask_sanity.py                                 # 5 test images x 3 seeds, sigma 25
    python benchmarks/mask_sanity.py --images baboon,barbara --seeds 0   # a shard
    python benchmarks/mask_sanity.py --store-profile                 # the package's stored profile

On the central 256x256 crop of each test-split image (baboon, barbara, Set12 04-06) with
Gaussian noise of std 25 drawn from the seed, and for each seed (the generator's weights, its
input noise and OES's relaxation noise), four masks at the default 95 % sparsity:

- ``own``: the OES mask learned on that noisy image (``sparse-dip denoise``'s search);
- ``shuffled``: ``own`` with each layer's kept weights moved to random positions, the same
  count per layer (the sanity check of Su et al. 2020 and Frankle et al. 2021);
- ``profile``: random positions at the per-layer densities averaged from the OES masks of the
  *other* images at the same seed (``--method profile``'s construction, leave one out);
- ``uniform``: random positions, every layer at 5 %.

Each is fitted for ``--steps`` steps on the same weights without the stopping rule, scored at
its best logged step (an oracle), at the default step maximum and at the end; the table gives
each mask's mean and worst difference from ``own``, and the output channels it leaves empty.

The OES masks are kept in ``benchmarks/results/mask_sanity_masks/`` (not committed) and rows
in ``benchmarks/results/mask_sanity.json`` as they finish, so a stopped run resumes.
``--store-profile`` learns OES masks on the dev split (seed 0) instead and writes their
average to ``sparse_dip/pruning/profiles/hourglass_oes.json``. Skips cleanly when no shared
image is present.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import replace

import numpy as np
import torch
from common import RESULTS, ROOT, SPLITS, machine, noisy_copy, split_images, table, write_results
from empty_channels import empty_channels

from sparse_dip import defaults
from sparse_dip.physics import Identity
from sparse_dip.pruning.mask_file import MaskFile, load_mask, save_mask
from sparse_dip.pruning.profile import STORED_PROFILE, average_profile, random_at_profile, shuffle_within_layers
from sparse_dip.restoration.pipeline import RestoreConfig, learn_mask_for, restore

SIGMA = 25.0
VARIANTS = ("own", "shuffled", "profile", "uniform")
MASKS = RESULTS / "mask_sanity_masks"


def oes_mask(name: str, noisy: np.ndarray, seed: int) -> MaskFile:
    """The default OES mask of ``noisy`` at ``seed``, learned once and kept on disk."""
    path = MASKS / f"{name}_seed{seed}.mask"
    if path.exists():
        return load_mask(path)
    started = time.perf_counter()
    found = learn_mask_for(noisy, Identity(), RestoreConfig(seed=seed))
    MASKS.mkdir(parents=True, exist_ok=True)
    save_mask(path, found)
    print(f"{name} seed {seed}: OES mask in {time.perf_counter() - started:.0f} s", flush=True)
    return found


def variant_mask(variant: str, own: MaskFile, others: list[MaskFile], seed: int) -> MaskFile:
    """The ``variant`` mask beside ``own``; the info (the generator and the seed) stays ``own``'s."""
    generator = torch.Generator().manual_seed(10_000 + seed)
    shapes = {n: v.shape for n, v in own.mask.items()}
    density = own.mask.density
    if variant == "own":
        return own
    if variant == "shuffled":
        mask = shuffle_within_layers(own.mask, generator)
    elif variant == "profile":
        mask = random_at_profile(shapes, average_profile([m.mask for m in others]), density, generator)
    elif variant == "uniform":
        mask = random_at_profile(shapes, dict.fromkeys(shapes, 1.0), density, generator)
    else:
        raise ValueError(f"unknown variant {variant!r}")
    return MaskFile(mask, {**own.info, "variant": variant})


def fit_row(noisy: np.ndarray, clean: np.ndarray, mask: MaskFile, steps: int, seed: int) -> dict:
    """Fit ``mask`` on the weights it was found on, with the input noise of ``seed``."""
    base = RestoreConfig(device="cpu", seed=seed)
    config = replace(base, fit=replace(base.fit, steps=steps, stop=None))
    started = time.perf_counter()
    report = restore(noisy, Identity(), config, clean=clean, mask=mask).report
    history = report["history"]
    curve, logged = history["psnr_ema"], history["step"]
    best = int(np.argmax(curve))
    at_budget = min(range(len(logged)), key=lambda i: abs(logged[i] - defaults.FIT_STEPS))
    return {
        "peak_psnr": curve[best],
        "peak_step": logged[best],
        "psnr_at_default_steps": curve[at_budget],
        "final_psnr": report["psnr"],
        "seconds": time.perf_counter() - started,
        **empty_channels(mask.mask),
    }


def summarise(rows: dict) -> tuple[str, dict]:
    """Per variant: mean PSNRs and the mean / worst difference from ``own`` on the same image and seed."""
    summary, body = {}, []
    for variant in VARIANTS:
        have = {k: r for k, r in rows.items() if k.endswith(f"/{variant}")}
        if not have:
            continue
        entry = {
            "runs": len(have),
            **{f"mean_{m}": statistics.mean(r[m] for r in have.values()) for m in ("peak_psnr", "final_psnr")},
            "mean_empty_out": statistics.mean(r["empty_out"] for r in have.values()),
        }
        for measure in ("peak_psnr", "final_psnr"):
            gaps = [
                r[measure] - rows[k.rsplit("/", 1)[0] + "/own"][measure]
                for k, r in have.items()
                if k.rsplit("/", 1)[0] + "/own" in rows
            ]
            if gaps:
                entry[f"{measure}_vs_own"] = {"mean": statistics.mean(gaps), "worst": min(gaps)}
        summary[variant] = entry

        def gap(measure: str, entry=entry) -> str:
            g = entry.get(f"{measure}_vs_own")
            return f"{g['mean']:+.2f} ({g['worst']:+.2f})" if g else "-"

        body.append(
            [
                variant,
                entry["mean_peak_psnr"],
                gap("peak_psnr"),
                entry["mean_final_psnr"],
                gap("final_psnr"),
                f"{entry['mean_empty_out']:.0f} / {next(iter(have.values()))['out_total']}",
                len(have),
            ]
        )
    header = [
        "mask",
        "mean peak PSNR",
        "peak vs own: mean (worst)",
        "mean final PSNR",
        "final vs own: mean (worst)",
        "empty output channels",
        "runs",
    ]
    return table(header, body), summary


def store_profile(side: int) -> int:
    images = split_images("dev", side)
    if not images:
        print("skipped: none of the dev images is present (../shared/data/images)")
        return 0
    masks = [oes_mask(name, noisy_copy(clean, SIGMA, seed=0), seed=0) for name, clean in images.items()]
    profile = average_profile([m.mask for m in masks])
    path = ROOT / "sparse_dip" / "pruning" / "profiles" / STORED_PROFILE
    path.parent.mkdir(parents=True, exist_ok=True)
    source = {
        "what": "per-layer kept fraction of OES masks of the default generator, averaged over images",
        "images": list(images),
        "crop": side,
        "sigma": SIGMA,
        "seed": 0,
        "sparsity": defaults.SPARSITY,
        "made_by": "python benchmarks/mask_sanity.py --store-profile",
        **machine(),
    }
    path.write_text(json.dumps({"source": source, "densities": profile}, indent=2) + "\n")
    print(f"wrote {path} ({len(profile)} layers, from {', '.join(images)})")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", default=",".join(SPLITS["test"][:5]))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--steps", type=int, default=2000, help="fitting steps, every one (no stopping rule)")
    parser.add_argument("--side", type=int, default=256)
    parser.add_argument("--store-profile", action="store_true", help="write the package's stored profile and stop")
    args = parser.parse_args()
    if args.store_profile:
        return store_profile(args.side)
    wanted = args.images.split(",")
    images = {n: p for n, p in split_images("test", args.side).items() if n in wanted}
    if len(images) < 2:
        print("skipped: fewer than two of the test images are present (the profile needs other images)")
        return 0
    json_path = RESULTS / "mask_sanity.json"
    rows: dict = json.loads(json_path.read_text())["rows"] if json_path.exists() else {}
    for seed in map(int, args.seeds.split(",")):
        noisy = {n: noisy_copy(clean, SIGMA, seed=seed) for n, clean in images.items()}
        masks = {n: oes_mask(n, noisy[n], seed) for n in images}
        for name, clean in images.items():
            others = [m for n, m in masks.items() if n != name]
            for variant in args.variants.split(","):
                key = f"{name}/seed{seed}/{variant}"
                if key in rows:
                    continue
                rows[key] = fit_row(
                    noisy[name], clean, variant_mask(variant, masks[name], others, seed), args.steps, seed
                )
                r = rows[key]
                print(f"{key}: peak {r['peak_psnr']:.2f} at {r['peak_step']}, final {r['final_psnr']:.2f}", flush=True)
                _write(args, rows)
    _write(args, rows)
    return 0


def _write(args, rows: dict) -> None:
    summary_md, summary = summarise(rows)
    markdown = (
        f"## Is the OES mask more than its per-layer densities? ({args.side}x{args.side} crops, sigma 25)\n\n"
        f"Every mask fitted for {args.steps} steps on the same weights, no stopping rule; PSNR in dB of the "
        "averaged output, peak = its best logged step (an oracle). 'vs own' pairs runs on the same image and seed.\n\n"
        + summary_md
        + "\n\n### Every run\n\n"
        + table(
            ["image/seed/mask", "peak PSNR", "peak step", f"PSNR at step {defaults.FIT_STEPS}", "final PSNR"],
            [
                [k, r["peak_psnr"], r["peak_step"], r["psnr_at_default_steps"], r["final_psnr"]]
                for k, r in sorted(rows.items())
            ],
        )
    )
    write_results("mask_sanity", markdown, {"settings": vars(args), "summary": summary, "rows": rows})


if __name__ == "__main__":
    sys.exit(main())
