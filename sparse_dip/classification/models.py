"""Classification networks for the pruning experiments, by name.

- ``vgg11``, ``vgg16``: the CIFAR variants with BatchNorm (Simonyan and Zisserman's widths, one
  512-to-classes linear layer after global average pooling, as open_lth and SynFlow use them).
- ``resnet20``, ``resnet32``: He et al.'s CIFAR ResNets (3 stages of 16/32/64 channels, ``n``
  basic blocks each, depth ``6n + 2``), 1x1 convolution + BatchNorm shortcuts where the shape
  changes.
- ``small_cnn``: three 3x3 convolutions and a linear layer, for tiny inputs such as scikit-learn's
  8x8 digits.

VGG and ResNet start as open_lth's and SynFlow's code starts them (:func:`reference_init`), so
layer-collapse results compare with the SynFlow paper's: PyTorch's default Kaiming-uniform
weights have bounded support, and global magnitude pruning then empties the widest layer all at
once, far earlier (10^1 against the paper's 10^2.75 on VGG-16). The small CNN keeps PyTorch's
default initialisation, under which the digits results in BENCHMARKS.md were measured.

Every model maps ``[B, C, H, W]`` to logits ``[B, classes]`` with no final nonlinearity, so
SynFlow's ``R`` is the sum of the output.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor, nn

_VGG_WIDTHS = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512],
}


def reference_init(model: nn.Module) -> nn.Module:
    """open_lth's and SynFlow's initialisation: Kaiming-normal weights, zero biases, BatchNorm 1 and 0."""
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
    return model


class VGG(nn.Module):
    """A CIFAR VGG with BatchNorm: 3x3 convolutions, four 2x max pools, global average pool, one linear layer."""

    def __init__(self, widths: list, in_channels: int = 3, classes: int = 10) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = in_channels
        for width in widths:
            if width == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                layers += [nn.Conv2d(channels, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
                channels = width
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(channels, classes)
        reference_init(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.pool(self.features(x)).flatten(1))


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with BatchNorm and a shortcut (identity, or 1x1 conv + BN when the shape changes)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU()
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False), nn.BatchNorm2d(out_channels)
            )

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class CifarResNet(nn.Module):
    """ResNet-(6n+2) for CIFAR: a 3x3 stem, three stages of ``n`` blocks (16, 32, 64 channels)."""

    def __init__(self, depth: int, in_channels: int = 3, classes: int = 10) -> None:
        super().__init__()
        if (depth - 2) % 6:
            raise ValueError(f"a CIFAR ResNet has depth 6n + 2, got {depth}")
        blocks = (depth - 2) // 6
        self.stem = nn.Sequential(nn.Conv2d(in_channels, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        stages: list[nn.Module] = []
        channels = 16
        for stage, width in enumerate((16, 32, 64)):
            for block in range(blocks):
                stride = 2 if stage > 0 and block == 0 else 1
                stages.append(BasicBlock(channels, width, stride))
                channels = width
        self.blocks = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(channels, classes)
        reference_init(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.pool(self.blocks(self.stem(x))).flatten(1))


class SmallCNN(nn.Module):
    """Three 3x3 convolutions (16, 32, 64 channels) with BatchNorm, one 2x pool, global average pool, a linear layer."""

    def __init__(self, in_channels: int = 1, classes: int = 10) -> None:
        super().__init__()

        def block(cin: int, cout: int) -> list[nn.Module]:
            return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU()]

        self.features = nn.Sequential(*block(in_channels, 16), *block(16, 32), nn.MaxPool2d(2), *block(32, 64))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(64, classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.pool(self.features(x)).flatten(1))


CLASSIFIERS: dict[str, Callable[[int, int], nn.Module]] = {
    "vgg11": lambda c, k: VGG(_VGG_WIDTHS["vgg11"], c, k),
    "vgg16": lambda c, k: VGG(_VGG_WIDTHS["vgg16"], c, k),
    "resnet20": lambda c, k: CifarResNet(20, c, k),
    "resnet32": lambda c, k: CifarResNet(32, c, k),
    "small_cnn": lambda c, k: SmallCNN(c, k),
}


def build_classifier(name: str, in_channels: int = 3, classes: int = 10) -> nn.Module:
    """The classifier registered as ``name`` (see :data:`CLASSIFIERS`)."""
    if name not in CLASSIFIERS:
        raise ValueError(f"unknown model {name!r}; choose from {', '.join(CLASSIFIERS)}")
    return CLASSIFIERS[name](in_channels, classes)
