import pytest
import torch

from sparse_dip import metrics
from sparse_dip.generators.hourglass import Hourglass, input_noise, padded_size
from sparse_dip.images import to_array, to_tensor
from sparse_dip.pruning.mask import top_k
from sparse_dip.pruning.parametrize import apply_mask
from sparse_dip.restoration.fit import FitConfig, fit


def test_psnr_on_the_device_agrees_with_scikit_image(clean_rgb, noisy_rgb):
    ours = float(metrics.psnr_torch(to_tensor(noisy_rgb), to_tensor(clean_rgb)))
    # float32 mean of 6912 squared errors against scikit-image's float64: relative error ~1e-6 on any CPU,
    # ~1e-5 dB; 1e-3 dB still catches a wrong data range or a missing log (both are dB off).
    assert ours == pytest.approx(metrics.psnr(noisy_rgb, clean_rgb), abs=1e-3)


@pytest.mark.parametrize("ema", [None, 0.9])
def test_a_masked_generator_fits_a_tiny_image(tiny_config, clean_rgb, ema):
    torch.manual_seed(0)
    model = Hourglass(tiny_config)
    scores = {n: torch.rand(p.shape) for n, p in model.named_parameters() if p.dim() > 1}
    apply_mask(model, top_k(scores, 0.5))
    target = to_tensor(clean_rgb)
    z = input_noise(8, *padded_size(48, 48, 3), torch.Generator().manual_seed(0))
    config = FitConfig(steps=150, lr=0.01, ema=ema, precision="fp32", log_every=10)
    result = fit(model, z, target, config, clean=target)
    history = result.history
    assert history.step[-1] == 150 and len(history.step) == 15
    # Measured with seeds 0-3: the loss falls to 0.08-0.09 of its first logged value, PSNR rises by
    # 10.6-11.0 dB and ends at 22.9-23.9 dB. The bounds sit 3x, 5 dB and 5 dB away from that, far beyond
    # what a CPU's float32 rounding (which perturbs a run less than a new seed does) can move.
    assert history.loss[-1] < 0.3 * history.loss[0]
    assert history.psnr[-1] > history.psnr[0] + 5
    assert result.image.shape == target.shape
    if ema is None:
        assert torch.equal(result.image, result.last)
        assert history.psnr_ema == []
    else:
        assert len(history.psnr_ema) == len(history.step)
    assert metrics.psnr(to_array(result.image).clip(0, 1), clean_rgb) > 18


def test_callback_sees_every_logged_step(tiny_config, clean_rgb, noisy_rgb):
    seen = []
    model = Hourglass(tiny_config)
    z = input_noise(8, *padded_size(48, 48, 3), torch.Generator().manual_seed(0))
    config = FitConfig(steps=7, log_every=3, precision="fp32", input_noise_std=1 / 30)
    result = fit(
        model, z, to_tensor(noisy_rgb), config, clean=to_tensor(clean_rgb), callback=lambda s, v: seen.append((s, v))
    )
    assert [s for s, _ in seen] == [3, 6, 7]
    assert set(seen[0][1]) == {"loss", "psnr", "psnr_ema"}
    # The callback sees the values the history keeps (the same floats, not recomputed ones).
    for key in ("loss", "psnr", "psnr_ema"):
        assert [v[key] for _, v in seen] == getattr(result.history, key)


def test_fit_config_rejects_non_positive_steps():
    with pytest.raises(ValueError):
        FitConfig(steps=0)


def test_the_average_is_a_weighted_mean_from_the_first_step(tiny_config, noisy_rgb):
    """Bias-corrected: after one step the average is that step's output, not a blend with zero."""
    model = Hourglass(tiny_config)
    z = input_noise(8, *padded_size(48, 48, 3), torch.Generator().manual_seed(0))
    result = fit(model, z, to_tensor(noisy_rgb), FitConfig(steps=1, ema=0.99, precision="fp32"))
    # (0.01 * x) / 0.01 is x up to a float32 rounding or two (~1e-7 relative), within allclose's 1e-5;
    # without the bias correction the average would be 0.01 * x.
    assert torch.allclose(result.image, result.last)


def test_cosine_schedule_stops_moving_the_weights_at_the_end(tiny_config, noisy_rgb):
    def last_step_change(schedule: str) -> float:
        torch.manual_seed(0)
        model = Hourglass(tiny_config)
        z = input_noise(8, *padded_size(48, 48, 3), torch.Generator().manual_seed(0))
        config = FitConfig(steps=40, lr=0.02, lr_schedule=schedule, precision="fp32")
        before = fit(model, z, to_tensor(noisy_rgb), config, record_step=39).recorded
        params = dict(model.named_parameters())
        return max(float((params[n].detach() - before[n]).abs().max()) for n in params)

    # Cosine's last learning rate is 0.15 % of the constant one; measured ratio of the moves 0.003.
    # Adam's step scales with the learning rate, so no rounding brings it near 0.05.
    assert last_step_change("cosine") < 0.05 * last_step_change("constant")
    with pytest.raises(ValueError):
        FitConfig(lr_schedule="step")
