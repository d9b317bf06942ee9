"""A thinner hourglass with the same output: the output channels a mask leaves empty, cut out.

A convolution's output channel whose kept weights are all zero is its bias, a constant image.
The BatchNorm after it (batch statistics: a deep image prior is fitted in train mode) maps a
constant to a constant, the next convolution turns a constant input into a constant added to
each of its outputs (reflection padding keeps it constant), and the BatchNorm after *that*
subtracts it again. So the channel, its BatchNorm entries and the next convolution's input
slice can be cut without changing the output, up to rounding, and the gradients of what is
left are those of the full network (a BatchNorm's output does not depend on a constant shift
of its input). In the hourglass every convolution is followed by a BatchNorm except the last
``up`` convolution, which feeds the 1x1 output convolution directly: its channels and the
output's are never cut.

This is what makes a channel-level mask (:mod:`sparse_dip.pruning.channel_oes`) pay: the fit
runs the network the mask describes, not the full one with zeros in it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import torch
from torch import nn

from sparse_dip.generators.hourglass import Hourglass, _Level
from sparse_dip.pruning.mask import Mask


@dataclass
class Compaction:
    """The kept input and output channels of every cut convolution and BatchNorm, by module name."""

    inputs: dict[str, torch.Tensor] = field(default_factory=dict)
    outputs: dict[str, torch.Tensor] = field(default_factory=dict)

    @property
    def channels_removed(self) -> int:
        """Output channels cut, over the convolutions."""
        return sum(int((~keep).sum()) for name, keep in self.outputs.items() if name in self.inputs)

    def slice(self, name: str, value: torch.Tensor) -> torch.Tensor:
        """The part of parameter ``name`` (full model) that the thinner model keeps."""
        module, _, kind = name.rpartition(".")
        if module in self.outputs:
            value = value[self.outputs[module].to(value.device)]
        if kind == "weight" and module in self.inputs and value.dim() > 1:
            value = value[:, self.inputs[module].to(value.device)]
        return value


def cuttable(model: Hourglass) -> list[str]:
    """The convolution weights whose output channels :func:`compact` can cut: all but the last two."""
    return [n for n, p in model.named_parameters() if p.dim() > 1 and n not in ("output.weight", "body.up.weight")]


def empty_outputs(mask: Mask, name: str, out_channels: int, in_keep: torch.Tensor) -> torch.Tensor:
    """``True`` for the output channels of convolution ``name`` that keep a weight on a kept input."""
    weight = f"{name}.weight"
    if weight not in mask:
        return torch.ones(out_channels, dtype=torch.bool)
    keep = mask[weight].cpu()[:, in_keep].flatten(1).any(1)
    if not keep.any():
        keep[0] = True  # a layer of constants: keep one channel rather than a zero-width convolution
    return keep


def _thin_conv(conv: nn.Conv2d, in_keep: torch.Tensor, out_keep: torch.Tensor) -> nn.Conv2d:
    weight = conv.weight.detach()[out_keep.to(conv.weight.device)][:, in_keep.to(conv.weight.device)]
    thin = nn.Conv2d(weight.shape[1], weight.shape[0], conv.kernel_size, bias=conv.bias is not None)
    thin = thin.to(device=weight.device, dtype=weight.dtype)
    with torch.no_grad():
        thin.weight.copy_(weight)
        if conv.bias is not None:
            thin.bias.copy_(conv.bias.detach()[out_keep.to(conv.bias.device)])
    return thin


def _thin_norm(norm: nn.BatchNorm2d, keep: torch.Tensor) -> nn.BatchNorm2d:
    index = keep.to(norm.weight.device)
    thin = nn.BatchNorm2d(int(keep.sum()), eps=norm.eps, momentum=norm.momentum).to(norm.weight)
    with torch.no_grad():
        thin.weight.copy_(norm.weight[index])
        thin.bias.copy_(norm.bias[index])
        thin.running_mean.copy_(norm.running_mean[index])
        thin.running_var.copy_(norm.running_var[index])
        thin.num_batches_tracked.copy_(norm.num_batches_tracked)
    return thin


def compact(model: Hourglass, mask: Mask) -> tuple[Hourglass, Mask, Compaction]:
    """A copy of ``model`` without the channels ``mask`` empties, the mask for it, and what was cut.

    ``model`` is left as it is; with nothing to cut, ``model`` and ``mask`` themselves are returned.
    """
    thinner = copy.deepcopy(model)
    cut = Compaction()

    def conv(level: _Level, prefix: str, attr: str, in_keep: torch.Tensor, out_keep: torch.Tensor | None = None):
        module: nn.Conv2d = getattr(level, attr)
        name = f"{prefix}{attr}"
        out_keep = empty_outputs(mask, name, module.out_channels, in_keep) if out_keep is None else out_keep
        setattr(level, attr, _thin_conv(module, in_keep, out_keep))
        cut.inputs[name], cut.outputs[name] = in_keep, out_keep
        return out_keep

    def norm(level: _Level, prefix: str, attr: str, keep: torch.Tensor) -> None:
        setattr(level, attr, _thin_norm(getattr(level, attr), keep))
        cut.outputs[f"{prefix}{attr}"] = keep

    def thin(level: _Level, prefix: str, in_keep: torch.Tensor, top: bool) -> torch.Tensor:
        down = conv(level, prefix, "down", in_keep)
        norm(level, prefix, "down_norm", down)
        down2 = conv(level, prefix, "down2", down)
        norm(level, prefix, "down2_norm", down2)
        deeper = thin(level.deeper, f"{prefix}deeper.", down2, False) if level.deeper is not None else down2
        skip = torch.zeros(0, dtype=torch.bool)
        if level.skip is not None:
            skip = conv(level, prefix, "skip", in_keep)
            norm(level, prefix, "skip_norm", skip)
        joined = torch.cat([skip, deeper])
        norm(level, prefix, "up_norm", joined)
        up = conv(level, prefix, "up", joined, torch.ones(level.up.out_channels, dtype=torch.bool) if top else None)
        norm(level, prefix, "up_norm2", up)
        return up

    thin(thinner.body, "body.", torch.ones(model.config.input_depth, dtype=torch.bool), True)
    if cut.channels_removed == 0:
        return model, mask, cut
    thin_mask = Mask({n: cut.slice(n, keep) for n, keep in mask.items()})
    return thinner, thin_mask, cut
