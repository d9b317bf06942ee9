import sys

import numpy as np
import pytest

from sparse_dip import metrics
from sparse_dip.errors import InputError
from sparse_dip.pruning.oes import OESConfig
from sparse_dip.restoration.classic import classic_denoise, noise_sigma
from sparse_dip.restoration.compare import check_methods, compare, results_table
from sparse_dip.restoration.denoise import DenoiseConfig
from sparse_dip.restoration.fit import FitConfig


@pytest.mark.parametrize("name", ["tv", "nlmeans"])
def test_classic_denoisers_remove_noise(noisy_rgb, clean_rgb, name):
    out = classic_denoise(name, noisy_rgb)
    assert out.shape == noisy_rgb.shape and out.min() >= 0 and out.max() <= 1
    # Measured gains: TV 1.41 dB, NL-means 4.27 dB. scikit-image's numpy arithmetic rounds alike on any
    # x86 CPU up to ~1e-7 relative, a change of ~1e-6 dB: the 0.4 dB left for TV is ample.
    assert metrics.psnr(out, clean_rgb) > metrics.psnr(noisy_rgb, clean_rgb) + 1


@pytest.mark.parametrize("name", ["tv", "nlmeans", "bm3d"])
def test_reference_denoisers_keep_a_grayscale_image_grayscale(noisy_rgb, clean_rgb, name):
    pytest.importorskip("bm3d") if name == "bm3d" else None
    from sparse_dip.images import add_gaussian_noise

    clean_gray = clean_rgb.mean(axis=2, keepdims=True)
    gray = add_gaussian_noise(clean_gray, 25, seed=0)
    out = classic_denoise(name, gray, 25 / 255)
    assert out.shape == gray.shape  # NL-means once returned H x W for an H x W x 1 input
    assert metrics.psnr(out, clean_gray) > metrics.psnr(gray, clean_gray) + 1  # measured +1.7 (TV) to +4.8 dB (BM3D)


def test_noise_level_estimate_is_close_to_the_truth(noisy_rgb, clean_rgb):
    # The truth is the noise actually in the image: sigma 25 clipped to [0, 1] leaves 23.75. The wavelet
    # estimate (float64) gives 23.24, 2 % off; a normalisation slip by sqrt(2) would be 41 % off.
    truth = float(np.std(noisy_rgb - clean_rgb)) * 255
    assert noise_sigma(noisy_rgb) * 255 == pytest.approx(truth, rel=0.1)


def test_missing_bm3d_is_a_clear_error(noisy_rgb, monkeypatch):
    monkeypatch.setitem(sys.modules, "bm3d", None)
    with pytest.raises(InputError, match="pip install bm3d"):
        classic_denoise("bm3d", noisy_rgb, 0.1)


def test_method_lists_are_checked():
    assert check_methods(["dense", "oes", "dense", "tv"]) == ["dense", "oes", "tv"]
    with pytest.raises(InputError, match="obd"):
        check_methods(["oes", "obd"])


def test_compare_runs_every_method_from_the_same_start(tiny_config, noisy_rgb, clean_rgb):
    config = DenoiseConfig(
        sparsity=0.8,
        seed=1,
        generator=tiny_config,
        oes=OESConfig(steps=5, precision="fp32"),
        fit=FitConfig(steps=20, log_every=10, precision="fp32"),
        mask_side=32,
        device="cpu",
    )
    order = []
    results = compare(
        noisy_rgb, ["dense", "random", "tv"], config, clean=clean_rgb, on_result=lambda name, row: order.append(name)
    )
    assert order == ["dense", "random", "tv"]
    assert results["dense"].density == 1.0 and results["random"].density == pytest.approx(0.2, abs=1e-3)
    assert results["tv"].history is None and results["random"].history["step"] == [10, 20]
    assert results["dense"].report["settings"]["seed"] == results["random"].report["settings"]["seed"] == 1
    table = results_table(results, metrics.psnr(noisy_rgb, clean_rgb))
    assert table.count("\n") == 5 and "| random | 0.2" in table
