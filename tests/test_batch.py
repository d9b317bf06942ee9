"""Many images in one call: folders with a bad file, resuming, one shared mask, sweeps, and Ray
(the same bytes as in-process; a worker killed mid-fit is retried and its output is whole)."""

from __future__ import annotations

import csv
import os
import socket
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from sparse_dip.cli import app
from sparse_dip.images import add_gaussian_noise, load_image, save_image

runner = CliRunner()
FAST = ["--steps", "6", "--mask-steps", "3"]


@pytest.fixture
def noisy_folder(tmp_path: Path, clean_rgb: np.ndarray) -> Path:
    """Three noisy 48x48 images (the astronaut, turned 0, 90 and 180 degrees) and their clean references."""
    noisy, clean = tmp_path / "noisy", tmp_path / "clean"
    noisy.mkdir()
    clean.mkdir()
    for i, name in enumerate(("a", "b", "c")):
        image = np.ascontiguousarray(np.rot90(clean_rgb, i))
        save_image(clean / f"{name}.png", image)
        save_image(noisy / f"{name}.png", add_gaussian_noise(image, 25, seed=i))
    return tmp_path


def _summary(folder: Path, name: str = "summary.csv") -> dict[str, dict]:
    with open(folder / name) as handle:
        return {row["image"]: row for row in csv.DictReader(handle)}


def test_a_bad_file_costs_no_other_image_and_a_rerun_skips_the_done_ones(noisy_folder):
    (noisy_folder / "noisy" / "c.png").write_bytes(b"not a png at all")
    out = noisy_folder / "out"
    args = ["denoise", str(noisy_folder / "noisy"), "--out-dir", str(out), "--clean-dir", str(noisy_folder / "clean")]
    result = runner.invoke(app, [*args, *FAST])
    assert result.exit_code == 1, result.output
    assert sorted(p.name for p in out.glob("*.png")) == ["a.png", "b.png"]
    rows = _summary(out)
    assert [rows[n]["status"] for n in ("a.png", "b.png", "c.png")] == ["done", "done", "failed"]
    assert "c.png" in rows["c.png"]["reason"] and "\n" not in rows["c.png"]["reason"]
    assert float(rows["a.png"]["psnr"]) > 0 and rows["c.png"]["psnr"] == "" and rows["c.png"]["output"] == ""
    assert result.output.count(str(noisy_folder / "noisy" / "c.png")) == 1  # named once in its error line
    assert "c.png" in (out / "summary.md").read_text()
    written = {p.name: p.stat().st_mtime_ns for p in out.glob("*.png")}

    again = runner.invoke(app, [*args, *FAST])
    assert again.exit_code == 1, again.output
    rows = _summary(out)
    assert [rows[n]["status"] for n in ("a.png", "b.png", "c.png")] == ["skipped", "skipped", "failed"]
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.png")} == written


def test_other_settings_are_not_skipped(noisy_folder):
    out = noisy_folder / "out"
    images = [str(noisy_folder / "noisy" / "a.png")]
    assert runner.invoke(app, ["denoise", *images, "--out-dir", str(out), *FAST]).exit_code == 0
    result = runner.invoke(app, ["denoise", *images, "--out-dir", str(out), "--seed", "1", *FAST])
    assert result.exit_code == 0, result.output
    assert _summary(out)["a.png"]["status"] == "done"


def test_share_mask_searches_once_for_many_images(noisy_folder, mask_searches):
    out = noisy_folder / "shared"
    result = runner.invoke(app, ["denoise", str(noisy_folder / "noisy"), "--out-dir", str(out), "--share-mask", *FAST])
    assert result.exit_code == 0, result.output
    assert mask_searches == ["oes"]
    assert (out / "shared-rgb.mask").exists() and len(list(out.glob("*.png"))) == 3
    # a rerun reuses the mask (and skips the images); one mask per image searches three times
    rerun = runner.invoke(app, ["denoise", str(noisy_folder / "noisy"), "--out-dir", str(out), "--share-mask", *FAST])
    assert rerun.exit_code == 0 and "reusing the shared mask" in rerun.output
    assert mask_searches == ["oes"]
    each = runner.invoke(app, ["denoise", str(noisy_folder / "noisy"), "--out-dir", str(noisy_folder / "each"), *FAST])
    assert each.exit_code == 0, each.output
    assert mask_searches == ["oes"] * 4


def test_colour_and_grayscale_images_get_a_shared_mask_each(noisy_folder, clean_rgb, mask_searches):
    gray = clean_rgb.mean(axis=2, keepdims=True)
    save_image(noisy_folder / "noisy" / "g.png", add_gaussian_noise(gray, 25, seed=4))
    out = noisy_folder / "shared"
    result = runner.invoke(app, ["denoise", str(noisy_folder / "noisy"), "--out-dir", str(out), "--share-mask", *FAST])
    assert result.exit_code == 0, result.output
    assert mask_searches == ["oes", "oes"]
    assert (out / "shared-rgb.mask").exists() and (out / "shared-gray.mask").exists()
    assert load_image(out / "g.png").channels == 1


def test_the_first_image_with_a_shared_mask_is_the_single_image_run(noisy_folder):
    """Learning the mask first and fitting with it is the same run as learning it inside."""
    image = noisy_folder / "noisy" / "a.png"
    single = noisy_folder / "single.png"
    assert runner.invoke(app, ["denoise", str(image), "--out", str(single), *FAST]).exit_code == 0
    out = noisy_folder / "shared"
    assert runner.invoke(app, ["denoise", str(image), "--out-dir", str(out), "--share-mask", *FAST]).exit_code == 0
    assert (out / "a.png").read_bytes() == single.read_bytes()


@pytest.mark.parametrize(
    "extra, message",
    [
        ([], "--out-dir"),  # two images, no output folder
        (["--out-dir", "OUT", "--out", "x.png"], "--out is for one image"),
        (["--out-dir", "OUT", "--clean", "x.png"], "--clean-dir"),
        (["--out-dir", "OUT", "--workers", "0"], "--workers"),
        (["--out-dir", "OUT", "--clean-dir", "nowhere"], "not a folder"),
    ],
)
def test_bad_batch_options_give_one_line(noisy_folder, extra, message):
    images = [str(noisy_folder / "noisy" / "a.png"), str(noisy_folder / "noisy" / "b.png")]
    extra = [str(noisy_folder / e) if e in ("OUT", "nowhere") else e for e in extra]
    result = runner.invoke(app, ["denoise", *images, *extra, *FAST])
    assert result.exit_code == 2, result.output
    assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert not (noisy_folder / "OUT").exists()


def test_batch_options_need_out_dir_for_one_image(noisy_folder):
    result = runner.invoke(app, ["denoise", str(noisy_folder / "noisy" / "a.png"), "--share-mask", *FAST])
    assert result.exit_code == 2 and "--out-dir" in result.output


def test_an_output_folder_that_is_the_input_folder_is_refused(noisy_folder):
    folder = noisy_folder / "noisy"
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    result = runner.invoke(app, ["denoise", str(folder), "--out-dir", str(folder), *FAST])
    assert result.exit_code == 2 and "holds input images" in result.output
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_two_inputs_with_one_name_are_refused_before_anything_runs(noisy_folder, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "a.png").write_bytes((noisy_folder / "noisy" / "a.png").read_bytes())
    out = noisy_folder / "out"
    result = runner.invoke(app, ["denoise", str(noisy_folder / "noisy"), str(other), "--out-dir", str(out), *FAST])
    assert result.exit_code == 2 and "rename one" in result.output
    assert not out.exists()


def test_a_glob_takes_images_only_and_16_bit_tiffs_stay_16_bit(noisy_folder, clean_rgb):
    folder = noisy_folder / "noisy"
    (folder / "notes.txt").write_text("not an image")
    save_image(folder / "d.tif", add_gaussian_noise(clean_rgb, 25, seed=3), bits=16)
    out = noisy_folder / "out"
    result = runner.invoke(app, ["denoise", str(folder / "*"), "--out-dir", str(out), *FAST])
    assert result.exit_code == 0, result.output
    assert sorted(_summary(out)) == ["a.png", "b.png", "c.png", "d.tif"]
    assert load_image(out / "d.tif").bits == 16


def test_a_clean_folder_given_on_a_rerun_scores_the_finished_images(noisy_folder):
    out = noisy_folder / "out"
    args = ["denoise", str(noisy_folder / "noisy" / "a.png"), "--out-dir", str(out), *FAST]
    assert runner.invoke(app, args).exit_code == 0
    assert _summary(out)["a.png"]["psnr"] == ""
    again = runner.invoke(app, [*args, "--clean-dir", str(noisy_folder / "clean")])
    assert again.exit_code == 0, again.output
    row = _summary(out)["a.png"]
    assert row["status"] == "skipped" and float(row["psnr"]) > 0


def test_a_shared_mask_is_kept_when_an_image_is_added(noisy_folder, mask_searches):
    out = noisy_folder / "shared"
    args = ["denoise", str(noisy_folder / "noisy"), "--out-dir", str(out), "--share-mask", *FAST]
    (noisy_folder / "a.png").write_bytes((noisy_folder / "noisy" / "a.png").read_bytes())
    (noisy_folder / "noisy" / "a.png").unlink()
    assert runner.invoke(app, args).exit_code == 0
    (noisy_folder / "noisy" / "a.png").write_bytes((noisy_folder / "a.png").read_bytes())  # sorts first
    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.output
    assert mask_searches == ["oes"]
    assert [_summary(out)[n]["status"] for n in ("a.png", "b.png", "c.png")] == ["done", "skipped", "skipped"]


def test_sweep_writes_every_grid_point_with_its_spread(noisy_folder):
    (noisy_folder / "noisy" / "b.png").unlink()
    (noisy_folder / "noisy" / "c.png").unlink()
    out = noisy_folder / "sweep"
    args = ["sweep", "--images", str(noisy_folder / "noisy"), "--out-dir", str(out)]
    args += ["--methods", "random,dense", "--sparsity", "0.9", "--seeds", "0,1"]
    args += ["--clean-dir", str(noisy_folder / "clean"), *FAST]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    with open(out / "results.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted((r["method"], r["seed"]) for r in rows) == [
        ("dense", "0"),
        ("dense", "1"),
        ("random", "0"),
        ("random", "1"),
    ]
    assert all(r["status"] == "done" and float(r["psnr"]) > 0 for r in rows)
    assert (out / "random-0.9-seed1" / "a.png").exists()
    table = (out / "results.md").read_text()
    random_row = next(line for line in table.splitlines() if "| random |" in line)
    cells = [cell.strip() for cell in random_row.strip("|").split("|")]
    assert cells[3] == "2" and float(cells[6]) >= 0  # two seeds, and their spread is a number
    again = runner.invoke(app, args)
    assert again.exit_code == 0
    with open(out / "results.csv") as handle:
        assert {r["status"] for r in csv.DictReader(handle)} == {"skipped"}


def test_sweep_refuses_an_unknown_method(noisy_folder):
    result = runner.invoke(
        app, ["sweep", "--images", str(noisy_folder / "noisy"), "--out-dir", str(noisy_folder / "o"), "--methods", "x"]
    )
    assert result.exit_code == 2 and "unknown method" in result.output


# --- Ray: a real local runtime -------------------------------------------------------------------


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray", reason="the ray extra is not installed")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_a_cluster_address_where_nothing_answers_is_one_line_before_anything_runs(noisy_folder):
    pytest.importorskip("ray", reason="the ray extra is not installed")
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    out = noisy_folder / "out"
    result = runner.invoke(
        app, ["denoise", str(noisy_folder / "noisy"), "--out-dir", str(out), "--ray-address", f"127.0.0.1:{port}"]
    )
    assert result.exit_code == 2 and "cannot reach a Ray cluster" in result.output
    assert len(result.output.strip().splitlines()) == 1 and not out.exists()


def test_ray_gives_the_same_bytes_as_in_process_and_a_bad_file_is_one_failed_row(noisy_folder, local_ray):
    folder = noisy_folder / "noisy"
    (folder / "d.png").write_bytes(b"\x89PNG but not really")
    here, there = noisy_folder / "here", noisy_folder / "there"
    common = ["--threads", "1", *FAST]
    assert runner.invoke(app, ["denoise", str(folder), "--out-dir", str(here), *common]).exit_code == 1
    result = runner.invoke(app, ["denoise", str(folder), "--out-dir", str(there), "--workers", "2", *common])
    assert result.exit_code == 1, result.output
    for name in ("a.png", "b.png", "c.png"):
        assert (here / name).read_bytes() == (there / name).read_bytes(), name
    rows = _summary(there)
    assert rows["d.png"]["status"] == "failed" and rows["d.png"]["reason"] == _summary(here)["d.png"]["reason"]


def _dies_once(run, threads=None, on_mask_step=None, on_fit_step=None):
    """The real task, but the first attempt at each image kills its worker process mid-fit."""
    from sparse_dip.batch.executor import attempt

    marker = run.out.with_suffix(".attempted")
    marker.parent.mkdir(parents=True, exist_ok=True)
    first = not marker.exists()
    marker.touch()

    def die(step, values):
        if first:
            run.out.with_suffix(".died").touch()
            os._exit(1)

    return attempt(run, threads, on_mask_step, die)


def test_a_worker_killed_mid_fit_is_retried_and_its_output_is_whole(noisy_folder, local_ray):
    from sparse_dip.batch.executor import run_on_ray
    from sparse_dip.batch.folder import plan
    from sparse_dip.restoration.pipeline import RestoreConfig
    from sparse_dip.restore_cli import run_config

    local_ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    config = run_config(RestoreConfig(), None, 0, "cpu", "fp32", 3, 60, False)
    runs = plan([noisy_folder / "noisy" / "a.png"], noisy_folder / "killed", config)
    outcomes = list(run_on_ray(runs, workers=1, threads=1, task=_dies_once))
    assert [o.status for o in outcomes] == ["done"], [o.reason for o in outcomes]
    out = noisy_folder / "killed" / "a.png"
    assert load_image(out).pixels.shape == (48, 48, 3)
    assert (noisy_folder / "killed" / "a.json").exists()
    assert (noisy_folder / "killed" / "a.died").exists()  # the first attempt did die mid-fit
    assert not list((noisy_folder / "killed").glob(".a.*"))  # no temporary left behind
