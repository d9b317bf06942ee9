"""Enforce a :class:`~sparse_dip.pruning.mask.Mask` on a model through ``torch.nn.utils.parametrize``.

Each masked parameter becomes ``original * mask``: pruned entries are exactly zero in every
forward pass, receive zero gradient, and so stay zero under any optimizer (Adam moments of a
zero gradient are zero; weight decay of a zero is zero). ``right_inverse`` also zeroes the
stored value on registration and on every assignment, so rewinding with
``module.weight = theta0`` keeps pruned entries pruned. The model deep-copies and its
``state_dict`` stays plain tensors.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import parametrize

from sparse_dip.pruning.mask import Mask


class HardMask(nn.Module):
    """Multiply a tensor by a fixed boolean mask (kept as a buffer, so it moves with the model)."""

    def __init__(self, mask: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("mask", mask.to(torch.bool))

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        # A select, not a product: a pruned entry is exactly 0 even if its stored value went
        # NaN or Inf (0 * Inf is NaN), and its gradient is exactly 0 too.
        return torch.where(self.mask, weight, 0.0)

    def right_inverse(self, weight: torch.Tensor) -> torch.Tensor:
        return torch.where(self.mask, weight, 0.0)


def _owner(model: nn.Module, name: str) -> tuple[nn.Module, str]:
    module_name, _, attr = name.rpartition(".")
    return model.get_submodule(module_name), attr


def apply_mask(model: nn.Module, mask: Mask) -> nn.Module:
    """Enforce ``mask`` on ``model`` in place (replacing any mask already there) and return it."""
    remove_mask(model)
    mask.check_against(model)
    for name, keep in mask.items():
        module, attr = _owner(model, name)
        device = getattr(module, attr).device
        parametrize.register_parametrization(module, attr, HardMask(keep.to(device)))
    return model


def remove_mask(model: nn.Module) -> nn.Module:
    """Drop the masks from ``model``, keeping the masked values (pruned entries stay zero)."""
    for module in list(model.modules()):
        if parametrize.is_parametrized(module):
            for attr in list(module.parametrizations.keys()):
                parametrize.remove_parametrizations(module, attr, leave_parametrized=True)
    return model


def mask_of(model: nn.Module) -> Mask:
    """The mask currently enforced on ``model``, keyed by the plain parameter names."""
    entries = {}
    for module_name, module in model.named_modules():
        if parametrize.is_parametrized(module):
            for attr, plist in module.parametrizations.items():
                for p in plist:
                    if isinstance(p, HardMask):
                        entries[f"{module_name}.{attr}" if module_name else attr] = p.mask
    return Mask(entries)
