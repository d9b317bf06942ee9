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
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch
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
        return HourglassConfig(
            **{**asdict(self), "channels": self.channels[:levels], "skip": self.skip[:levels]}
        )

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> HourglassConfig:
        """The inverse of :meth:`to_dict` (lists from JSON become tuples)."""
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def _conv(in_ch: int, out_ch: int, kernel: int) -> nn.Sequential:
    """A reflection-padded convolution with bias."""
    pad = (kernel - 1) // 2
    layers: list[nn.Module] = [nn.ReflectionPad2d(pad)] if pad else []
    layers.append(nn.Conv2d(in_ch, out_ch, kernel, bias=True))
    return nn.Sequential(*layers)


def _norm_act(channels: int) -> list[nn.Module]:
    return [nn.BatchNorm2d(channels), nn.LeakyReLU(0.2)]


class _Concat(nn.Module):
    """Concatenate the skip branch and the deeper branch along channels."""

    def __init__(self, skip: nn.Module, deeper: nn.Module) -> None:
        super().__init__()
        self.skip = skip
        self.deeper = deeper

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.skip(x), self.deeper(x)], dim=1)


class Hourglass(nn.Module):
    """The DIP encoder-decoder. ``forward(z)`` maps ``[B, input_depth, H, W]`` to ``[B, C, H, W]`` in ``[0, 1]``."""

    def __init__(self, config: HourglassConfig = HourglassConfig()) -> None:
        super().__init__()
        self.config = config
        self.body = self._level(0, config.input_depth)
        self.head = nn.Sequential(nn.Conv2d(config.channels[0], config.out_channels, 1), nn.Sigmoid())

    def _level(self, i: int, in_ch: int) -> nn.Sequential:
        cfg = self.config
        width, skip = cfg.channels[i], cfg.skip[i]
        deeper: list[nn.Module] = [
            _conv(in_ch, width, cfg.down_kernel),
            nn.AvgPool2d(2),
            *_norm_act(width),
            _conv(width, width, cfg.down_kernel),
            *_norm_act(width),
        ]
        if i + 1 < cfg.levels:
            deeper.append(self._level(i + 1, width))
            deeper_out = cfg.channels[i + 1]
        else:
            deeper_out = width
        deeper.append(nn.Upsample(scale_factor=2, mode="nearest"))
        branch: nn.Module = nn.Sequential(*deeper)
        if skip:
            skip_branch = nn.Sequential(_conv(in_ch, skip, cfg.skip_kernel), *_norm_act(skip))
            branch = _Concat(skip_branch, branch)
        return nn.Sequential(
            branch,
            nn.BatchNorm2d(skip + deeper_out),
            _conv(skip + deeper_out, width, cfg.up_kernel),
            *_norm_act(width),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(z))

    def pre_activation(self, z: torch.Tensor) -> torch.Tensor:
        """The output before the final sigmoid (SynFlow's ``R`` is its sum)."""
        return self.head[0](self.body(z))


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


def input_noise(
    depth: int, height: int, width: int, generator: torch.Generator, scale: float = 0.1
) -> torch.Tensor:
    """DIP's fixed input: ``[1, depth, height, width]`` drawn from U[0, scale) with ``generator``."""
    return torch.rand(1, depth, height, width, generator=generator) * scale
