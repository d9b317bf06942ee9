"""Shared fixtures: tiny real images from scikit-image and tiny generators, so the suite is fast."""

from __future__ import annotations

import os
import tempfile

import numpy as np
import pytest
import torch
from skimage import data, transform

from sparse_dip.generators.hourglass import HourglassConfig
from sparse_dip.images import add_gaussian_noise

torch.set_num_threads(int(os.environ.get("SPARSE_DIP_TEST_THREADS", "2")))  # 2 cores on CI
# --precision auto caches its probes here, not in the user's home (Ray workers inherit it).
os.environ["SPARSE_DIP_CACHE"] = tempfile.mkdtemp(prefix="sparse-dip-cache-")


@pytest.fixture
def mask_searches(monkeypatch) -> list[str]:
    """Every mask search the denoising pipeline starts (the method asked for); each still runs."""
    import sparse_dip.restoration.pipeline as pipeline

    searches = []
    real = pipeline.find_mask

    def counted(method, *args, **kwargs):
        searches.append(method)
        return real(method, *args, **kwargs)

    monkeypatch.setattr(pipeline, "find_mask", counted)
    return searches


@pytest.fixture
def tiny_config() -> HourglassConfig:
    """A three-level hourglass with 8 channels per level (min side 24 px)."""
    return HourglassConfig(input_depth=8, channels=(8, 8, 8), skip=(0, 0, 0))


@pytest.fixture(scope="session")
def clean_rgb() -> np.ndarray:
    """scikit-image's astronaut, resized to 48x48, float32 in [0, 1]."""
    image = transform.resize(data.astronaut(), (48, 48), anti_aliasing=True)
    return image.astype(np.float32)


@pytest.fixture(scope="session")
def noisy_rgb(clean_rgb: np.ndarray) -> np.ndarray:
    return add_gaussian_noise(clean_rgb, 25, seed=0)
