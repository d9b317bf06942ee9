"""How much structure a mask leaves to remove: output channels with no kept weight, per method and sparsity.

    python benchmarks/empty_channels.py [--image pepper] [--sparsities 0.9,0.95,0.98]
        [--methods oes,snip,synflow,random]

A convolution's output channel whose kept weights are all zero is a constant after its
BatchNorm, and an input channel no kept weight reads is never used: both could be cut from
the network to make it thinner. This counts them, over the default generator, for masks learned
on the central 256x256 crop of one shared image at sigma 25 (the mask search of ``sparse-dip
denoise``, the defaults otherwise). Writes ``benchmarks/results/empty_channels.{md,json}``.
"""

from __future__ import annotations

import argparse
import sys

from common import central_crop, noisy_copy, shared_image, table, write_results

from sparse_dip.physics import Identity
from sparse_dip.restoration.pipeline import RestoreConfig, learn_mask_for


def empty_channels(mask) -> dict:
    """Output channels with no kept weight and input channels no kept weight reads, summed over the convolutions."""
    out_empty = in_unread = out_total = in_total = 0
    for keep in mask.values():
        if keep.dim() != 4:
            continue
        out_empty += int((~keep.flatten(1).any(1)).sum())
        in_unread += int((~keep.transpose(0, 1).flatten(1).any(1)).sum())
        out_total += keep.shape[0]
        in_total += keep.shape[1]
    return {"empty_out": out_empty, "out_total": out_total, "unread_in": in_unread, "in_total": in_total}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image", default="pepper")
    parser.add_argument("--sparsities", default="0.9,0.95,0.98")
    parser.add_argument("--methods", default="oes,snip,synflow,random")
    args = parser.parse_args()
    pixels = shared_image(args.image)
    if pixels is None:
        print(f"skipped: the shared image {args.image} is absent")
        return 0
    noisy = noisy_copy(central_crop(pixels, 256), 25, seed=0)
    rows = []
    for method in args.methods.split(","):
        for sparsity in map(float, args.sparsities.split(",")):
            found = learn_mask_for(noisy, Identity(), RestoreConfig(method=method, sparsity=sparsity))
            row = {"method": method, "sparsity": sparsity, **empty_channels(found.mask)}
            row["seconds"] = found.info["seconds"]
            rows.append(row)
            print(row, flush=True)
    body = [
        [r["method"], r["sparsity"], f"{r['empty_out']} / {r['out_total']}", f"{r['unread_in']} / {r['in_total']}"]
        for r in rows
    ]
    markdown = f"## Channels a mask leaves empty ({args.image}, 256x256 crop, sigma 25)\n\n" + table(
        ["method", "sparsity", "output channels with no kept weight", "input channels never read"], body
    )
    md, js = write_results("empty_channels", markdown, {"image": args.image, "rows": rows})
    print(markdown)
    print(f"wrote {md} and {js}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
