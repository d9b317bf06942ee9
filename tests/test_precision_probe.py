"""``--precision auto``: the rule on injected timings, the cache, and the report of a real run."""

from __future__ import annotations

import json

import pytest
import torch

from sparse_dip.generators.hourglass import HourglassConfig
from sparse_dip.restoration import precision_probe
from sparse_dip.restoration.precision_probe import MIN_SIDE, choose_precision, pick

CPU = torch.device("cpu")
GENERATOR = HourglassConfig()


def _timer(fp32: float, bf16: float, calls: list):
    def timer(generator, height, width, precision, device):
        calls.append((height, width, precision))
        return {"fp32": fp32, "bf16": bf16}[precision]

    return timer


@pytest.mark.parametrize(
    "fp32, bf16, expected",
    [(0.252, 0.168, "bf16"), (0.30, 0.45, "fp32"), (0.30, 0.29, "fp32"), (0.33, 0.30, "bf16")],
    ids=["epyc-like", "slower-bf16", "within-noise", "just-enough"],
)
def test_the_faster_precision_is_picked_only_beyond_the_margin(tmp_path, fp32, bf16, expected):
    calls: list = []
    found = choose_precision(GENERATOR, 512, 512, CPU, _timer(fp32, bf16, calls), tmp_path / "p.json")
    assert found["picked"] == expected == pick(fp32, bf16) and found["source"] == "probe"
    assert found["fp32_seconds"] == fp32 and found["bf16_seconds"] == bf16
    assert sorted({c[2] for c in calls}) == ["bf16", "fp32"] and all(c[:2] == (512, 512) for c in calls)


def test_a_probe_is_cached_per_size_and_a_new_version_probes_again(tmp_path, monkeypatch):
    cache = tmp_path / "precision.json"
    calls: list = []
    timer = _timer(0.3, 0.2, calls)
    first = choose_precision(GENERATOR, 256, 256, CPU, timer, cache)
    again = choose_precision(GENERATOR, 256, 256, CPU, timer, cache)
    probes = len(calls)
    assert again["source"] == "cache" and again["picked"] == first["picked"] == "bf16"
    choose_precision(GENERATOR, 512, 256, CPU, timer, cache)  # another size: its own probe
    assert len(calls) == 2 * probes and len(json.loads(cache.read_text())) == 2
    real = precision_probe.versions

    monkeypatch.setattr(precision_probe, "versions", lambda: {**real(), "torch": "99.0"})
    assert choose_precision(GENERATOR, 256, 256, CPU, timer, cache)["source"] == "probe"


def test_small_images_stay_fp32_without_a_probe(tmp_path):
    calls: list = []
    found = choose_precision(GENERATOR, MIN_SIDE - 32, 512, CPU, _timer(1.0, 0.1, calls), tmp_path / "p.json")
    assert found["picked"] == "fp32" and found["source"] == "small image" and calls == []


def test_a_real_probe_times_both_precisions(tmp_path):
    tiny = HourglassConfig(input_depth=4, channels=(4, 4), skip=(0, 0))
    found = choose_precision(tiny, MIN_SIDE, MIN_SIDE, CPU, cache=tmp_path / "p.json")
    assert found["fp32_seconds"] > 0 and found["bf16_seconds"] > 0 and found["picked"] in ("fp32", "bf16")


def test_the_cli_reports_the_precision_it_used(tmp_path, noisy_rgb):
    from typer.testing import CliRunner

    from sparse_dip.cli import app
    from sparse_dip.images import save_image

    save_image(tmp_path / "n.png", noisy_rgb)
    result = CliRunner().invoke(
        app, ["denoise", str(tmp_path / "n.png"), "--steps", "4", "--mask-steps", "2", "--precision", "auto"]
    )
    assert result.exit_code == 0, result.output
    assert "precision: mask fp32 (small image); fit fp32 (small image)" in result.output
    report = json.loads((tmp_path / "n_denoised.json").read_text())
    assert report["settings"]["auto_precision"] is True and report["precision"]["fit"]["picked"] == "fp32"


def test_a_batch_on_local_workers_probes_once_per_shape_before_they_start(tmp_path, monkeypatch):
    """Probes in parallel workers would time each other: the driver probes first, with their threads."""
    import numpy as np

    from sparse_dip.batch import folder
    from sparse_dip.images import save_image
    from sparse_dip.restoration import pipeline

    calls = []

    def fake(generator, height, width, device):
        calls.append((height, width, torch.get_num_threads()))
        return {"picked": "fp32", "fp32_seconds": 1.0, "bf16_seconds": 1.0, "source": "probe"}

    monkeypatch.setattr(pipeline, "choose_precision", fake)
    rng = np.random.default_rng(0)
    for name, side in (("a", 200), ("b", 200), ("c", 260)):
        save_image(tmp_path / f"{name}.png", rng.random((side, side, 3)).astype(np.float32))
    config = pipeline.RestoreConfig(auto_precision=True)
    runs = folder.plan(sorted(tmp_path.glob("*.png")), tmp_path / "out", config)
    before = torch.get_num_threads()
    assert folder.warm_precision(runs, threads=1) == 2  # two shapes
    assert len(calls) == 4 and all(threads == 1 for *_, threads in calls)  # mask and fit phase each
    assert torch.get_num_threads() == before
