"""ToST: training a sparse network with a recipe of its own, whatever its mask.

Jaiswal et al., *Training Your Sparse Neural Network Better with Any Mask*, ICML 2022. Four
techniques, each switchable:

- **ghost neurons**: every ReLU starts as Swish, ``x * sigmoid(beta * x)``, and is blended
  linearly into ReLU over the first ``ghost_epochs`` epochs
  (``(1 - t) * swish + t * relu``, ``t`` from 0 to 1); afterwards the modules are plain ReLUs.
  (The released code keeps Swish for the whole run; the paper phases it out, as here.)
- **ghost skip connections**: dense ``1x1 conv + BatchNorm`` branches beside each residual block
  (ResNets) or each pair of consecutive convolutions without pooling between them (VGG, small
  CNN), added to the block's output with a weight faded from 1 to 0 over ``ghost_epochs``, then
  removed. Their BatchNorm scale starts at 1e-4, as in the ToST code, so they begin almost
  silent and grow only as far as training finds them useful. They are attached with forward
  hooks and kept in ``model.ghost_skips``, so the network's own parameter names, and thus its
  mask, are untouched and the branches are never masked.
- **sparsity-aware initialisation**: the kept weights of each layer are multiplied by
  ``1 / sqrt(density of the layer)``. With fan-in scaled initialisation the variance of a unit's
  output is proportional to the number of its inputs times the weights' variance; a layer that
  keeps a fraction ``d`` of its inputs loses a factor ``d`` of it, which this restores in closed
  form. (The ToST code learns per-layer scales with GradInit instead: more expensive, and it
  needs data.)
- **label smoothing**: ``alpha`` 0.1, for the whole run or only the first ``smoothing_epochs``.

When training ends :meth:`Ghosts.remove` leaves exactly the masked plain network.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import torch
from torch import nn
from torch.nn import functional as F

from sparse_dip import defaults
from sparse_dip.classification.data import Dataset
from sparse_dip.classification.models import BasicBlock
from sparse_dip.classification.train import TrainConfig, TrainResult, evaluate, train
from sparse_dip.pruning.mask import Mask
from sparse_dip.pruning.parametrize import apply_mask
from sparse_dip.pruning.rescale import rescale_kept_weights


@dataclass(frozen=True)
class ToSTConfig:
    """Which techniques to use and their schedules (epochs count from the start of training)."""

    ghost_neurons: bool = True
    ghost_skips: bool = True
    rescale_init: bool = True
    label_smoothing: float = defaults.TOST_LABEL_SMOOTHING
    ghost_epochs: float = 5.0
    smoothing_epochs: float = 0.0
    beta: float = 1.0

    def __post_init__(self) -> None:
        if self.ghost_epochs <= 0:
            raise ValueError(f"ghost_epochs must be positive, got {self.ghost_epochs}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")

    def to_dict(self) -> dict:
        return asdict(self)


GHOST_SKIP_SCALE = 1e-4

NO_TOST = ToSTConfig(ghost_neurons=False, ghost_skips=False, rescale_init=False, label_smoothing=0.0)


class GhostReLU(nn.Module):
    """``(1 - t) * x * sigmoid(beta * x) + t * relu(x)``; ``t`` is set by the training schedule."""

    def __init__(self, beta: float = 1.0) -> None:
        super().__init__()
        self.beta = beta
        self.t = 0.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.t >= 1.0:
            return F.relu(x)
        return (1.0 - self.t) * x * torch.sigmoid(self.beta * x) + self.t * F.relu(x)


def _replace_relus(module: nn.Module, make) -> list[nn.Module]:
    """Replace every ``nn.ReLU`` child (recursively) by ``make()``; return the new modules."""
    made = []
    for name, child in module.named_children():
        if isinstance(child, nn.ReLU):
            new = make()
            setattr(module, name, new)
            made.append(new)
        else:
            made += _replace_relus(child, make)
    return made


def _restore_relus(module: nn.Module) -> None:
    for name, child in module.named_children():
        if isinstance(child, GhostReLU):
            setattr(module, name, nn.ReLU())
        else:
            _restore_relus(child)


def _skip_points(model: nn.Module) -> list[tuple[nn.Module, nn.Module, int, int, int]]:
    """Where ghost skips go: ``(start module, end module, in channels, out channels, stride)``.

    The branch reads the start module's input and is added to the end module's output.
    """
    blocks = [m for m in model.modules() if isinstance(m, BasicBlock)]
    if blocks:
        return [(b, b, b.conv1.in_channels, b.conv2.out_channels, b.conv1.stride[0]) for b in blocks]
    points = []
    for sequence in (m for m in model.modules() if isinstance(m, nn.Sequential)):
        layers = list(sequence)
        convs = [i for i, layer in enumerate(layers) if isinstance(layer, nn.Conv2d)]
        pending = None
        for i in convs:
            if pending is not None and not any(isinstance(layers[j], nn.MaxPool2d) for j in range(pending, i)):
                end = i
                while end + 1 < len(layers) and not isinstance(layers[end + 1], (nn.Conv2d, nn.MaxPool2d)):
                    end += 1  # through the second convolution's BatchNorm and activation
                points.append((layers[pending], layers[end], layers[pending].in_channels, layers[i].out_channels, 1))
                pending = None
            else:
                pending = i
    return points


class Ghosts:
    """The ghost neurons and ghost skips attached to one model, and their fade schedule."""

    def __init__(self, model: nn.Module, config: ToSTConfig) -> None:
        self.model = model
        self.config = config
        self.activations: list[GhostReLU] = []
        self.handles: list[torch.utils.hooks.RemovableHandle] = []
        self.scale = 1.0
        if config.ghost_neurons:
            self.activations = _replace_relus(model, lambda: GhostReLU(config.beta))
        if config.ghost_skips:
            self._attach_skips()

    def _attach_skips(self) -> None:
        device = next(self.model.parameters()).device
        branches = nn.ModuleList()
        for start, end, cin, cout, stride in _skip_points(self.model):
            branch = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)).to(device)
            nn.init.constant_(branch[1].weight, GHOST_SKIP_SCALE)  # starts near zero, as ToST's code
            branches.append(branch)
            saved: dict[str, torch.Tensor] = {}

            def remember(module, inputs, saved=saved):
                saved["x"] = inputs[0]

            def add(module, inputs, output, branch=branch, saved=saved):
                return output + self.scale * branch(saved.pop("x"))

            self.handles.append(start.register_forward_pre_hook(remember))
            self.handles.append(end.register_forward_hook(add))
        self.model.ghost_skips = branches

    def update(self, epoch: float) -> None:
        """Set the blend and the fade for training at ``epoch`` (fractional)."""
        t = min(1.0, epoch / self.config.ghost_epochs)
        for activation in self.activations:
            activation.t = t
        self.scale = 1.0 - t

    def remove(self) -> None:
        """Take every ghost out: plain ReLUs, no branches, no hooks."""
        for handle in self.handles:
            handle.remove()
        self.handles = []
        if hasattr(self.model, "ghost_skips"):
            del self.model.ghost_skips
        _restore_relus(self.model)
        self.activations = []


def train_sparse(
    model: nn.Module,
    data: Dataset,
    config: TrainConfig,
    mask: Mask | None = None,
    tost: ToSTConfig = NO_TOST,
    **callbacks,
) -> TrainResult:
    """Train ``model`` (plain, at its initialisation) under ``mask`` with the techniques ``tost``
    switches on; the model ends as the masked plain network (no ghost left)."""
    if tost.rescale_init and mask is not None:
        rescale_kept_weights(model, mask)
    if mask is not None:
        apply_mask(model, mask)
    ghosts = Ghosts(model, tost)
    if tost.label_smoothing:
        config = replace(config, label_smoothing=tost.label_smoothing, label_smoothing_epochs=tost.smoothing_epochs)
    try:
        result = train(model, data, config, on_progress=ghosts.update, **callbacks)
    finally:
        ghosts.remove()
    result.accuracy = evaluate(model, data.test)[0]
    return result
