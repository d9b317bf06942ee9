"""Time per step of the default generator under each speed lever, against fp32 in the same run.

    python benchmarks/step_time.py [--sides 256,512] [--steps 8] [--repeats 3] [--parts levers,masks]

``masks``: a fitting step of the dense generator against the same step with a 95 % sparse
random mask, enforced by the parametrisation (a select in every pass) and by zeroed weights and
gradients (:mod:`sparse_dip.pruning.zeroed`, what the fit uses), and with channel masks keeping
50 % and 25 % of the weights in whole filters, whose empty channels are cut from the network
(:mod:`sparse_dip.generators.compact`, what the fit does with an ``oes-channels`` mask), in fp32
and bf16.
``levers``: bf16 autocast, channels-last memory format, both; and, as the baseline of the fused
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

from sparse_dip.generators.compact import compact, cuttable
from sparse_dip.generators.hourglass import Hourglass, input_noise, padded_size, textbook_forward
from sparse_dip.pruning.channel_oes import filters_at
from sparse_dip.pruning.mask import Mask, top_k
from sparse_dip.pruning.oes import OESConfig
from sparse_dip.pruning.parametrize import apply_mask
from sparse_dip.pruning.zeroed import zero_pruned
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


def _random_mask(model: Hourglass):
    scores = {
        n: torch.rand(p.shape, generator=torch.Generator().manual_seed(2))
        for n, p in model.named_parameters()
        if p.dim() > 1
    }
    return top_k(scores, 0.05)


def _enforced(enforce):
    def prepare(model: Hourglass) -> Hourglass:
        enforce(model, _random_mask(model))
        return model

    return prepare


def _compacted(sparsity: float):
    """A channel mask keeping ``1 - sparsity`` of the cuttable weights in whole filters (random
    choice: the time does not depend on which), cut out of the network, the rest zeroed."""

    def prepare(model: Hourglass) -> Hourglass:
        names = cuttable(model)
        params = dict(model.named_parameters())
        logits = {n: torch.rand(params[n].shape[0], generator=torch.Generator().manual_seed(3)) for n in names}
        filters = filters_at(logits, {n: params[n][0].numel() for n in names}, 1.0 - sparsity)
        mask = Mask({n: filters[n].view(-1, 1, 1, 1).expand_as(params[n]).clone() for n in names})
        thin, thin_mask, _ = compact(model, mask)
        zero_pruned(thin, thin_mask)
        return thin

    return prepare


ENFORCEMENTS = {
    "dense": lambda model: model,
    "masked (parametrisation)": _enforced(apply_mask),
    "masked (zeroed weights and gradients)": _enforced(zero_pruned),
    "compacted, channel mask 50 %": _compacted(0.5),
    "compacted, channel mask 75 %": _compacted(0.75),
}


def fit_step(
    side: int,
    precision: str,
    channels_last: bool,
    network: type[Hourglass],
    steps: int,
    prepare=ENFORCEMENTS["masked (zeroed weights and gradients)"],
) -> float:
    model, z, target = _setup(side, channels_last, network)
    model = prepare(model)
    return _per_step(lambda n: fit(model, z, target, FitConfig(steps=n, precision=precision)), steps)


def enforcement_rows(sides, steps: int, repeats: int) -> list[dict]:
    """Seconds per fit step, dense against a 95 % sparse mask enforced each way and compacted
    channel masks, fp32 and bf16."""
    rows = []
    for side in sides:
        for precision in ("fp32", "bf16"):
            row = {"side": side, "precision": precision}
            for _ in range(repeats):
                for name, prepare in ENFORCEMENTS.items():
                    seconds = fit_step(side, precision, False, Hourglass, steps, prepare)
                    row[name] = min(row.get(name, seconds), seconds)
                    print(side, precision, name, f"{seconds:.3f} s", flush=True)
            rows.append(row)
    return rows


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
    parser.add_argument("--parts", default="levers,masks", help="levers (precision, memory order), masks (enforcement)")
    args = parser.parse_args()
    sides = [int(s) for s in args.sides.split(",")]
    parts = set(args.parts.split(","))
    results = []
    for side in sides if "levers" in parts else []:
        for phase, timer in (("fit", fit_step), ("OES mask", mask_step)):
            row = {"side": side, "phase": phase}
            for _ in range(args.repeats):  # round-robin, so a noisy neighbour slows every lever alike
                for lever, setting in LEVERS.items():
                    seconds = timer(side, *setting, args.steps)
                    row[lever] = min(row.get(lever, seconds), seconds)
                    print(side, phase, lever, f"{seconds:.3f} s", flush=True)
            results.append(row)
    markdown = ""
    if results:
        rows = [[r["side"], r["phase"]] + [f"{r[k]:.3f} ({r['fp32'] / r[k]:.2f}x)" for k in LEVERS] for r in results]
        markdown += (
            f"## Seconds per step of the default generator (fastest of {args.repeats} rounds;"
            " speed-up against fp32)\n\n" + table(["side", "phase", *LEVERS], rows)
        )
    masks = enforcement_rows(sides, args.steps, args.repeats) if "masks" in parts else []
    if masks:
        rows = [
            [r["side"], r["precision"]] + [f"{r[k]:.3f} ({r['dense'] / r[k]:.2f}x)" for k in ENFORCEMENTS]
            for r in masks
        ]
        markdown += (
            "\n## Seconds per fit step: dense, 95 % sparse masks, compacted channel masks"
            f" (fastest of {args.repeats} rounds; speed-up against dense)\n\n"
            + table(["side", "precision", *ENFORCEMENTS], rows)
        )
    name = "step_time" if parts == {"levers", "masks"} else "step_time_" + "_".join(sorted(parts))
    md, js = write_results(name, markdown, {"results": results, "masks": masks})
    print(markdown)
    print(f"wrote {md} and {js}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
