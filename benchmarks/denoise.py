"""Dense DIP against Sparse-DIP (the default ``sparse-dip denoise``), BM3D and TV on the shared images.

    python benchmarks/denoise.py                      # pepper, F16, baboon at sigma 25
    python benchmarks/denoise.py --images pepper --dense-steps 1000

For each image (sigma 25 on the 0-255 scale, noise seed 0, 8-bit noisy input):
- dense DIP, run long enough to pass its peak, with PSNR tracked every 50 steps: its final and
  its oracle-best PSNR (the best step is something a user cannot know);
- Sparse-DIP with the package defaults, timed end to end as ``sparse-dip denoise`` runs it;
- BM3D (the ``bm3d`` package, ``pip install -e .[bench]``) and scikit-image's TV denoiser with
  its weight chosen by self-supervised J-invariant calibration (no clean image used).
Then one OES mask step done the reference way (a deep copy of the model every step, a
two-class Gumbel-softmax relaxation tensor by tensor, every parameter masked, fp32) against
ours, on the same net and image.

Writes ``benchmarks/results/denoise.{md,json}`` and ``denoise_curves.png``. Skips cleanly when
``../shared/data/images`` is absent.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time

import numpy as np
import torch
from common import RESULTS, noisy_copy, shared_image, table, write_results

from sparse_dip import metrics
from sparse_dip.errors import InputError
from sparse_dip.generators.hourglass import Hourglass, crop, input_noise, padded_size
from sparse_dip.images import to_tensor
from sparse_dip.pruning.oes import OESConfig
from sparse_dip.restoration.classic import classic_denoise
from sparse_dip.restoration.denoise import DenoiseConfig, denoise
from sparse_dip.restoration.fit import FitConfig
from sparse_dip.restoration.masks import learn_generator_mask

SIGMA = 25.0
DENSE = FitConfig(steps=3000, lr=0.01, ema=0.99)


def run_dip(noisy: np.ndarray, clean: np.ndarray, config: DenoiseConfig) -> dict:
    started = time.perf_counter()
    result = denoise(noisy, config, clean=clean)
    report = result.report
    history = report["history"]
    best_raw, best_raw_step = result.fit.history.best("psnr")
    return {
        "final_psnr": report["psnr"],
        "final_ssim": report["ssim"],
        "best_psnr": report["best_psnr"],
        "best_step": report["best_step"],
        "best_raw_psnr": best_raw,
        "best_raw_step": best_raw_step,
        "seconds": time.perf_counter() - started,
        "mask_seconds": report["mask_seconds"],
        "fit_seconds": report["fit_seconds"],
        "seconds_per_step": report["seconds_per_fit_step"],
        "density_per_layer": report["density_per_layer"],
        "history": history,
        "settings": report["settings"],
    }


def run_classic(name: str, noisy: np.ndarray, clean: np.ndarray) -> dict | None:
    """A classic denoiser's PSNR/SSIM and time (BM3D given the true sigma); None if bm3d is absent."""
    started = time.perf_counter()
    try:
        out = classic_denoise(name, noisy, SIGMA / 255)
    except InputError:
        return None
    return {
        "psnr": metrics.psnr(out, clean),
        "ssim": metrics.ssim(out, clean),
        "seconds": time.perf_counter() - started,
    }


def _reference_relaxation(keep_probability: torch.Tensor, temperature: float) -> torch.Tensor:
    """The reference's relaxed mask of one tensor (``utils/quant.py``, ``soft_quantize`` with q=2).

    A two-class Gumbel-softmax over ``[p, 1 - p]`` (each entry ``[n, 1]``), with clamps, double
    logs of fresh uniforms and a softmax, then the weighted sum with the levels ``[1, 0]``.
    Equivalent in law to our binary-concrete sample; this reproduces its cost, not its code.
    """
    two = torch.cat([keep_probability, 1 - keep_probability.sum(1, keepdim=True).clamp(1e-20, 1 - 1e-20)], 1)
    gumbel = -torch.log(-torch.log(torch.rand_like(two).clamp(1e-20, 1 - 1e-20)))
    soft = torch.softmax((torch.log(two.clamp(1e-20, 1 - 1e-20)) + gumbel) / temperature, dim=-1)
    return (soft * torch.tensor([1.0, 0.0])).sum(-1)


def reference_style_steps(model, z, target, density, config: OESConfig, steps: int) -> float:
    """Seconds per OES step done as the reference's ``learn_quantization_probabilities_dip`` does it.

    Every step: a deep copy of the model with its parameters frozen; for each parameter tensor
    in turn, the relaxed mask of its slice of one ``[1, N]`` logit row, multiplied into the
    copy's parameter in place; a forward pass of the copy in fp32; the summed Bernoulli KL of
    all ``N`` logits computed by autograd; Adam on the logits. Every parameter is masked.
    """
    total = sum(p.numel() for p in model.parameters())
    logits = torch.zeros(1, total, requires_grad=True)
    optimizer = torch.optim.Adam([logits], lr=config.lr)
    times = []
    for _ in range(steps + 1):
        started = time.perf_counter()
        copied = copy.deepcopy(model)
        for p in copied.parameters():
            p.requires_grad_(False)
        optimizer.zero_grad()
        offset = 0
        for p in copied.parameters():
            piece = logits[:, offset : offset + p.numel()].t()
            p.mul_(_reference_relaxation(torch.sigmoid(piece), config.temperature).view(p.shape))
            offset += p.numel()
        output = copied(z)
        keep = torch.sigmoid(logits)
        kl = (
            keep * torch.log((keep + 1e-6) / density) + (1 - keep) * torch.log((1 - keep + 1e-6) / (1 - density))
        ).sum()
        loss = torch.nn.functional.mse_loss(crop(output, *target.shape[-2:]), target) + config.kl * kl
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - started)
    return float(np.median(times[1:]))


def our_steps(model, z, target, density, config: OESConfig, steps: int) -> float:
    """Seconds per OES step of :func:`sparse_dip.restoration.masks.learn_generator_mask` (warm-up excluded)."""

    def timed(n: int) -> float:
        started = time.perf_counter()
        learn_generator_mask(model, z, target, density, OESConfig(**{**config.to_dict(), "steps": n}))
        return time.perf_counter() - started

    timed(2)
    return (timed(steps + 2) - timed(2)) / steps


def mask_step_speed(clean: np.ndarray, sides: list[int], steps: int) -> list[dict]:
    rows = []
    for side in sides:
        torch.manual_seed(0)
        model = Hourglass()
        target = to_tensor(noisy_copy(clean[:side, :side], SIGMA, 0))
        z = input_noise(32, *padded_size(side, side, 6), torch.Generator().manual_seed(0))
        fp32_all = OESConfig(include="all", precision="fp32")
        reference = reference_style_steps(model, z, target, 0.05, fp32_all, steps)
        ours = {
            "ours, all parameters, fp32": our_steps(model, z, target, 0.05, fp32_all, steps),
            "ours, conv weights, fp32 (default)": our_steps(model, z, target, 0.05, OESConfig(), steps),
            "ours, conv weights, bf16": our_steps(model, z, target, 0.05, OESConfig(precision="bf16"), steps),
        }
        rows.append(
            {
                "side": side,
                "reference_seconds": reference,
                "ours_seconds": ours,
                "speedup": {k: reference / v for k, v in ours.items()},
            }
        )
    return rows


def plot_curves(results: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results)
    fig, axes = plt.subplots(2, len(names), figsize=(5 * len(names), 8), squeeze=False)
    for col, name in enumerate(names):
        r = results[name]
        for row, axis_of in enumerate(("step", "seconds")):
            ax = axes[row][col]
            for method, colour in (("dense", "tab:red"), ("sparse", "tab:blue")):
                h = r[method]["history"]
                x = np.array(h["step"], dtype=float)
                if axis_of == "seconds":
                    x = r[method]["mask_seconds"] + x * r[method]["seconds_per_step"]
                ax.plot(x, h["psnr"], color=colour, alpha=0.35, label=f"{method} DIP (last output)")
                ax.plot(x, h["psnr_ema"], color=colour, label=f"{method} DIP (EMA, returned)")
            for ref, style in (("bm3d", "--"), ("tv", ":")):
                if r.get(ref):
                    ax.axhline(r[ref]["psnr"], color="k", linestyle=style, label=ref.upper())
            ax.set_xlabel("fit step" if axis_of == "step" else "wall time (s), mask phase included")
            ax.set_ylabel("PSNR (dB)")
            ax.set_title(f"{name}, sigma {SIGMA:g}")
            ax.set_ylim(bottom=max(15, r["noisy_psnr"] - 1))
            ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(RESULTS / "denoise_curves.png", dpi=110)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", default="pepper,F16,baboon")
    parser.add_argument("--dense-steps", type=int, default=DENSE.steps)
    parser.add_argument("--speed-steps", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    results: dict = {}
    for name in args.images.split(","):
        clean = shared_image(name)
        if clean is None:
            print(f"skipping {name}: ../shared/data/images/{name}.png is absent")
            continue
        noisy = noisy_copy(clean, SIGMA, seed=0)
        entry: dict = {"size": list(clean.shape), "noisy_psnr": metrics.psnr(noisy, clean)}
        print(f"{name}: {clean.shape}, noisy PSNR {entry['noisy_psnr']:.2f} dB", flush=True)
        entry["sparse"] = run_dip(noisy, clean, DenoiseConfig(seed=args.seed))
        print(f"  Sparse-DIP {entry['sparse']['final_psnr']:.2f} dB in {entry['sparse']['seconds']:.0f} s", flush=True)
        dense = FitConfig(**{**DENSE.to_dict(), "steps": args.dense_steps})
        entry["dense"] = run_dip(noisy, clean, DenoiseConfig(sparsity=0.0, seed=args.seed, fit=dense))
        print(f"  dense DIP best {entry['dense']['best_psnr']:.2f} dB at {entry['dense']['best_step']}", flush=True)
        entry["bm3d"] = run_classic("bm3d", noisy, clean)
        entry["tv"] = run_classic("tv", noisy, clean)
        results[name] = entry
        write_results("denoise_partial", f"{len(results)} images so far", {"results": results})
    if not results:
        print("no shared images found: nothing to benchmark")
        return 0

    first = shared_image(next(iter(results)))
    speed = mask_step_speed(first, [256, 512], args.speed_steps)

    rows = []
    for name, r in results.items():
        s, d = r["sparse"], r["dense"]
        bm3d = r["bm3d"]["psnr"] if r["bm3d"] else float("nan")
        rows.append(
            [
                name,
                "x".join(map(str, r["size"][:2])),
                r["noisy_psnr"],
                f"{d['final_psnr']:.2f}",
                f"{d['best_psnr']:.2f} @ {d['best_step']}",
                f"{d['best_raw_psnr']:.2f} @ {d['best_raw_step']}",
                s["final_psnr"],
                s["final_psnr"] - d["best_psnr"],
                bm3d,
                s["final_psnr"] - bm3d,
                r["tv"]["psnr"],
                f"{s['seconds']:.0f} ({s['mask_seconds']:.0f} + {s['fit_seconds']:.0f})",
                f"{d['seconds_per_step']:.3f} / {s['seconds_per_step']:.3f}",
            ]
        )
    quality = table(
        [
            "image",
            "size",
            "noisy",
            "dense final",
            "dense best EMA @ step",
            "dense best raw @ step",
            "Sparse-DIP",
            "Sparse-DIP - dense best",
            "BM3D",
            "Sparse-DIP - BM3D",
            "TV (calibrated)",
            "Sparse-DIP s (mask + fit)",
            "s/step dense / sparse",
        ],
        rows,
    )
    speed_rows = [
        [r["side"], f"{r['reference_seconds']:.3f}"]
        + [f"{v:.3f} ({r['speedup'][k]:.1f}x)" for k, v in r["ours_seconds"].items()]
        for r in speed
    ]
    speed_table = table(["side", "reference-style s/step"] + list(speed[0]["ours_seconds"]), speed_rows)
    settings = DenoiseConfig().to_dict()
    markdown = (
        f"## Denoising: dense DIP, Sparse-DIP, BM3D, TV (sigma {SIGMA:g})\n\n{quality}\n\n"
        f"Dense DIP: Adam lr {DENSE.lr}, {args.dense_steps} steps, EMA {DENSE.ema}; 'best' is the oracle "
        "step on the EMA (returned) curve, 'raw' on the last-output curve. Sparse-DIP: package defaults "
        f"`{settings['oes']}`, `{settings['fit']}`, mask learned at most {settings['mask_side']} px.\n\n"
        f"## One OES mask step: reference-style vs ours\n\n{speed_table}\n"
    )
    md, js = write_results("denoise", markdown, {"results": results, "mask_step_speed": speed})
    plot_curves(results)
    print(markdown)
    print(f"wrote {md} and {js}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
