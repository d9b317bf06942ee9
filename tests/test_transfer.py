import json

import numpy as np
import pytest
from skimage import data, transform
from typer.testing import CliRunner

from sparse_dip.cli import app
from sparse_dip.errors import InputError
from sparse_dip.generators.hourglass import HourglassConfig
from sparse_dip.images import add_gaussian_noise, save_image
from sparse_dip.pruning.mask_file import load_mask
from sparse_dip.pruning.oes import OESConfig
from sparse_dip.restoration.denoise import DenoiseConfig, denoise, learn_image_mask
from sparse_dip.restoration.fit import FitConfig

runner = CliRunner()


def _config(tiny_config, **changes) -> DenoiseConfig:
    settings = dict(
        sparsity=0.9,
        seed=5,
        generator=tiny_config,
        oes=OESConfig(steps=15, precision="fp32"),
        fit=FitConfig(steps=20, log_every=10, precision="fp32"),
        mask_side=32,
        device="cpu",
    )
    return DenoiseConfig(**{**settings, **changes})


def _camera(side: int) -> np.ndarray:
    image = transform.resize(data.camera(), (side, side), anti_aliasing=True)[..., None].astype(np.float32)
    return add_gaussian_noise(image, 25, seed=1)


def test_a_stored_mask_reproduces_the_run_that_found_it(tiny_config, noisy_rgb, mask_searches):
    searches = mask_searches
    config = _config(tiny_config)
    found = learn_image_mask(noisy_rgb, config)
    whole = denoise(noisy_rgb, config)
    assert searches == ["oes", "oes"]
    reused = denoise(noisy_rgb, config, mask=found)
    assert searches == ["oes", "oes"]  # no mask search with a stored mask
    # Same computation on the same machine (CPU, one seed): identical, not merely close.
    assert found.mask == whole.mask
    assert np.array_equal(reused.image, whole.image)


def test_fresh_init_keeps_the_mask_and_changes_the_weights(tiny_config, noisy_rgb):
    config = _config(tiny_config)
    found = learn_image_mask(noisy_rgb, config)
    stored = denoise(noisy_rgb, config, mask=found)
    fresh = denoise(noisy_rgb, config, mask=found, fresh_init=True)
    assert fresh.mask == found.mask
    assert not np.array_equal(fresh.image, stored.image)
    assert fresh.report["mask_source"]["fresh_init"] is True


def test_a_mask_carries_across_image_sizes(tiny_config, noisy_rgb):
    config = _config(tiny_config)
    found = learn_image_mask(noisy_rgb, config)  # 48x48, mask learned at 32 px
    bigger = transform.resize(noisy_rgb, (80, 72), anti_aliasing=True).astype(np.float32)
    result = denoise(bigger, config, mask=found)
    assert result.image.shape == bigger.shape
    assert result.report["density"] == pytest.approx(found.mask.density)


def test_a_mask_for_other_images_or_another_generator_is_refused(tiny_config, noisy_rgb):
    config = _config(tiny_config)
    found = learn_image_mask(noisy_rgb, config)
    with pytest.raises(InputError, match="3-channel"):
        denoise(_camera(48), config, mask=found)
    wider = HourglassConfig(input_depth=8, channels=(8, 16, 8), skip=(0, 0, 0))
    with pytest.raises(InputError, match="another generator"):
        denoise(noisy_rgb, _config(tiny_config, generator=wider), mask=found)
    with pytest.raises(InputError, match="at least"):
        denoise(noisy_rgb[:20, :20], config, mask=found)


@pytest.fixture
def noisy_file(tmp_path):
    save_image(tmp_path / "camera.png", _camera(64))
    return tmp_path / "camera.png"


def test_cli_find_inspect_and_denoise_with_a_mask(tmp_path, noisy_file):
    mask_path = tmp_path / "camera.mask"
    found = runner.invoke(
        app,
        [
            "find-mask",
            str(noisy_file),
            "--sparsity",
            "0.9",
            "--mask-steps",
            "5",
            "--out",
            str(mask_path),
            "--seed",
            "2",
        ],
    )
    assert found.exit_code == 0, found.output
    stored = load_mask(mask_path)
    assert stored.mask.density == pytest.approx(0.1, abs=1e-6)
    assert stored.info["init_seed"] == 2 and stored.info["method"] == "oes"
    assert stored.info["source"]["height"] == 64

    plot = tmp_path / "density.png"
    shown = runner.invoke(app, ["inspect-mask", str(mask_path), "--plot", str(plot)])
    assert shown.exit_code == 0, shown.output
    assert "density 0.1000" in shown.output and plot.stat().st_size > 0

    out = tmp_path / "restored.png"
    used = runner.invoke(app, ["denoise", str(noisy_file), "--mask", str(mask_path), "--steps", "5", "--out", str(out)])
    assert used.exit_code == 0, used.output
    report = json.loads(out.with_suffix(".json").read_text())
    assert report["density"] == pytest.approx(0.1, abs=1e-6)
    assert report["mask_source"]["init_seed"] == 2


def test_cli_refuses_bad_mask_files_in_one_line_writing_nothing(tmp_path, noisy_file):
    mask_path = tmp_path / "camera.mask"
    assert (
        runner.invoke(app, ["find-mask", str(noisy_file), "--method", "random", "--out", str(mask_path)]).exit_code == 0
    )
    data = mask_path.read_bytes()
    cases = {
        "truncated": data[: len(data) // 2],
        "tampered": data[:100] + bytes([data[100] ^ 0xFF]) + data[101:],
        "not a mask": b"hello, world",
    }
    for name, content in cases.items():
        bad = tmp_path / f"{name}.mask"
        bad.write_bytes(content)
        out = tmp_path / f"{name}.png"
        result = runner.invoke(app, ["denoise", str(noisy_file), "--mask", str(bad), "--steps", "3", "--out", str(out)])
        assert result.exit_code != 0
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "Traceback" not in result.output
        assert not out.exists() and not out.with_suffix(".json").exists()
    rgb = tmp_path / "rgb.png"
    save_image(rgb, np.repeat(_camera(64), 3, axis=2))
    result = runner.invoke(
        app, ["denoise", str(rgb), "--mask", str(mask_path), "--steps", "3", "--out", str(tmp_path / "x.png")]
    )
    assert result.exit_code != 0 and "channel" in result.stderr and not (tmp_path / "x.png").exists()
