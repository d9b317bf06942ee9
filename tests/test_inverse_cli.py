"""``sparse-dip inpaint``, ``superres`` and ``deblur``: outputs of the image's size, reports that
name the operator, and bad operator inputs answered by one line, exit 2 and nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from sparse_dip.cli import app
from sparse_dip.images import load_image, save_image, to_array, to_tensor
from sparse_dip.physics import Blur, Downsampling, gaussian_kernel

runner = CliRunner()
FAST = ["--steps", "6", "--mask-steps", "3"]


def _holes(side: int, seed: int = 0) -> np.ndarray:
    """An 8-bit hole mask: white observed, black missing (about a third)."""
    observed = np.random.default_rng(seed).random((side, side)) > 0.33
    return observed.astype(np.float32)[..., None]


@pytest.fixture
def folder(tmp_path: Path, clean_rgb: np.ndarray) -> Path:
    save_image(tmp_path / "clean.png", clean_rgb)
    holes = _holes(48)
    save_image(tmp_path / "holes.png", holes)
    save_image(tmp_path / "damaged.png", clean_rgb * holes)
    with torch.no_grad():
        small = to_array(Downsampling(2)(to_tensor(clean_rgb, "cpu")))
        blurred = to_array(
            Blur(torch.as_tensor(gaussian_kernel(1.0), dtype=torch.float32))(to_tensor(clean_rgb, "cpu"))
        )
    save_image(tmp_path / "small.png", small.clip(0, 1))
    save_image(tmp_path / "blurred.png", blurred.clip(0, 1))
    return tmp_path


def _ok(args: list[str]):
    result = runner.invoke(app, [*args, *FAST])
    assert result.exit_code == 0, result.output
    return result


def test_inpaint_writes_the_image_and_names_the_operator(folder):
    _ok(
        [
            "inpaint",
            str(folder / "damaged.png"),
            "--holes",
            str(folder / "holes.png"),
            "--clean",
            str(folder / "clean.png"),
        ]
    )
    out = folder / "damaged_inpainted.png"
    assert load_image(out).pixels.shape == (48, 48, 3)
    report = json.loads(out.with_suffix(".json").read_text())
    assert report["operator"]["name"] == "inpainting"
    assert np.isfinite(report["psnr"]) and "noisy_psnr" not in report


def test_superres_outputs_the_high_resolution_size(folder):
    _ok(["superres", str(folder / "small.png"), "--scale", "2", "--clean", str(folder / "clean.png")])
    out = folder / "small_x2.png"
    assert load_image(out).pixels.shape == (48, 48, 3)
    report = json.loads(out.with_suffix(".json").read_text())
    assert report["operator"] == {"name": "downsampling", "factor": 2}
    assert report["observation"]["height"] == 24 and report["image"]["height"] == 48


def test_deblur_with_a_kernel_file_and_a_valid_boundary_grows_the_image(folder):
    np.save(folder / "k.npy", np.ones((3, 5), dtype=np.float32) / 15)
    _ok(["deblur", str(folder / "blurred.png"), "--kernel", str(folder / "k.npy"), "--boundary", "valid"])
    out = folder / "blurred_deblurred.png"
    assert load_image(out).pixels.shape == (50, 52, 3)  # 48 + 3 - 1, 48 + 5 - 1
    report = json.loads(out.with_suffix(".json").read_text())
    assert report["operator"]["boundary"] == "valid" and report["operator"]["kernel_size"] == [3, 5]


def _bad_holes(side: int):
    def make(folder: Path) -> list[str]:
        save_image(folder / "other.png", _holes(side))
        return ["inpaint", str(folder / "damaged.png"), "--holes", str(folder / "other.png")]

    return make


def _all_black_holes(folder: Path) -> list[str]:
    save_image(folder / "black.png", np.zeros((48, 48, 1), np.float32))
    return ["inpaint", str(folder / "damaged.png"), "--holes", str(folder / "black.png")]


def _kernel_file(name: str, kernel: np.ndarray | None):
    def make(folder: Path) -> list[str]:
        if kernel is not None:
            np.save(folder / name, kernel)
        return ["deblur", str(folder / "blurred.png"), "--kernel", str(folder / name)]

    return make


ROWS = {
    "a hole mask of another size": (_bad_holes(40), "the hole mask is 40x40"),
    "a hole mask with nothing observed": (_all_black_holes, "every pixel missing"),
    "a missing hole mask": (lambda f: ["inpaint", str(f / "damaged.png"), "--holes", str(f / "none.png")], "no such"),
    "a scale of 5": (lambda f: ["superres", str(f / "small.png"), "--scale", "5"], "scale must be one of 2, 3, 4"),
    "a scale of 1": (lambda f: ["superres", str(f / "small.png"), "--scale", "1"], "scale must be one of"),
    "a kernel larger than the image": (_kernel_file("big.npy", np.ones((60, 60), np.float32)), "larger than"),
    "a 3-D kernel": (_kernel_file("cube.npy", np.ones((3, 3, 3), np.float32)), "2-D"),
    "a kernel with NaN": (_kernel_file("nan.npy", np.full((3, 3), np.nan, np.float32)), "NaN"),
    "a missing kernel file": (_kernel_file("absent.npy", None), "no such kernel file"),
    "a kernel that is not .npy": (lambda f: ["deblur", str(f / "blurred.png"), "--kernel", "k.txt"], "gaussian:SIGMA"),
    "a negative Gaussian sigma": (lambda f: ["deblur", str(f / "blurred.png"), "--kernel", "gaussian:-1"], "positive"),
    "a Gaussian without a number": (
        lambda f: ["deblur", str(f / "blurred.png"), "--kernel", "gaussian:x"],
        "gaussian:SIGMA",
    ),
    "an unknown boundary": (
        lambda f: ["deblur", str(f / "blurred.png"), "--kernel", "gaussian:1", "--boundary", "mirror"],
        "boundary",
    ),
}


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.mark.parametrize("row", ROWS, ids=list(ROWS))
def test_bad_operator_input_is_one_line_exit_2_and_writes_nothing(folder, row):
    make, needle = ROWS[row]
    args = make(folder)
    before = _snapshot(folder)
    result = runner.invoke(app, [*args, *FAST])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("sparse-dip: error:") and needle in lines[0], lines[0]
    assert "Traceback" not in result.output
    assert _snapshot(folder) == before


def test_compare_with_a_task_runs_its_classic_baseline_beside_the_dip_methods(folder):
    out = folder / "cmp"
    args = ["compare", str(folder / "small.png"), "--task", "superres", "--scale", "2", "--methods", "oes,bicubic"]
    result = runner.invoke(app, [*args, "--clean", str(folder / "clean.png"), "--out", str(out), *FAST])
    assert result.exit_code == 0, result.output
    results = json.loads((out / "results.json").read_text())
    assert set(results) == {"oes", "bicubic"}
    assert all(np.isfinite(row["final_psnr"]) for row in results.values())
    assert load_image(out / "oes.png").pixels.shape == (48, 48, 3)
    assert json.loads((out / "run.json").read_text())["operator"] == {"name": "downsampling", "factor": 2}


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--task", "denoise", "--methods", "bicubic"], "unknown method(s) bicubic"),
        (["--task", "inpaint", "--methods", "oes"], "needs --holes"),
        (["--task", "deblur", "--methods", "wiener"], "needs --kernel"),
        (["--task", "paint", "--methods", "oes"], "--task must be one of"),
    ],
)
def test_compare_refuses_a_method_or_task_it_cannot_run(folder, args, needle):
    before = _snapshot(folder)
    result = runner.invoke(app, ["compare", str(folder / "small.png"), *args, "--out", str(folder / "cmp"), *FAST])
    assert result.exit_code == 2, result.output
    assert needle in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert _snapshot(folder) == before and not (folder / "cmp").exists()


@pytest.mark.parametrize("flag, stops", [([], False), (["--stop"], True)])
def test_inpaint_runs_every_step_unless_asked_to_stop_early(folder, flag, stops):
    """The stopping rule detects fitting noise, so the noise-free tasks run every step by default."""
    _ok(["inpaint", str(folder / "damaged.png"), "--holes", str(folder / "holes.png"), *flag])
    report = json.loads((folder / "damaged_inpainted.json").read_text())
    assert (report["settings"]["fit"]["stop"] is not None) is stops
    assert (report["stopping"] is not None) is stops
    assert report["fit_steps_run"] == 6


def test_the_default_settings_stop_early_for_denoising_only():
    from sparse_dip.physics import Identity, Inpainting
    from sparse_dip.restoration.pipeline import RestoreConfig

    assert RestoreConfig.for_operator(Identity()).fit.stop is not None
    for operator in (Inpainting.from_array(np.ones((8, 8), bool)), Downsampling(2), Blur(torch.ones(3, 3) / 9)):
        config = RestoreConfig.for_operator(operator, seed=3)
        assert config.fit.stop is None and config.seed == 3
