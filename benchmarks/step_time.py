"""Time per step of the default generator under each speed lever, against fp32 in the same run.

    python benchmarks/step_time.py [--sides 256,512] [--steps 8] [--repeats 3]

Levers: bf16 autocast, channels-last memory format, both; and, as the baseline of the fused
forward pass, the same network run in the textbook order (convolution, pooling, upsampling,
convolution). For a fitting step (Adam on the masked generator) and for an OES mask step.
Writes ``benchmarks/results/step_time.{md,json}``.
Needs no shared images (the input is noise: the time of a step does not depend on the image).
"""

from __future__ import annotations

import argparse
import sys
import time

import torch
from common import table, write_results

from sparse_dip.generators.hourglass import Hourglass, input_noise, padded_size, textbook_forward
from sparse_dip.pruning.mask import top_k
from sparse_dip.pruning.oes import OESConfig
from sparse_dip.pruning.parametrize import apply_mask
from sparse_dip.restoration.fit import FitConfig, fit
from sparse_dip.restoration.masks import learn_generator_mask


class TextbookOrder(Hourglass):
    """The same network, run in the textbook order (what the fused forward pass replaced)."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return textbook_forward(self, z)


LEVERS = {
    "fp32": ("fp32", False, Hourglass),
    "bf16": ("bf16", False, Hourglass),
    "fp32 + channels-last": ("fp32", True, Hourglass),
    "bf16 + channels-last": ("bf16", True, Hourglass),
    "textbook order, fp32 + channels-last": ("fp32", True, TextbookOrder),
}


def _setup(side: int, channels_last: bool, network: type[Hourglass]):
    torch.manual_seed(0)
    model = network()
    z = input_noise(32, *padded_size(side, side, 6), torch.Generator().manual_seed(0))
    target = torch.rand(1, 3, side, side, generator=torch.Generator().manual_seed(1))
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        z = z.contiguous(memory_format=torch.channels_last)
    return model, z, target


def _per_step(run, steps: int) -> float:
    """Seconds per step of ``run(n)``, warm-up and set-up costs cancelled out."""
    run(2)
    started = time.perf_counter()
    run(2 + steps)
    total = time.perf_counter() - started
    started = time.perf_counter()
    run(2)
    return (total - (time.perf_counter() - started)) / steps


def fit_step(side: int, precision: str, channels_last: bool, network: type[Hourglass], steps: int) -> float:
    model, z, target = _setup(side, channels_last, network)
    scores = {n: torch.rand(p.shape) for n, p in model.named_parameters() if p.dim() > 1}
    apply_mask(model, top_k(scores, 0.05))
    return _per_step(lambda n: fit(model, z, target, FitConfig(steps=n, precision=precision)), steps)


def mask_step(side: int, precision: str, channels_last: bool, network: type[Hourglass], steps: int) -> float:
    model, z, target = _setup(side, channels_last, network)
    return _per_step(
        lambda n: learn_generator_mask(model, z, target, 0.05, OESConfig(steps=n, precision=precision)), steps
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sides", default="256,512")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3, help="rounds over all levers; the fastest is kept")
    args = parser.parse_args()
    results = []
    for side in map(int, args.sides.split(",")):
        for phase, timer in (("fit", fit_step), ("OES mask", mask_step)):
            row = {"side": side, "phase": phase}
            for _ in range(args.repeats):  # round-robin, so a noisy neighbour slows every lever alike
                for lever, setting in LEVERS.items():
                    seconds = timer(side, *setting, args.steps)
                    row[lever] = min(row.get(lever, seconds), seconds)
                    print(side, phase, lever, f"{seconds:.3f} s", flush=True)
            results.append(row)
    rows = [[r["side"], r["phase"]] + [f"{r[k]:.3f} ({r['fp32'] / r[k]:.2f}x)" for k in LEVERS] for r in results]
    markdown = (
        f"## Seconds per step of the default generator (fastest of {args.repeats} rounds; speed-up against fp32)\n\n"
        + table(["side", "phase", *LEVERS], rows)
    )
    md, js = write_results("step_time", markdown, {"results": results})
    print(markdown)
    print(f"wrote {md} and {js}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
