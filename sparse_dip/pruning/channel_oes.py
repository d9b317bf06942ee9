"""Optimal Eye Surgeon over whole output channels: a mask whose kept network is physically small.

The relaxation of :mod:`sparse_dip.pruning.oes` with one logit per output channel (filter) of
each gated weight instead of one per weight: the generator runs with
``w[c] * sigmoid((l_c + log u - log(1 - u)) / tau)`` for every filter ``c``, the weights frozen,
and Adam minimises ``L(w * m) + kl * sum_c KL(Bernoulli(sigmoid(l_c)) || Bernoulli(rho))`` over
the logits. The hard mask keeps the filters of highest logit, over all gated layers together,
until their weights reach the requested fraction (so the kept fraction is the whole-filter
count nearest it, at least one filter per layer). Pruned filters are empty output channels,
which :func:`sparse_dip.generators.compact.compact` cuts from the network before the fit.
This is the channel-level counterpart of OES (as in structured pruning at initialisation,
e.g. SNIP/GraSP applied to channels); unlike OES it is not in the paper.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch
from torch import nn

from sparse_dip.pruning.mask import Mask
from sparse_dip.pruning.oes import OESConfig, OESResult, bernoulli_kl_grad
from sparse_dip.pruning.scores import Loss
from sparse_dip.runtime import autocast


def filters_at(
    logits: Mapping[str, torch.Tensor], filter_sizes: Mapping[str, int], density: float
) -> dict[str, torch.Tensor]:
    """Kept filters: the highest logits over all layers until their weights reach ``density``
    of the total, and each layer's best filter whatever its rank (ties: the earlier filter)."""
    names = list(logits)
    counts = [logits[n].numel() for n in names]
    flat = torch.cat([logits[n].detach().float().cpu() for n in names])
    sizes = torch.cat([torch.full((c,), filter_sizes[n], dtype=torch.float64) for n, c in zip(names, counts)])
    keep = torch.zeros(flat.numel(), dtype=torch.bool)
    start = 0
    for count in counts:
        keep[start + int(torch.argmax(flat[start : start + count]))] = True
        start += count
    budget = density * float(sizes.sum())
    order = torch.sort(flat, descending=True, stable=True).indices
    kept = float(sizes[keep].sum())
    for index in order.tolist():
        if kept >= budget:
            break
        if not keep[index]:
            keep[index] = True
            kept += float(sizes[index])
    return dict(zip(names, keep.split(counts)))


def _per_filter(values: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``values`` (one per output channel) shaped to broadcast over ``weight``'s filters."""
    return values.view(-1, *([1] * (weight.dim() - 1)))


def learn_channel_mask(
    model: nn.Module,
    loss: Loss,
    density: float,
    config: OESConfig,
    *,
    names: Sequence[str],
    generator: torch.Generator | None = None,
    callback: Callable[[int, float], None] | None = None,
    log_every: int = 50,
) -> OESResult:
    """Learn which output channels of the weights ``names`` to keep (``density`` of their weights).

    ``loss(weights)`` is as in :func:`sparse_dip.pruning.oes.learn_mask`; it receives the
    weights ``names`` with each filter scaled by its relaxed gate. The mask covers ``names``
    only, each filter all kept or all pruned; the logits returned are per filter.
    """
    if not 0.0 < density <= 1.0:
        raise ValueError(f"density must be in (0, 1], got {density}")
    params = dict(model.named_parameters())
    weights = {n: params[n].detach() for n in names}
    device = next(iter(weights.values())).device
    counts = [weights[n].shape[0] for n in names]
    logits = torch.zeros(sum(counts), device=device, requires_grad=True)
    noise = torch.empty_like(logits)
    optimizer = torch.optim.Adam([logits], lr=config.lr)
    generator = generator or torch.Generator(device=device).manual_seed(0)
    losses: list[tuple[int, torch.Tensor]] = []
    requires_grad = {n: p.requires_grad for n, p in params.items()}
    for p in params.values():
        p.requires_grad_(False)
    try:
        for step in range(1, config.steps + 1):
            noise.uniform_(generator=generator).logit_(eps=1e-6)
            gates = torch.sigmoid((logits + noise) / config.temperature).split(counts)
            masked = {n: w * _per_filter(g, w) for (n, w), g in zip(weights.items(), gates)}
            with autocast(device, config.precision):
                fit = loss(masked).float()
            optimizer.zero_grad(set_to_none=True)
            fit.backward()
            logits.grad.add_(bernoulli_kl_grad(logits.detach(), density), alpha=config.kl)
            optimizer.step()
            if step % log_every == 0 or step == config.steps:
                losses.append((step, fit.detach()))
                if callback is not None:
                    callback(step, float(fit.detach()))
    finally:
        for n, p in params.items():
            p.requires_grad_(requires_grad[n])
    final = {n: chunk.detach() for n, chunk in zip(names, logits.split(counts))}
    filters = filters_at(final, {n: weights[n][0].numel() for n in names}, density)
    mask = Mask({n: _per_filter(filters[n].to(device), weights[n]).expand_as(weights[n]).clone() for n in names})
    return OESResult(mask=mask, logits=final, loss_history=[(s, float(v)) for s, v in losses])
