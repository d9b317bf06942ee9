"""Sparsity-aware initialisation: give a pruned layer back the output variance of the dense one.

With fan-in scaled initialisation (Kaiming, PyTorch's default) the variance of a unit's output
is proportional to its number of inputs times the variance of the weights; a layer that keeps a
fraction ``d`` of its weights loses a factor ``d`` of it. Multiplying the kept weights by
``1 / sqrt(d)`` restores it in closed form (ToST, Jaiswal et al., ICML 2022, learn the scales
instead). A layer followed by BatchNorm is scale-invariant in its forward pass: there the
rescaling changes only how fast the layer learns (the effective step of a scale-invariant
weight goes as ``lr / |w|^2``).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from sparse_dip.pruning.mask import Mask


@torch.no_grad()
def rescale_kept_weights(model: nn.Module, mask: Mask) -> dict[str, float]:
    """Multiply each masked layer's weights by ``1 / sqrt(its density)``; return the factors."""
    params = dict(model.named_parameters())
    factors = {}
    for name, keep in mask.items():
        density = float(keep.float().mean())
        factor = 1.0 / math.sqrt(density) if density > 0 else 1.0
        params[name].mul_(factor)
        factors[name] = factor
    return factors
