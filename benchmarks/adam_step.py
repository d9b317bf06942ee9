"""Time of one Adam step over the default generator's parameters: per-tensor loop, foreach, fused.

    python benchmarks/adam_step.py [--steps 50] [--repeats 5]

The fitting loop (``sparse_dip/restoration/fit.py``) uses the fused form. Gradients are random
(the optimizer's cost does not depend on them); rounds are round-robin and the fastest is kept.
Writes ``benchmarks/results/adam_step.{md,json}``.
"""

from __future__ import annotations

import argparse
import sys
import time

import torch
from common import table, write_results

from sparse_dip.generators.hourglass import Hourglass

VARIANTS = {"per-tensor loop": {"foreach": False}, "foreach": {"foreach": True}, "fused": {"fused": True}}


def seconds_per_step(options: dict, steps: int) -> float:
    torch.manual_seed(0)
    params = list(Hourglass().parameters())
    for p in params:
        p.grad = torch.randn_like(p)
    optimizer = torch.optim.Adam(params, lr=0.01, **options)
    optimizer.step()  # creates the moments
    started = time.perf_counter()
    for _ in range(steps):
        optimizer.step()
    return (time.perf_counter() - started) / steps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    best: dict[str, float] = {}
    for _ in range(args.repeats):
        for name, options in VARIANTS.items():
            best[name] = min(best.get(name, float("inf")), seconds_per_step(options, args.steps))
    base = best["per-tensor loop"]
    rows = [[name, f"{1000 * s:.2f}", f"{base / s:.1f}x"] for name, s in best.items()]
    markdown = (
        f"## One Adam step over the default generator's {sum(p.numel() for p in Hourglass().parameters()):,} "
        f"parameters (fastest of {args.repeats} rounds of {args.steps} steps)\n\n"
        + table(["Adam", "ms per step", "speed-up against the loop"], rows)
    )
    md, js = write_results("adam_step", markdown, {"ms_per_step": {k: 1000 * v for k, v in best.items()}})
    print(markdown)
    print(f"wrote {md} and {js}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
