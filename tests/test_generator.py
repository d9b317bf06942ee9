import pytest
import torch

from sparse_dip.generators import hourglass
from sparse_dip.generators.hourglass import (
    Hourglass,
    HourglassConfig,
    crop,
    input_noise,
    levels_for,
    padded_size,
    textbook_forward,
)


def test_default_generator_matches_the_oes_parameter_count():
    model = Hourglass()
    assert sum(p.numel() for p in model.parameters()) == 3_008_867
    conv_weights = sum(p.numel() for p in model.parameters() if p.dim() == 4)
    assert conv_weights == 3_003_184


@pytest.mark.parametrize("levels, expected", [(6, 3_008_867), (5, 2_040_803), (4, 1_072_739)])
def test_shallower_generators_match_the_reference_sizes(levels, expected):
    model = Hourglass(HourglassConfig().with_levels(levels))
    assert sum(p.numel() for p in model.parameters()) == expected


@pytest.mark.parametrize("height, width", [(24, 24), (30, 41), (50, 33)])
def test_any_size_is_served_through_a_padded_canvas(tiny_config, height, width):
    canvas = padded_size(height, width, tiny_config.levels)
    assert all(side % 2**tiny_config.levels == 0 and side >= tiny_config.min_side for side in canvas)
    z = input_noise(tiny_config.input_depth, *canvas, torch.Generator().manual_seed(0))
    out = crop(Hourglass(tiny_config)(z), height, width)
    assert out.shape == (1, 3, height, width)
    assert out.min() >= 0.0 and out.max() <= 1.0


def test_skip_channels_add_a_branch(tiny_config):
    with_skip = HourglassConfig(input_depth=8, channels=(8, 8, 8), skip=(4, 4, 4))
    plain = sum(p.numel() for p in Hourglass(tiny_config).parameters())
    assert sum(p.numel() for p in Hourglass(with_skip).parameters()) > plain
    z = torch.rand(1, 8, 24, 24)
    assert Hourglass(with_skip)(z).shape == (1, 3, 24, 24)


def test_small_images_get_shallower_nets():
    assert levels_for(512, 512, 6) == 6
    assert levels_for(191, 400, 6) == 5
    assert levels_for(48, 48, 6) == 4
    assert levels_for(5, 5, 6) == 0


def test_input_noise_is_seeded_and_in_range():
    a = input_noise(4, 8, 8, torch.Generator().manual_seed(3))
    b = input_noise(4, 8, 8, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    assert a.min() >= 0 and a.max() < 0.1


@pytest.mark.parametrize(
    "config",
    [
        HourglassConfig(input_depth=4, channels=(6, 8, 8), skip=(0, 0, 0)),
        HourglassConfig(input_depth=4, channels=(6, 8, 8), skip=(2, 0, 3)),
        HourglassConfig(input_depth=4, channels=(6, 8), down_kernel=3, up_kernel=5, skip=(2, 2), skip_kernel=3),
    ],
)
@pytest.mark.parametrize("fuse_from", [None, 0])
def test_fused_forward_equals_the_textbook_order(config, fuse_from, monkeypatch):
    """Pooling folded into the convolution and the upsampled 3x3 convolution run at low resolution change no number."""
    if fuse_from is not None:  # fuse at every level, not only the large ones
        monkeypatch.setattr(hourglass, "POOLED_MIN_SIDE", fuse_from)
        monkeypatch.setattr(hourglass, "UPSAMPLED_MIN_SIDE", fuse_from)
    torch.manual_seed(0)
    model = Hourglass(config).double()
    z = torch.rand(1, config.input_depth, 48, 40, dtype=torch.float64)
    fused = model(z)
    textbook = textbook_forward(model, z)
    # float64: the two orders of summation differ by ~1e-15 relative on any CPU, far below 1e-10 (1e-8 for
    # the gradients, which sum more terms); a wrong fusion (a shifted window, a lost term) is off by far more.
    torch.testing.assert_close(fused, textbook, rtol=1e-10, atol=1e-12)
    weights = torch.randn(fused.shape, dtype=torch.float64)
    grads = torch.autograd.grad((fused * weights).sum(), list(model.parameters()))
    expected = torch.autograd.grad((textbook * weights).sum(), list(model.parameters()))
    for got, want in zip(grads, expected):
        torch.testing.assert_close(got, want, rtol=1e-8, atol=1e-12)


def test_layers_are_created_in_the_textbook_order():
    """Down convolutions, deeper levels, skip, up: the order the textbook layout draws its weights
    from the seeded generator in, so a seed (the one a mask file records) gives the same weights."""
    config = HourglassConfig(input_depth=4, channels=(6, 8), skip=(2, 3))
    torch.manual_seed(0)
    model = Hourglass(config)
    torch.manual_seed(0)
    shapes = [(4, 6, 5), (6, 6, 5), (6, 8, 5), (8, 8, 5), (6, 3, 1), (11, 8, 3), (4, 2, 1), (10, 6, 3), (6, 3, 1)]
    expected = [torch.nn.Conv2d(*shape).weight for shape in shapes]
    level, deeper = model.body, model.body.deeper
    got = [
        level.down,
        level.down2,
        deeper.down,
        deeper.down2,
        deeper.skip,
        deeper.up,
        level.skip,
        level.up,
        model.output,
    ]
    for layer, weight in zip(got, expected):
        torch.testing.assert_close(layer.weight, weight, rtol=0, atol=0)
