"""Pruning scores at initialisation: how much each weight matters, by each method's own measure.

A scorer maps a model to ``{parameter name: score tensor}`` for the maskable parameters;
higher means *keep*. :func:`sparse_dip.pruning.prune.prune` turns scores into a mask with
:func:`sparse_dip.pruning.mask.top_k`, once or on an iterative schedule. Every scorer works on
any ``nn.Module`` (the DIP generator, a classifier) and leaves it unchanged: its parameters,
buffers (BatchNorm statistics) and train/eval mode are as they were.

When a ``mask`` is given, scores are computed on the masked network (pruned weights are zero),
which is what iterative pruning needs. Data-driven scorers take a ``loss``: a function of the
maskable weights ``{name: tensor}`` returning a scalar, the rest of the model used as it is
(:func:`functional_loss` builds one from inputs and a criterion).

- random: i.i.d. uniform scores.
- magnitude: ``|w|``.
- SNIP (Lee et al., ICLR 2019): ``|g * w|``, the sensitivity of the loss to each connection.
  (The OES reference code drops the ``w`` factor.)
- GraSP (Wang et al., ICLR 2020): the paper scores ``S = -w * (H g)`` and removes the highest
  ``S``; we return ``w * (H g)`` as the keep-score, so the same top-k serves every method.
  ``H g`` is computed by double backpropagation.
- SynFlow (Tanaka et al., NeurIPS 2020): data-free. The network is linearised (every parameter
  and buffer replaced by its absolute value, BatchNorm in eval mode, float64), fed an all-ones
  input; ``R`` is the sum of its output before any final nonlinearity and the score is
  ``|w * dR/dw|``. It is meant to be iterated (:func:`sparse_dip.pruning.prune.prune` does).
  ``R`` is the paper's synaptic flow, the sum over input-output paths of the products of
  ``|w|``: additive terms that are not scored (biases, BatchNorm shifts and running means) are
  set to zero. The reference code takes their absolute value instead, harmless there because
  its models start with zero biases; with PyTorch's default non-zero biases the flow injected
  by the biases of deep layers outweighs the input's paths at high compression, and the first
  layers are emptied together (VGG-16 collapsed at 10^4 that way).
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterator, Mapping, Sequence

import torch
from torch import nn
from torch.func import functional_call

from sparse_dip.pruning.mask import Mask

Scores = dict[str, torch.Tensor]
Loss = Callable[[Mapping[str, torch.Tensor]], torch.Tensor]
Forward = Callable[[nn.Module, torch.Tensor], torch.Tensor]


def functional_loss(
    model: nn.Module, inputs: Sequence[object], criterion: Callable[[torch.Tensor], torch.Tensor]
) -> Loss:
    """A :data:`Loss`: ``criterion(model(*inputs))`` with the given weights swapped in."""

    def loss(weights: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return criterion(functional_call(model, dict(weights), tuple(inputs)))

    return loss


@contextlib.contextmanager
def preserved(model: nn.Module) -> Iterator[nn.Module]:
    """Restore ``model``'s buffers and train/eval modes on exit (scoring passes may change them)."""
    buffers = {n: b.clone() for n, b in model.named_buffers()}
    modes = {m: m.training for m in model.modules()}
    try:
        yield model
    finally:
        with torch.no_grad():
            for n, b in model.named_buffers():
                b.copy_(buffers[n])
        for module, training in modes.items():
            module.training = training


class Scorer:
    """Scores the maskable weights ``names`` of one model. ``scores(mask)`` may be called once
    per pruning round; subclasses define it, set-up that rounds share goes in ``__init__``."""

    def __init__(self, model: nn.Module, names: Sequence[str]) -> None:
        self.model = model
        self.names = list(names)

    def scores(self, mask: Mask | None = None) -> Scores:
        raise NotImplementedError

    def _weights(self, mask: Mask | None, requires_grad: bool = False) -> dict[str, torch.Tensor]:
        """The maskable weights, detached copies, multiplied by ``mask`` when given."""
        params = dict(self.model.named_parameters())
        weights = {}
        for n in self.names:
            w = params[n].detach()
            w = w * mask[n].to(w.device) if mask is not None else w.clone()
            weights[n] = w.requires_grad_(requires_grad)
        return weights


class RandomScorer(Scorer):
    """I.i.d. U(0, 1) scores, drawn on the CPU from ``generator`` (the same mask on any device)."""

    def __init__(self, model: nn.Module, names: Sequence[str], *, generator: torch.Generator) -> None:
        super().__init__(model, names)
        self.generator = generator

    def scores(self, mask: Mask | None = None) -> Scores:
        params = dict(self.model.named_parameters())
        return {n: torch.rand(params[n].shape, generator=self.generator).to(params[n].device) for n in self.names}


class MagnitudeScorer(Scorer):
    """``|w|``."""

    def scores(self, mask: Mask | None = None) -> Scores:
        return {n: w.abs() for n, w in self._weights(mask).items()}


class SNIPScorer(Scorer):
    """SNIP's connection sensitivity ``|dL/dw * w|``."""

    def __init__(self, model: nn.Module, names: Sequence[str], *, loss: Loss) -> None:
        super().__init__(model, names)
        self.loss = loss

    def scores(self, mask: Mask | None = None) -> Scores:
        weights = self._weights(mask, requires_grad=True)
        with preserved(self.model):
            grads = torch.autograd.grad(self.loss(weights), list(weights.values()))
        return {n: (g * w).abs().detach() for (n, w), g in zip(weights.items(), grads)}


class GraSPScorer(Scorer):
    """GraSP's keep-score ``w * (H g)``: the negative of the paper's ``S = -w * H g``."""

    def __init__(self, model: nn.Module, names: Sequence[str], *, loss: Loss) -> None:
        super().__init__(model, names)
        self.loss = loss

    def scores(self, mask: Mask | None = None) -> Scores:
        weights = self._weights(mask, requires_grad=True)
        with preserved(self.model):
            hg = hessian_gradient_product(self.loss, weights)
        return {n: (w * h).detach() for (n, w), h in zip(weights.items(), hg)}


def hessian_gradient_product(loss: Loss, weights: Mapping[str, torch.Tensor]) -> list[torch.Tensor]:
    """``H g`` at ``weights`` (which require grad), ``g`` the gradient of ``loss`` there.

    ``H g`` is the gradient of ``g . stop_gradient(g)`` (double backpropagation).
    """
    tensors = list(weights.values())
    grads = torch.autograd.grad(loss(weights), tensors, create_graph=True)
    inner = sum((g * g.detach()).sum() for g in grads)
    return list(torch.autograd.grad(inner, tensors))


class SynFlowScorer(Scorer):
    """SynFlow's ``|w * dR/dw|`` on the linearised network, ``R = sum(forward(|net|, ones))``.

    ``example_input`` gives the shape (batch of one is used) and device of the all-ones input;
    ``forward(module, x)`` returns the output before any final nonlinearity (default
    ``module(x)``). The linearised network is a float64 copy, made once, with every parameter
    and buffer replaced by its absolute value, unscored biases and running means by zero, and
    BatchNorm in eval mode (in train mode a single constant input normalises to zero: the
    reference's failure on ResNets); each round writes ``|w0| * mask`` into its weights, so
    ``R`` flows only through kept weights. Scores are returned divided by ``R``, so in a ReLU
    net each layer's scores sum to 1 (the conservation law).
    """

    def __init__(
        self,
        model: nn.Module,
        names: Sequence[str],
        *,
        example_input: torch.Tensor,
        forward: Forward | None = None,
    ) -> None:
        super().__init__(model, names)
        self.linear = copy.deepcopy(model).double().eval()
        scored = set(self.names)
        with torch.no_grad():
            for name, tensor in [*self.linear.named_parameters(), *self.linear.named_buffers()]:
                if not tensor.is_floating_point():
                    continue
                if name.endswith(("bias", "running_mean")) and name not in scored:
                    tensor.zero_()  # an additive term: not part of any input-output path
                else:
                    tensor.abs_()
        for p in self.linear.parameters():
            p.requires_grad_(False)
        params = dict(self.linear.named_parameters())
        self.weights = {n: params[n] for n in self.names}
        self.magnitudes = {n: p.detach().clone() for n, p in self.weights.items()}
        self.ones = torch.ones((1, *example_input.shape[1:]), dtype=torch.float64, device=example_input.device)
        self.forward = forward or (lambda module, x: module(x))

    def scores(self, mask: Mask | None = None) -> Scores:
        with torch.no_grad():
            for n, w in self.weights.items():
                w.copy_(self.magnitudes[n] * mask[n].to(w.device) if mask is not None else self.magnitudes[n])
        for w in self.weights.values():
            w.requires_grad_(True)
            w.grad = None
        flow = self.forward(self.linear, self.ones).sum()
        flow.backward()
        # Divided by R before leaving float64: R shrinks by tens of orders of magnitude at high
        # compression, and raw scores would underflow float32 (ranks are unchanged).
        scale = float(flow.detach()) or 1.0
        scores = {n: ((w.grad * w).detach().abs() / scale).float() for n, w in self.weights.items()}
        for w in self.weights.values():
            w.requires_grad_(False)
            w.grad = None
        return scores
