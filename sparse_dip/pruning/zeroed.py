"""Enforce a frozen :class:`~sparse_dip.pruning.mask.Mask` by zeroing the pruned weights once and
zeroing their gradients: the cheapest exact enforcement for training with a fixed mask.

The pruned entries are set to 0 in place, and a hook run as each gradient is accumulated
(``Tensor.register_post_accumulate_grad_hook``) sets their gradient to exactly 0 (a fill, not a
product, so a NaN gradient cannot leak through). A zero weight with a zero gradient stays
exactly zero under every optimizer the package uses: Adam's and AdamW's moments start at zero and
stay zero, so their update ``m / (sqrt(v) + eps)`` is 0, and a decay of 0 is 0; plain and momentum
SGD likewise. The forward and backward passes then run on the plain weights, with no per-pass
product for autograd to keep (what :func:`~sparse_dip.pruning.parametrize.apply_mask` costs).

Use it where the mask is fixed and the weights are trained from where they are; keep the
parametrisation where an assignment must be masked too (IMP's rewinding) or the mask is soft.
The model's parameters and ``state_dict`` keep their plain names. The hooks live on the
parameter objects, so a deep copy of the model is not masked: mask the copy again.
"""

from __future__ import annotations

import torch
from torch import nn

from sparse_dip.pruning.mask import Mask
from sparse_dip.pruning.parametrize import remove_mask

ATTRIBUTE = "_sparse_dip_zeroed"


def zero_pruned(model: nn.Module, mask: Mask) -> nn.Module:
    """Zero the weights ``mask`` prunes and keep them zero through training; return ``model``
    (a mask already enforced on it, either way, is replaced)."""
    release(model)
    remove_mask(model)
    mask.check_against(model)
    parameters = dict(model.named_parameters())
    handles = []
    with torch.no_grad():
        for name, keep in mask.items():
            parameter = parameters[name]
            pruned = ~keep.to(parameter.device)
            parameter.masked_fill_(pruned, 0.0)
            handles.append(parameter.register_post_accumulate_grad_hook(_zero_gradient(pruned)))
    setattr(model, ATTRIBUTE, (mask, handles))
    return model


def _zero_gradient(pruned: torch.Tensor):
    def hook(parameter: torch.Tensor) -> None:
        parameter.grad.masked_fill_(pruned, 0.0)

    return hook


def zeroed_mask(model: nn.Module) -> Mask | None:
    """The mask :func:`zero_pruned` enforces on ``model``, or ``None``."""
    held = getattr(model, ATTRIBUTE, None)
    return None if held is None else held[0]


def release(model: nn.Module) -> nn.Module:
    """Stop enforcing the mask (the weights keep their values); a no-op on an unmasked model."""
    held = getattr(model, ATTRIBUTE, None)
    if held is not None:
        for handle in held[1]:
            handle.remove()
        delattr(model, ATTRIBUTE)
    return model
