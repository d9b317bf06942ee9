"""Does ``torch.compile`` pay for the fit? One masked fit step, eager against compiled.

    python benchmarks/compile_step.py [--side 512] [--steps 6]

The generator is the default one with a random 5 % mask enforced by the package's
parametrization, fitted with fused Adam as ``sparse_dip/restoration/fit.py`` does. The compiled
model's first step includes the compilation, measured cold (Inductor's on-disk graph cache is
switched off, so this is what a user's first run pays); the other steps alternate eager and
compiled, and the median of each is kept. Inductor's layout optimisation is switched off: with it, torch 2.13
fails in the backward of the replication padding (a stride assertion in the generated code).
Writes ``benchmarks/results/compile_step.{md,json}``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable

import torch
import torch._inductor.config as inductor_config
from common import table, write_results

from sparse_dip.generators.hourglass import Hourglass, input_noise
from sparse_dip.pruning.mask import Mask
from sparse_dip.pruning.parametrize import apply_mask


def masked_generator() -> Hourglass:
    torch.manual_seed(0)
    model = Hourglass()
    keep = {n: torch.rand_like(p) < 0.05 for n, p in model.named_parameters() if p.dim() == 4}
    return apply_mask(model, Mask(keep))


def fit_step(model: torch.nn.Module, z: torch.Tensor, target: torch.Tensor) -> Callable[[], None]:
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01, fused=True)

    def step() -> None:
        loss = torch.mean((model(z) - target) ** 2)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def timed(step: Callable[[], None]) -> float:
    started = time.perf_counter()
    step()
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--side", type=int, default=512)
    parser.add_argument("--steps", type=int, default=6)
    args = parser.parse_args()
    inductor_config.layout_optimization = False
    inductor_config.fx_graph_cache = False
    z = input_noise(32, args.side, args.side, torch.Generator().manual_seed(0))
    target = torch.rand(1, 3, args.side, args.side, generator=torch.Generator().manual_seed(1))

    eager = fit_step(masked_generator(), z, target)
    compiled = fit_step(torch.compile(masked_generator()), z, target)
    first_compiled = timed(compiled)
    eager()
    times: dict[str, list[float]] = {"eager": [], "compiled": []}
    for _ in range(args.steps):
        times["eager"].append(timed(eager))
        times["compiled"].append(timed(compiled))
    eager_s, compiled_s = (statistics.median(times[k]) for k in ("eager", "compiled"))
    saved = eager_s - compiled_s
    break_even = first_compiled / saved if saved > 0 else float("inf")
    rows = [
        ["eager", f"{eager_s:.3f}", "1.00x", "-"],
        ["torch.compile", f"{compiled_s:.3f}", f"{eager_s / compiled_s:.2f}x", f"{first_compiled:.1f}"],
    ]
    markdown = (
        f"## One masked fit step at {args.side}x{args.side} (median of {args.steps}, alternating)\n\n"
        + table(["forward", "s per step", "speed-up", "first step incl. compilation, s"], rows)
        + f"\nSteps needed to repay the compilation: {break_even:.0f}.\n"
    )
    data = {
        "side": args.side,
        "seconds_per_step": {k: statistics.median(v) for k, v in times.items()},
        "all_seconds": times,
        "first_compiled_step_seconds": first_compiled,
        "break_even_steps": break_even,
    }
    md, js = write_results("compile_step", markdown, data)
    print(markdown)
    print(f"wrote {md} and {js}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
