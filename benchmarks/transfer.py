"""Mask transfer: a mask learned on one image (and at one size) denoising another.

    python benchmarks/transfer.py                      # pepper's masks on F16, 512x512, sigma 25
    python benchmarks/transfer.py --fresh-init         # adds the pepper mask with new random weights

All at sigma 25 (noise seed 0, 8-bit noisy inputs), package defaults, the same fitting budget:
- F16 with its own mask (the baseline, measured in the same run);
- F16 with the mask learned on pepper (512x512): within 0.5 dB of its own?
- F16 with the mask learned on a 256x256 pepper (downscaled, noised at 256): a mask carried
  from a 256x256 image to a 512x512 one;
- with ``--fresh-init``: pepper's mask on new random weights (is the mask an architecture
  that works with any weights, or a match for the weights it was found on?).
Every mask goes through a mask file on disk, as a user's would; the file sizes are reported.

Writes ``benchmarks/results/transfer.{md,json}``. Skips cleanly when ``../shared/data/images``
is absent.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import noisy_copy, shared_image, table, write_results
from skimage import transform

from sparse_dip import metrics
from sparse_dip.pruning.mask_file import MaskFile, load_mask, save_mask
from sparse_dip.restoration.denoise import DenoiseConfig, denoise, learn_image_mask

SIGMA = 25.0


def through_file(mask_file: MaskFile, folder: Path, name: str) -> tuple[MaskFile, int]:
    """Save and reload a mask, as ``find-mask`` then ``denoise --mask`` would; also its size in bytes."""
    path = folder / f"{name}.mask"
    save_mask(path, mask_file)
    return load_mask(path), path.stat().st_size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", default="pepper")
    parser.add_argument("--target", default="F16")
    parser.add_argument("--small-side", type=int, default=256)
    parser.add_argument("--fresh-init", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    source, target = shared_image(args.source), shared_image(args.target)
    if source is None or target is None:
        print("skipping: the shared images are absent (../shared/data/images)")
        return 0
    config = DenoiseConfig(seed=args.seed)
    noisy_source = noisy_copy(source, SIGMA, seed=0)
    noisy_target = noisy_copy(target, SIGMA, seed=0)
    small = transform.resize(source, (args.small_side, args.small_side), anti_aliasing=True).astype(np.float32)
    noisy_small = noisy_copy(small, SIGMA, seed=0)

    rows, runs = [], {}
    with tempfile.TemporaryDirectory() as folder:
        masks = {}
        for name, image in (
            (f"{args.source} {source.shape[0]}x{source.shape[1]}", noisy_source),
            (f"{args.source} {args.small_side}x{args.small_side}", noisy_small),
        ):
            started = time.perf_counter()
            masks[name] = (
                *through_file(learn_image_mask(image, config), Path(folder), name.replace(" ", "_")),
                time.perf_counter() - started,
            )
            print(f"mask from {name}: {masks[name][1] / 1024:.0f} KB in {masks[name][2]:.0f} s", flush=True)

        def run(label: str, mask: MaskFile | None, fresh: bool = False) -> dict:
            result = denoise(noisy_target, config, clean=target, mask=mask, fresh_init=fresh)
            report = result.report
            entry = {
                "psnr": report["psnr"],
                "ssim": report["ssim"],
                "best_psnr": report["best_psnr"],
                "best_step": report["best_step"],
                "seconds": report["seconds"],
                "density": report["density"],
                "history": report["history"],
            }
            print(
                f"{label}: PSNR {entry['psnr']:.2f} dB (best {entry['best_psnr']:.2f} @ {entry['best_step']})",
                flush=True,
            )
            runs[label] = entry
            return entry

        own = run(f"{args.target}'s own mask", None)
        big_name, small_name = list(masks)
        plans = [(f"{big_name} mask", masks[big_name][0], False), (f"{small_name} mask", masks[small_name][0], False)]
        if args.fresh_init:
            plans.append((f"{big_name} mask, fresh init", masks[big_name][0], True))
        for label, mask, fresh in plans:
            run(label, mask, fresh)

    for label, entry in runs.items():
        rows.append(
            [
                label,
                entry["psnr"],
                entry["psnr"] - own["psnr"],
                entry["ssim"],
                f"{entry['best_psnr']:.2f} @ {entry['best_step']}",
                f"{entry['seconds']:.0f}",
            ]
        )
    size_rows = [[name, f"{size / 1024:.0f}", f"{seconds:.0f}"] for name, (_, size, seconds) in masks.items()]
    h, w = target.shape[:2]
    markdown = (
        f"## Mask transfer to {args.target} {h}x{w} (sigma {SIGMA:g}, seed {args.seed}, package defaults)\n\n"
        + table(["mask", "PSNR (returned)", "- own mask", "SSIM", "best EMA @ step", "s"], rows)
        + f"\n\nNoisy input: {metrics.psnr(noisy_target, target):.2f} dB. Masks go through a mask file on disk.\n\n"
        + table(["mask learned on", "file KB", "mask s"], size_rows)
        + "\n"
    )
    md, js = write_results(
        "transfer",
        markdown,
        {
            "runs": runs,
            "mask_files": {name: {"bytes": size, "seconds": seconds} for name, (_, size, seconds) in masks.items()},
        },
    )
    print(markdown)
    print(f"wrote {md} and {js}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
