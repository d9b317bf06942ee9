"""The windowed-variance stopping rule: on synthetic curves with a known minimum, and in the fit."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from sparse_dip.restoration.stopping import StopConfig, WindowedVariance, average_lag


def _drive(rule: StopConfig, spread, steps: int) -> tuple[WindowedVariance, int, bool]:
    """Feed outputs whose step-to-step spread is ``spread(step)``; return where the rule ended."""
    generator = torch.Generator().manual_seed(0)
    watcher = WindowedVariance(rule, numel=4096, device=torch.device("cpu"))
    for step in range(1, steps + 1):
        noise = torch.randn(1, 1, 64, 64, generator=generator, dtype=torch.float64).float()
        watcher.add(0.5 + spread(step) * noise)
        if watcher.check(step) == "stop":
            return watcher, step, True
    return watcher, steps, False


def test_it_stops_after_the_known_minimum_plus_the_patience():
    # Spread falls linearly to its minimum at step 600, then rises: a DIP run that starts
    # fitting the noise at 600. The window (50) delays the variance minimum by at most 50 steps.
    rule = StopConfig(window=50, patience=200, warmup=100, every=10)
    watcher, last, stopped = _drive(rule, lambda s: 0.01 + abs(s - 600) / 1000, 2000)
    assert stopped
    assert 600 <= watcher.best_step <= 600 + rule.window
    assert last == watcher.best_step + rule.patience  # stops as soon as the patience runs out
    assert "lowest at step" in watcher.reason(True, last, watcher.best_step)


def test_a_dip_during_the_warm_up_is_not_taken_for_the_minimum():
    # A deep, early dip at step 150 (lower than the real minimum at 700) must be ignored.
    def spread(step: int) -> float:
        return 0.001 if 120 <= step <= 180 else 0.02 + abs(step - 700) / 1000

    rule = StopConfig(window=20, patience=150, warmup=300, every=10)
    watcher, _, stopped = _drive(rule, spread, 2000)
    assert stopped and 700 <= watcher.best_step <= 720
    without_floor = replace(rule, warmup=0)
    early, last, stopped = _drive(without_floor, spread, 2000)
    assert stopped and early.best_step < 300 and last < 500  # what the floor protects against


def test_no_stop_while_the_variance_keeps_falling():
    rule = StopConfig(window=20, patience=100, warmup=50, every=10)
    watcher, last, stopped = _drive(rule, lambda s: 1.0 / s, 800)
    assert not stopped and last == 800
    assert watcher.best_step >= 790  # the newest check is the lowest
    assert "before the minimum" in watcher.reason(False, last, last)


def test_the_average_is_taken_when_it_is_centred_on_the_window():
    # an EMA of factor 0.99 is centred 99 steps back, a window of 100 outputs 49.5 steps back
    assert average_lag(0.99, 100) == 50
    assert average_lag(0.9, 100) == 0  # a short average is already centred later than the window
    assert average_lag(None, 100) == 0


def test_the_variance_is_that_of_the_window():
    """Against numpy in float64 on the same subsample: the statistic is the mean per-value variance."""
    rule = StopConfig(window=5, every=1, samples=100)
    watcher = WindowedVariance(rule, numel=300, device=torch.device("cpu"))
    rng = np.random.default_rng(1)
    outputs = rng.random((5, 300)).astype(np.float32)
    for step, output in enumerate(outputs, start=1):
        watcher.add(torch.from_numpy(output))
        watcher.check(step)
    sampled = outputs[:, watcher.index.numpy()].astype(np.float64)
    # float32 sums of 5 values in [0, 1]: rounding ~1e-7, far below the 1e-5 allowed
    assert watcher.variances[-1] == pytest.approx(sampled.var(axis=0).mean(), abs=1e-5)
    assert len(watcher.index) == 100 and len(set(watcher.index.tolist())) == 100


def test_a_fit_with_the_rule_stops_early_and_resumes_to_the_same_image(tiny_config, noisy_rgb, clean_rgb):
    from sparse_dip.pruning.oes import OESConfig
    from sparse_dip.restoration.denoise import DenoiseConfig, denoise
    from sparse_dip.restoration.fit import FitConfig

    rule = StopConfig(window=10, patience=30, warmup=20, every=5)
    config = DenoiseConfig(
        sparsity=0.0,
        seed=3,
        generator=tiny_config,
        oes=OESConfig(steps=5),
        fit=FitConfig(steps=2000, log_every=25, lr=0.05, ema=0.9, stop=rule),  # lag 5 < patience
        device="cpu",
    )
    whole = denoise(noisy_rgb, config, clean=clean_rgb)
    stopping = whole.report["stopping"]
    assert stopping["stopped"] and whole.report["fit_steps_run"] < 2000
    minimum = stopping["variance_minimum_step"]
    assert stopping["last_step"] == minimum + rule.patience == whole.report["history"]["step"][-1]
    lag = average_lag(config.fit.ema, rule.window)
    assert stopping["chosen_step"] == min(minimum + lag, stopping["last_step"])
    saved = []
    denoise(noisy_rgb, config, clean=clean_rgb, checkpoint_every=20, on_checkpoint=saved.append)
    resumed = denoise(noisy_rgb, config, clean=clean_rgb, resume=saved[len(saved) // 2])
    assert np.array_equal(resumed.image, whole.image)  # same machine, same seed: exact
    assert resumed.report["stopping"] == stopping


def test_a_larger_step_maximum_does_not_change_a_run_that_stopped(tiny_config, noisy_rgb):
    """The constant-rate fit and the rule read only the steps so far: a run that stopped before its
    maximum is the first part of a run with four times the maximum (what quality.py's default4x uses)."""
    from sparse_dip.pruning.oes import OESConfig
    from sparse_dip.restoration.denoise import DenoiseConfig, denoise
    from sparse_dip.restoration.fit import FitConfig

    rule = StopConfig(window=10, patience=30, warmup=20, every=5)
    fit = FitConfig(steps=500, log_every=25, lr=0.05, ema=0.9, stop=rule)
    config = DenoiseConfig(sparsity=0.5, seed=1, generator=tiny_config, oes=OESConfig(steps=5), fit=fit, device="cpu")
    short = denoise(noisy_rgb, config)
    assert short.report["fit_steps_run"] < 500
    longer = denoise(noisy_rgb, replace(config, fit=replace(fit, steps=2000)))
    assert np.array_equal(longer.image, short.image)
    assert longer.report["stopping"]["chosen_step"] == short.report["stopping"]["chosen_step"]
