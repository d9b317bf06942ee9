"""Per-layer profiles: shuffling keeps every layer's count, drawing at a profile keeps the exact
total in the profile's proportions, and the registry's ``profile`` method covers the generator."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sparse_dip.generators.hourglass import Hourglass, HourglassConfig
from sparse_dip.pruning.mask import Mask, kept_count, maskable_names
from sparse_dip.pruning.methods import Problem, ProfileConfig, find
from sparse_dip.pruning.profile import (
    average_profile,
    counts_at,
    random_at_profile,
    shuffle_within_layers,
    stored_profile,
)


def _random_mask(shapes: dict, density: float, seed: int) -> Mask:
    generator = torch.Generator().manual_seed(seed)
    return Mask({n: torch.rand(s, generator=generator) < density for n, s in shapes.items()})


SHAPES = {"a": (8, 4, 3, 3), "b": (16, 8, 3, 3), "c": (3, 16, 1, 1)}


def test_shuffling_keeps_each_layers_count_and_moves_the_entries():
    mask = _random_mask(SHAPES, 0.2, seed=0)
    shuffled = shuffle_within_layers(mask, torch.Generator().manual_seed(1))
    assert {n: int(v.sum()) for n, v in shuffled.items()} == {n: int(v.sum()) for n, v in mask.items()}
    assert shuffled != mask
    assert shuffled == shuffle_within_layers(mask, torch.Generator().manual_seed(1))


def test_the_average_profile_is_the_mean_kept_fraction_per_layer():
    masks = [_random_mask(SHAPES, d, seed=s) for s, d in enumerate((0.1, 0.3))]
    profile = average_profile(masks)
    for name in SHAPES:
        assert profile[name] == pytest.approx(sum(m.density_per_layer()[name] for m in masks) / 2)
    with pytest.raises(ValueError, match="different layers"):
        average_profile([masks[0], Mask({"a": masks[0]["a"]})])


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 500), min_size=1, max_size=8),
    weights=st.lists(st.floats(0.0, 1.0), min_size=8, max_size=8),
    density=st.floats(0.0, 1.0),
)
def test_counts_at_a_profile_sum_exactly_and_fit_in_their_layers(sizes, weights, density):
    names = [f"l{i}" for i in range(len(sizes))]
    sized = dict(zip(names, sizes))
    profile = dict(zip(names, weights))
    target = kept_count(density, sum(sizes))
    if target > sum(n for n, p in zip(sizes, weights) if p > 0):
        with pytest.raises(ValueError, match="fewer than"):
            counts_at(profile, sized, density)
        return
    counts = counts_at(profile, sized, density)
    assert sum(counts.values()) == target
    assert all(0 <= counts[n] <= sized[n] for n in names)
    assert all(counts[n] == 0 for n in names if profile[n] == 0)


def test_counts_follow_the_profile_and_a_full_layer_passes_its_excess_on():
    sizes = {"small": 100, "large": 10_000}
    counts = counts_at({"small": 0.02, "large": 0.01}, sizes, 0.01)  # twice as dense in "small"
    assert sum(counts.values()) == 101
    assert counts["small"] / 100 == pytest.approx(2 * counts["large"] / 10_000, rel=0.05)
    capped = counts_at({"small": 0.9, "large": 0.01}, sizes, 0.05)
    assert capped["small"] == 100 and capped["large"] == kept_count(0.05, 10_100) - 100


def test_a_profile_for_another_network_is_refused():
    with pytest.raises(ValueError, match="another network"):
        counts_at({"a": 0.1}, {"a": 10, "b": 10}, 0.1)


def test_a_random_mask_at_a_uniform_profile_is_uniform_per_layer():
    mask = random_at_profile(SHAPES, dict.fromkeys(SHAPES, 1.0), 0.25, torch.Generator().manual_seed(0))
    total = sum(math.prod(s) for s in SHAPES.values())
    assert mask.kept == kept_count(0.25, total)
    for name, shape in SHAPES.items():
        assert abs(int(mask[name].sum()) - 0.25 * math.prod(shape)) <= 1


def test_the_profile_method_draws_the_exact_density_at_a_given_profile():
    model = Hourglass(HourglassConfig(input_depth=4, channels=(8, 8), skip=(0, 0)))
    names = maskable_names(model)
    profile = tuple((n, 0.5 if i == 0 else 0.05) for i, n in enumerate(names))
    mask = find("profile", Problem(model, names), 0.1, ProfileConfig(densities=profile))
    assert list(mask) == names
    assert mask.kept == kept_count(0.1, mask.total)
    per_layer = mask.density_per_layer()
    assert per_layer[names[0]] > 5 * per_layer[names[-1]]


def test_the_stored_profile_covers_the_default_generator():
    model = Hourglass(HourglassConfig())
    profile = stored_profile()
    assert set(profile) == set(maskable_names(model))
    assert all(0.0 <= d <= 1.0 for d in profile.values())
    mask = find("profile", Problem(model, maskable_names(model)), 0.05)
    assert mask.kept == kept_count(0.05, mask.total)


def test_counts_at_a_profile_with_subnormal_densities_still_sum_exactly():
    """A density near the float minimum must not overflow the water-filling scale (found by hypothesis)."""
    sizes = {"l0": 1, "l1": 1, "l2": 1, "l3": 2}
    profile = {"l0": 0.0, "l1": 0.0, "l2": 1.0, "l3": 2.2250738585e-313}
    counts = counts_at(profile, sizes, 0.5)
    assert sum(counts.values()) == kept_count(0.5, 5)
    assert all(counts[n] <= sizes[n] for n in sizes)
