"""The main job on CUDA against the CPU: the same PSNR within 0.2 dB, and the time per step of each.

    python benchmarks/gpu_smoke.py [--side 0] [--precision fp32]

Denoises the example in ``data/`` (``--side N``: its central ``N x N`` crop; 0, the default:
the whole image) with the package defaults on ``cuda`` and on the CPU, from the same seed, and
exits 1 when the two PSNRs differ by more than 0.2 dB. Without a GPU it says "no GPU" and exits
0. Writes ``benchmarks/results/gpu_smoke.{md,json}`` when it ran.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace

import torch
from common import ROOT, central_crop, table, write_results

from sparse_dip.images import load_image
from sparse_dip.physics import Identity
from sparse_dip.restoration.pipeline import RestoreConfig, restore

TOLERANCE_DB = 0.2


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--side", type=int, default=0)
    parser.add_argument("--precision", default="fp32", choices=("fp32", "bf16"))
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("no GPU: nothing to check")
        return 0
    noisy = load_image(ROOT / "data" / "astronaut_noisy.png").pixels
    clean = load_image(ROOT / "data" / "astronaut.png").pixels
    if args.side:
        noisy, clean = central_crop(noisy, args.side), central_crop(clean, args.side)
    base = RestoreConfig()
    base = replace(
        base, oes=replace(base.oes, precision=args.precision), fit=replace(base.fit, precision=args.precision)
    )
    rows, found = [], {}
    for device in ("cuda", "cpu"):
        report = restore(noisy, Identity(), replace(base, device=device), clean=clean).report
        found[device] = report
        rows.append(
            [
                device,
                f"{report['psnr']:.2f}",
                report["fit_steps_run"],
                f"{report['seconds_per_fit_step']:.4f}",
                f"{report['mask_seconds']:.1f}",
                f"{report['seconds']:.1f}",
            ]
        )
        print(rows[-1], flush=True)
    gap = found["cuda"]["psnr"] - found["cpu"]["psnr"]
    speed = found["cpu"]["seconds_per_fit_step"] / found["cuda"]["seconds_per_fit_step"]
    markdown = (
        f"## The main job on {torch.cuda.get_device_name()} against the CPU ({noisy.shape[1]}x{noisy.shape[0]},"
        f" {args.precision})\n\n"
        + table(["device", "PSNR", "fit steps", "seconds per fit step", "mask seconds", "seconds"], rows)
        + f"\nPSNR CUDA - CPU: {gap:+.2f} dB (tolerance {TOLERANCE_DB}); fit step {speed:.1f}x faster on CUDA.\n"
    )
    write_results(
        "gpu_smoke",
        markdown,
        {"gap_db": gap, "reports": {d: {k: v for k, v in r.items() if k != "history"} for d, r in found.items()}},
    )
    print(markdown)
    return 0 if abs(gap) <= TOLERANCE_DB else 1


if __name__ == "__main__":
    sys.exit(main())
