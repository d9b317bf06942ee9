import pytest
import torch

from sparse_dip.generators.hourglass import Hourglass, HourglassConfig, crop, input_noise, levels_for, padded_size


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
    assert 0.0 <= out.min() and out.max() <= 1.0


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
