"""The deep-image-prior hourglass ("skip" network) as Optimal Eye Surgeon configures it.

Ulyanov, Vedaldi and Lempitsky, *Deep Image Prior*, CVPR 2018; Ghosh et al., *Optimal Eye
Surgeon*, ICML 2024. Each level ``i`` of the encoder is a 5x5 convolution (stride 1) followed
by 2x average pooling, BatchNorm and LeakyReLU(0.2), then a second 5x5 convolution, BatchNorm
and LeakyReLU. The decoder upsamples (nearest), normalises, applies a 3x3 convolution,
BatchNorm and LeakyReLU. A 1x1 convolution and a sigmoid give the image in ``[0, 1]``.
Padding is by reflection. Skip channels are 0 at every level by default (as in OES); DIP's
own configurations use 4 or 16.

The network maps a fixed noise tensor ``[B, input_depth, H, W]`` to ``[B, C, H, W]``; ``H``
and ``W`` must be multiples of ``2**levels`` and at least ``3 * 2**levels`` (the deepest 5x5
reflection padding needs 3 pixels). An image of any other size is served by generating on a
canvas of :func:`padded_size` and keeping the central crop (:func:`crop`); the loss only sees
the crop.

The forward pass computes this network in about half the multiply-adds of the order above
(pooling folded into the convolution before it; the upsampling, the BatchNorm after it and the
3x3 convolution done at the lower resolution), with the same numbers up to float rounding:
``tests/test_generator.py`` checks it against the textbook order.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class HourglassConfig:
    """Architecture of the hourglass. The defaults are the OES generator (3,008,867 parameters).

    ``channels`` gives the width of each level, from the finest to the coarsest; ``skip``
    gives the skip-connection width per level (0 means none).
    """

    input_depth: int = 32
    out_channels: int = 3
    channels: tuple[int, ...] = (16, 32, 64, 128, 128, 128)
    skip: tuple[int, ...] = field(default=(0, 0, 0, 0, 0, 0))
    down_kernel: int = 5
    up_kernel: int = 3
    skip_kernel: int = 1

    def __post_init__(self) -> None:
        if len(self.skip) != len(self.channels):
            raise ValueError(f"skip has {len(self.skip)} levels but channels has {len(self.channels)}")
        if not self.channels:
            raise ValueError("the hourglass needs at least one level")

    @property
    def levels(self) -> int:
        return len(self.channels)

    @property
    def min_side(self) -> int:
        """The smallest padded side the network accepts."""
        return 3 * 2**self.levels

    def with_levels(self, levels: int) -> HourglassConfig:
        """The same widths truncated to ``levels`` levels (for images too small for the depth)."""
        if not 1 <= levels <= self.levels:
            raise ValueError(f"levels must be in [1, {self.levels}], got {levels}")
        return HourglassConfig(**{**asdict(self), "channels": self.channels[:levels], "skip": self.skip[:levels]})

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> HourglassConfig:
        """The inverse of :meth:`to_dict` (lists from JSON become tuples)."""
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def _pooled_kernel(weight: torch.Tensor) -> torch.Tensor:
    """The ``(k+1) x (k+1)`` kernel whose stride-2 convolution equals a ``k x k`` one followed by 2x average pooling.

    Convolution and average pooling are both linear, so pooling the output is convolving with
    the mean of the kernel over the four one-pixel shifts; only every other output is kept.
    """
    return 0.25 * sum(F.pad(weight, (dx, 1 - dx, dy, 1 - dy)) for dy in (0, 1) for dx in (0, 1))


# Row (or column) phase ``a`` of a 3-tap convolution over a nearest-upsampled signal reads two
# low-resolution samples: phase 0 sees (i-1, i) with taps (k0, k1 + k2), phase 1 sees (i, i+1)
# with taps (k0 + k1, k2). _PHASE_TAPS[a] maps the three taps to those two.
_PHASE_TAPS = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]], [[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]]])


def _upsampled_conv(x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """``conv`` (3x3, reflection padding 1) applied to the 2x nearest upsampling of ``x``, at ``x``'s resolution.

    Each of the four output phases is a 2x2 convolution of ``x`` padded by replication (the
    reflection of a nearest-upsampled image at its border is the replication of the original):
    16 instead of 36 multiply-adds per input pixel, and the upsampled image is never formed.
    Window ``j`` of the padded input gives phase 1 of output row ``2j - 1`` and phase 0 of row
    ``2j``, so a pixel shuffle of the phases in the order (1, 0), less its first and last row
    and column, is the output.
    """
    weight = conv.weight
    taps = _PHASE_TAPS.flip(0).to(weight)
    kernels = torch.einsum("aru,ocuv,bsv->oabcrs", taps, weight, taps).flatten(0, 2)
    bias = None if conv.bias is None else conv.bias.repeat_interleave(4)
    phases = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), kernels, bias)
    return F.pixel_shuffle(phases, 2)[..., 1:-1, 1:-1]


def _reflect_conv(x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """``conv`` with the reflection padding that keeps the size."""
    pad = (conv.kernel_size[0] - 1) // 2
    return conv(F.pad(x, (pad, pad, pad, pad), mode="reflect") if pad else x)


def _pooled_conv(x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """:func:`_reflect_conv` followed by 2x average pooling, as one stride-2 convolution."""
    pad = (conv.kernel_size[0] - 1) // 2
    return F.conv2d(F.pad(x, (pad, pad, pad, pad), mode="reflect"), _pooled_kernel(conv.weight), conv.bias, stride=2)


def _act(x: torch.Tensor) -> torch.Tensor:
    """DIP's activation, LeakyReLU(0.2)."""
    return F.leaky_relu(x, 0.2)


def _textbook_down(x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """:func:`_reflect_conv` followed by 2x average pooling, in that order."""
    return F.avg_pool2d(_reflect_conv(x, conv), 2)


# Below these sides (of a level's input) the fused forms' extra small operations cost more
# than the multiply-adds they save (measured on 2 CPU cores with benchmarks/step_time.py).
POOLED_MIN_SIDE = 32
UPSAMPLED_MIN_SIDE = 64


class _Level(nn.Module):
    """One level of the hourglass and, recursively, every level below it.

    Down: 5x5 convolution, 2x average pooling, BatchNorm, LeakyReLU, 5x5 convolution, BatchNorm,
    LeakyReLU. Then the deeper levels, nearest upsampling, concatenation with the optional skip
    branch, BatchNorm, 3x3 convolution, BatchNorm, LeakyReLU.

    The forward pass computes exactly this with fewer operations where the images are large:
    the first convolution and the pooling run as one stride-2 convolution (:func:`_pooled_conv`)
    and, without a skip branch, the upsampling, the BatchNorm after it and the 3x3 convolution
    run at the lower resolution (:func:`_upsampled_conv`). BatchNorm statistics of a
    nearest-upsampled image equal those of the original; only its running variance, used in
    eval mode alone, is then estimated from the low-resolution values.
    """

    def __init__(self, config: HourglassConfig, i: int, in_ch: int) -> None:
        super().__init__()
        width, skip = config.channels[i], config.skip[i]
        # Created in this order so a seed gives the same weights as the textbook layout.
        self.down = nn.Conv2d(in_ch, width, config.down_kernel)
        self.down_norm = nn.BatchNorm2d(width)
        self.down2 = nn.Conv2d(width, width, config.down_kernel)
        self.down2_norm = nn.BatchNorm2d(width)
        self.deeper = _Level(config, i + 1, width) if i + 1 < config.levels else None
        deeper_out = config.channels[i + 1] if self.deeper is not None else width
        self.skip = nn.Conv2d(in_ch, skip, config.skip_kernel) if skip else None
        self.skip_norm = nn.BatchNorm2d(skip) if skip else None
        self.up_norm = nn.BatchNorm2d(skip + deeper_out)
        self.up = nn.Conv2d(skip + deeper_out, width, config.up_kernel)
        self.up_norm2 = nn.BatchNorm2d(width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        down = _pooled_conv if min(x.shape[-2:]) >= POOLED_MIN_SIDE else _textbook_down
        h = _act(self.down_norm(down(x, self.down)))
        h = _act(self.down2_norm(_reflect_conv(h, self.down2)))
        if self.deeper is not None:
            h = self.deeper(h)
        if self.skip is None and self.up.kernel_size == (3, 3) and min(x.shape[-2:]) >= UPSAMPLED_MIN_SIDE:
            h = _upsampled_conv(self.up_norm(h), self.up)
        else:
            h = F.interpolate(h, scale_factor=2, mode="nearest")
            if self.skip is not None:
                h = torch.cat([_act(self.skip_norm(_reflect_conv(x, self.skip))), h], dim=1)
            h = _reflect_conv(self.up_norm(h), self.up)
        return _act(self.up_norm2(h))


class Hourglass(nn.Module):
    """The DIP encoder-decoder. ``forward(z)`` maps ``[B, input_depth, H, W]`` to ``[B, C, H, W]`` in ``[0, 1]``."""

    def __init__(self, config: HourglassConfig = HourglassConfig()) -> None:
        super().__init__()
        self.config = config
        self.body = _Level(config, 0, config.input_depth)
        self.output = nn.Conv2d(config.channels[0], config.out_channels, 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.pre_activation(z))

    def pre_activation(self, z: torch.Tensor) -> torch.Tensor:
        """The output before the final sigmoid (SynFlow's ``R`` is its sum)."""
        return self.output(self.body(z))


def textbook_forward(model: Hourglass, z: torch.Tensor) -> torch.Tensor:
    """``model(z)`` computed in the order the papers draw it: convolution, pooling, upsampling, convolution.

    Slower than ``model(z)``; the reference the fused forward pass is tested and timed against.
    """

    def level(block: _Level, x: torch.Tensor) -> torch.Tensor:
        h = _act(block.down_norm(_textbook_down(x, block.down)))
        h = _act(block.down2_norm(_reflect_conv(h, block.down2)))
        if block.deeper is not None:
            h = level(block.deeper, h)
        h = F.interpolate(h, scale_factor=2, mode="nearest")
        if block.skip is not None:
            h = torch.cat([_act(block.skip_norm(_reflect_conv(x, block.skip))), h], dim=1)
        return _act(block.up_norm2(_reflect_conv(block.up_norm(h), block.up)))

    return torch.sigmoid(model.output(level(model.body, z)))


def padded_size(height: int, width: int, levels: int) -> tuple[int, int]:
    """The size an ``height x width`` image is reflect-padded to for a ``levels``-deep net."""
    step, least = 2**levels, 3 * 2**levels
    return tuple(max(least, math.ceil(side / step) * step) for side in (height, width))  # type: ignore[return-value]


def levels_for(height: int, width: int, limit: int) -> int:
    """The deepest net, at most ``limit`` levels, whose minimum side fits inside the image.

    The output is computed on a padded canvas and cropped, so any size could be served by any
    depth; capping the depth keeps a thumbnail from paying for a canvas many times its size.
    """
    return max(0, min(limit, int(math.log2(min(height, width) / 3)) if min(height, width) >= 3 else 0))


def crop(padded: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """The central ``height x width`` region of a canvas of :func:`padded_size`."""
    ph, pw = padded.shape[-2:]
    top, left = (ph - height) // 2, (pw - width) // 2
    return padded[..., top : top + height, left : left + width]


def pad_to(image: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """``image`` (``[B, C, h, w]``) reflect-padded to ``height x width`` so that :func:`crop` gives
    it back (edge-replicated where the image is too small to reflect)."""
    h, w = image.shape[-2:]
    top, left = (height - h) // 2, (width - w) // 2
    pads = (left, width - w - left, top, height - h - top)
    mode = "reflect" if max(pads[:2]) < w and max(pads[2:]) < h else "replicate"
    return F.pad(image, pads, mode=mode)


def input_noise(depth: int, height: int, width: int, generator: torch.Generator, scale: float = 0.1) -> torch.Tensor:
    """DIP's fixed input: ``[1, depth, height, width]`` drawn from U[0, scale) with ``generator``."""
    return torch.rand(1, depth, height, width, generator=generator) * scale
