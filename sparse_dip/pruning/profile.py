"""A mask's per-layer densities, and random masks drawn at them: the layer-wise sanity check.

For pruning at initialisation, Su et al. (*Sanity-checking pruning methods: random tickets
can win the jackpot*, NeurIPS 2020) and Frankle et al. (*Pruning neural networks at
initialization: why are we missing the mark?*, ICLR 2021) find that what a method learns is
mostly its per-layer densities: the same mask shuffled within each layer trains as well. Here:

- :func:`shuffle_within_layers`: the same number kept in every layer, at random positions;
- :func:`average_profile`: the mean kept fraction of each layer over several masks;
- :func:`counts_at`: per-layer kept counts in proportion to a profile, ``k_l = min(n_l, c p_l n_l)``
  with ``c`` chosen so that they sum to exactly ``round(density * N)``;
- :func:`random_at_profile`: a uniformly random mask with those counts.

The registry's ``profile`` method (:mod:`sparse_dip.pruning.methods`) draws a mask at a stored
profile: by default the one averaged from OES masks of the development images
(``profiles/hourglass_oes.json``), so no mask is searched.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from importlib import resources

import torch

from sparse_dip.pruning.mask import Mask, kept_count

STORED_PROFILE = "hourglass_oes.json"


def _placed(shape: torch.Size, count: int, generator: torch.Generator) -> torch.Tensor:
    """A boolean tensor of ``shape`` with ``count`` entries set at uniformly random positions."""
    numel = math.prod(shape)
    keep = torch.zeros(numel, dtype=torch.bool)
    keep[torch.randperm(numel, generator=generator)[:count]] = True
    return keep.view(shape)


def shuffle_within_layers(mask: Mask, generator: torch.Generator) -> Mask:
    """``mask`` with each layer's kept entries moved to random positions in that layer."""
    return Mask({n: _placed(v.shape, int(v.sum()), generator).to(v.device) for n, v in mask.items()})


def average_profile(masks: Sequence[Mask]) -> dict[str, float]:
    """The kept fraction of each layer, averaged over ``masks`` (which must cover the same layers)."""
    if not masks:
        raise ValueError("an average profile needs at least one mask")
    names = list(masks[0])
    for mask in masks[1:]:
        if list(mask) != names:
            raise ValueError("the masks cover different layers")
    return {n: sum(m.density_per_layer()[n] for m in masks) / len(masks) for n in names}


def counts_at(profile: Mapping[str, float], sizes: Mapping[str, int], density: float) -> dict[str, int]:
    """Kept counts per layer in proportion to ``profile``, summing to ``round(density * sum(sizes))``.

    ``k_l = min(n_l, c * p_l * n_l)``, ``c`` found by water-filling (a layer that would overflow
    is filled and the rest share what is left), then rounded by largest remainders; a layer the
    profile keeps nothing of stays empty.
    """
    missing = [n for n in sizes if n not in profile]
    if missing:
        raise ValueError(f"the profile has no density for {missing[0]!r} (it is for another network)")
    wanted = {n: profile[n] * sizes[n] for n in sizes}
    target = kept_count(density, sum(sizes.values()))
    room = sum(sizes[n] for n in sizes if wanted[n] > 0)
    if target > room:
        raise ValueError(f"the profile keeps weights in {room} entries only, fewer than the {target} asked for")
    real = dict.fromkeys(sizes, 0.0)
    active, left = [n for n in sizes if wanted[n] > 0], float(target)
    while active and left > 0:
        top = max(wanted[n] for n in active)  # shares relative to the largest: no overflow from tiny weights
        share = {n: wanted[n] / top for n in active}
        scale = left / sum(share.values())
        full = [n for n in active if scale * share[n] >= sizes[n]]
        if not full:
            real.update({n: scale * share[n] for n in active})
            break
        for n in full:
            real[n] = float(sizes[n])
            left -= sizes[n]
        active = [n for n in active if n not in full]
    counts = {n: min(sizes[n], math.floor(real[n])) for n in sizes}
    short = target - sum(counts.values())
    by_remainder = sorted(
        (n for n in sizes if counts[n] < sizes[n] and wanted[n] > 0), key=lambda n: counts[n] - real[n]
    )
    for n in by_remainder[: max(short, 0)]:
        counts[n] += 1
    return counts


def random_at_profile(
    shapes: Mapping[str, torch.Size], profile: Mapping[str, float], density: float, generator: torch.Generator
) -> Mask:
    """A random mask over parameters of ``shapes`` keeping ``density`` of them in ``profile``'s proportions."""
    counts = counts_at(profile, {n: math.prod(s) for n, s in shapes.items()}, density)
    return Mask({n: _placed(torch.Size(shapes[n]), counts[n], generator) for n in shapes})


def stored_profile() -> dict[str, float]:
    """The per-layer densities shipped with the package (how they were made: the file's ``source``)."""
    text = resources.files("sparse_dip.pruning").joinpath("profiles", STORED_PROFILE).read_text()
    return dict(json.loads(text)["densities"])
