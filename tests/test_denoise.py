import numpy as np
import pytest

from sparse_dip import metrics
from sparse_dip.errors import InputError
from sparse_dip.pruning.oes import OESConfig
from sparse_dip.restoration.denoise import DenoiseConfig, denoise
from sparse_dip.restoration.fit import FitConfig


def _config(tiny_config, **changes) -> DenoiseConfig:
    settings = dict(
        sparsity=0.9,
        seed=7,
        generator=tiny_config,
        oes=OESConfig(steps=20, precision="fp32"),
        fit=FitConfig(steps=30, log_every=10, precision="fp32"),
        mask_side=32,
        device="cpu",
    )
    return DenoiseConfig(**{**settings, **changes})


def test_same_seed_gives_the_same_mask_and_image(tiny_config, noisy_rgb):
    first = denoise(noisy_rgb, _config(tiny_config))
    second = denoise(noisy_rgb, _config(tiny_config))
    assert first.mask == second.mask
    assert np.array_equal(first.image, second.image)
    third = denoise(noisy_rgb, _config(tiny_config, seed=8))
    assert third.mask != first.mask


def test_report_has_what_a_user_needs(tiny_config, noisy_rgb, clean_rgb):
    result = denoise(noisy_rgb, _config(tiny_config), clean=clean_rgb)
    report = result.report
    for key in (
        "sparsity",
        "seed",
        "settings",
        "versions",
        "density_per_layer",
        "seconds",
        "mask_seconds",
        "fit_seconds",
        "noisy_psnr",
        "psnr",
        "ssim",
        "history",
    ):
        assert key in report
    assert report["density"] == pytest.approx(0.1, abs=1e-4)
    assert report["mask_image_size"] == [32, 32]
    assert result.image.shape == noisy_rgb.shape
    # The scores are those of the returned image and of the input (the same computation: exact).
    assert report["psnr"] == metrics.psnr(result.image, clean_rgb)
    assert report["noisy_psnr"] == metrics.psnr(noisy_rgb, clean_rgb)
    history = report["history"]
    assert history["step"] == [10, 20, 30]
    # 30 steps do not yet beat the noisy input (that takes ~150: the test below), but the fit makes
    # progress at every log: measured loss 0.063, 0.054, 0.045 and PSNR 12.3, 13.1, 14.0 dB. Steps of
    # 15 % and 0.8 dB; a CPU's float32 rounding changes these by ~0.1 %, not by a whole step.
    assert history["loss"] == sorted(history["loss"], reverse=True)
    assert history["psnr"] == sorted(history["psnr"])
    assert len(set(history["loss"])) == len(set(history["psnr"])) == 3


def test_dense_dip_learns_no_mask(tiny_config, noisy_rgb, mask_searches):
    searches = mask_searches
    result = denoise(noisy_rgb, _config(tiny_config, sparsity=0.0))
    assert searches == []
    assert result.mask is None and result.mask_file is None
    assert result.report["density"] == 1.0 and result.report["density_per_layer"] == {}
    denoise(noisy_rgb, _config(tiny_config, fit=FitConfig(steps=1, precision="fp32")))
    assert searches == ["oes"]  # the counter sees a search when there is one


def test_a_150_step_fit_beats_the_noisy_input(tiny_config, noisy_rgb, clean_rgb):
    fit = FitConfig(steps=150, lr=0.01, ema=0.9, log_every=50, precision="fp32")
    report = denoise(noisy_rgb, _config(tiny_config, sparsity=0.0, fit=fit), clean=clean_rgb).report
    # Dense DIP, 150 steps on the 48 px astronaut (sigma 25, 20.6 dB): seeds 0-15 end 2.2 to 3.8 dB above
    # the noisy input, seed 7 (this test) 3.2 dB. Moving every input pixel by +-1e-7 (its last float32
    # bits, a perturbation like another CPU's rounding) moved that by 0.15 dB at most; 1 dB is a safe floor.
    assert report["psnr"] > report["noisy_psnr"] + 1.0


def test_grayscale_images_get_a_one_channel_generator(tiny_config, noisy_rgb):
    gray = noisy_rgb.mean(axis=2, keepdims=True)
    assert denoise(gray, _config(tiny_config)).image.shape == gray.shape


@pytest.mark.parametrize("sparsity", [-0.1, 1.0, 1.2])
def test_sparsity_outside_the_unit_interval_is_refused(sparsity):
    with pytest.raises(InputError):
        DenoiseConfig(sparsity=sparsity)


def test_too_small_an_image_is_refused(tiny_config):
    with pytest.raises(InputError, match="too small"):
        denoise(np.zeros((4, 4, 3), np.float32), _config(tiny_config))


def test_the_default_fit_stops_by_the_rule_and_the_plain_loop_does_not():
    from sparse_dip.restoration.stopping import StopConfig

    assert DenoiseConfig().fit.stop == StopConfig()  # denoise(): --steps is a maximum
    assert FitConfig().stop is None  # the loop itself (IMP levels, fixed-budget curves) runs every step


def test_mask_views_keep_scale_or_scene():
    import torch

    from sparse_dip.restoration.pipeline import mask_view

    image = torch.rand(1, 3, 96, 128)
    assert mask_view(image, 0) is image and mask_view(image, 96) is image
    assert tuple(mask_view(image, 48, "downscale").shape[-2:]) == (48, 64)
    cropped = mask_view(image, 48, "crop")
    assert tuple(cropped.shape[-2:]) == (48, 48)
    assert torch.equal(cropped, image[..., 24:72, 40:88])


@pytest.mark.parametrize("view", ["downscale", "crop"])
def test_both_mask_views_run_end_to_end(tiny_config, noisy_rgb, view):
    result = denoise(noisy_rgb, _config(tiny_config, mask_side=24, mask_view=view))
    assert result.report["mask_image_size"] == [24, 24]
    assert result.mask.kept == round(0.1 * result.mask.total)


@pytest.mark.parametrize("method", ["oes", "random", "magnitude", "snip", "grasp", "synflow", "imp"])
def test_every_mask_method_fits_at_the_exact_density(tiny_config, noisy_rgb, clean_rgb, method):
    from sparse_dip.restoration.masks import BaselineConfig

    baseline = BaselineConfig(synflow_rounds=5, imp_steps=10)
    result = denoise(noisy_rgb, _config(tiny_config, method=method, baseline=baseline), clean=clean_rgb)
    assert result.mask.kept == round(0.1 * result.mask.total)
    assert result.report["settings"]["method"] == method
    assert result.image.shape == noisy_rgb.shape and np.isfinite(result.image).all()
    # The masked generator fits: over 30 steps the loss fell by 18 % (snip) to 47 % (imp), measured.
    # A 5 % fall is far outside what a CPU's float32 rounding changes (~0.1 %).
    loss = result.report["history"]["loss"]
    assert loss[-1] < 0.95 * loss[0]


def test_imp_rewound_to_a_later_step_starts_the_fit_from_there(tiny_config, noisy_rgb):
    from sparse_dip.pruning.imp import IMPConfig
    from sparse_dip.restoration.masks import BaselineConfig

    baseline = BaselineConfig(imp=IMPConfig(rewind_step=4), imp_steps=10)
    result = denoise(noisy_rgb, _config(tiny_config, method="imp", baseline=baseline))
    assert result.mask.kept == round(0.1 * result.mask.total)
    with pytest.raises(ValueError, match="rewind step"):
        BaselineConfig(imp=IMPConfig(rewind_step=10), imp_steps=10)


def test_unknown_method_is_refused():
    with pytest.raises(InputError, match="unknown mask method"):
        DenoiseConfig(method="obd")


def test_rescaled_init_changes_the_fit_but_not_the_mask(tiny_config, noisy_rgb):
    plain = denoise(noisy_rgb, _config(tiny_config))
    rescaled = denoise(noisy_rgb, _config(tiny_config, rescale_init=True))
    assert rescaled.mask == plain.mask
    assert not np.array_equal(rescaled.image, plain.image)
    assert rescaled.report["settings"]["rescale_init"] is True


def test_a_resumed_run_ends_with_the_same_image(tiny_config, noisy_rgb, clean_rgb, tmp_path):
    import torch

    config = _config(tiny_config)
    whole = denoise(noisy_rgb, config, clean=clean_rgb)
    saved = []
    denoise(noisy_rgb, config, clean=clean_rgb, checkpoint_every=10, on_checkpoint=saved.append)
    assert [s["fit"]["step"] for s in saved] == [10, 20]
    torch.save(saved[0], tmp_path / "run.ckpt")
    state = torch.load(tmp_path / "run.ckpt", weights_only=True)  # no pickle code execution
    resumed = denoise(noisy_rgb, config, clean=clean_rgb, resume=state)
    assert np.array_equal(resumed.image, whole.image)
    assert resumed.mask == whole.mask
    assert resumed.report["history"] == whole.report["history"]


def test_a_checkpoint_is_refused_for_another_image_or_settings(tiny_config, noisy_rgb):
    saved = []
    denoise(noisy_rgb, _config(tiny_config), checkpoint_every=10, on_checkpoint=saved.append)
    with pytest.raises(InputError, match="another image"):
        denoise(noisy_rgb[::-1].copy(), _config(tiny_config), resume=saved[0])
    with pytest.raises(InputError, match="other settings"):
        denoise(noisy_rgb, _config(tiny_config, seed=8), resume=saved[0])


def test_a_diverging_loss_stops_the_run(tiny_config, noisy_rgb):
    from sparse_dip.restoration.fit import DivergedError

    broken = noisy_rgb.copy()
    broken[0, 0, 0] = np.nan
    with pytest.raises(DivergedError, match="NaN or infinite by step 10"):
        denoise(broken, _config(tiny_config, sparsity=0.0))
