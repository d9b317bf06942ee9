"""The bad-input table: every row answered by one line on stderr, a non-zero exit, nothing written.

Each row builds its inputs in an empty folder, runs ``sparse-dip denoise`` and checks that the
command failed with one line naming the problem, that no file appeared and that no input
changed. Inputs that are handled rather than refused (alpha, palettes, 16-bit files) follow.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch
from mask_files import restamp_version
from PIL import Image
from typer.testing import CliRunner

from sparse_dip import metrics
from sparse_dip.cli import app
from sparse_dip.generators.hourglass import Hourglass, HourglassConfig
from sparse_dip.images import load_image, save_image
from sparse_dip.pruning.mask import maskable_names, top_k
from sparse_dip.pruning.mask_file import FORMAT_VERSION, MaskFile, save_mask
from sparse_dip.restoration import memory

runner = CliRunner()
FAST = ["--steps", "4", "--mask-steps", "3"]


def _noisy(folder: Path) -> Path:
    image = np.random.default_rng(0).random((48, 48, 3), dtype=np.float32)
    save_image(folder / "noisy.png", image)
    return folder / "noisy.png"


def _random_mask_file(folder: Path, generator: HourglassConfig) -> Path:
    model = Hourglass(generator)
    rng = torch.Generator().manual_seed(0)
    scores = {n: torch.rand(p.shape, generator=rng) for n, p in model.named_parameters() if n in maskable_names(model)}
    info = {"method": "random", "init_seed": 0, "generator": generator.to_dict()}
    save_mask(folder / "m.mask", MaskFile(top_k(scores, 0.05), info))
    return folder / "m.mask"


def _mask_for_another_generator(folder: Path) -> list[str]:
    other = HourglassConfig(input_depth=8, channels=(8, 16, 8), skip=(0, 0, 0), out_channels=3)
    return [str(_noisy(folder)), "--mask", str(_random_mask_file(folder, other))]


def _tampered_mask(folder: Path) -> list[str]:
    path = _random_mask_file(folder, HourglassConfig(out_channels=3).with_levels(3))
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    return [str(_noisy(folder)), "--mask", str(path)]


def _mask_from_another_version(folder: Path) -> list[str]:
    path = _random_mask_file(folder, HourglassConfig(out_channels=3).with_levels(3))
    restamp_version(path, FORMAT_VERSION + 1)
    return [str(_noisy(folder)), "--mask", str(path)]


def _file(name: str, content: bytes) -> Callable[[Path], list[str]]:
    def make(folder: Path) -> list[str]:
        (folder / name).write_bytes(content)
        return [str(folder / name)]

    return make


def _image(side: int) -> Callable[[Path], list[str]]:
    def make(folder: Path) -> list[str]:
        Image.new("RGB", (side, side), (90, 120, 150)).save(folder / "small.png")
        return [str(folder / "small.png")]

    return make


def _truncated_png(folder: Path) -> list[str]:
    data = (_noisy(folder)).read_bytes()
    (folder / "noisy.png").write_bytes(data[: len(data) // 2])
    return [str(folder / "noisy.png")]


def _options(*options: str) -> Callable[[Path], list[str]]:
    return lambda folder: [str(_noisy(folder)), *options]


def _read_only_output(folder: Path) -> list[str]:
    locked = folder / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    if os.access(locked, os.W_OK):  # root ignores permissions: use a folder no one can write in
        return [str(_noisy(folder)), "--out", "/proc/sparse_dip_out.png"]
    return [str(_noisy(folder)), "--out", str(locked / "out.png")]


def _folder(folder: Path) -> list[str]:
    (folder / "photos").mkdir()
    return [str(folder / "photos")]


ROWS: dict[str, tuple[Callable[[Path], list[str]], str]] = {
    "missing path": (lambda folder: [str(folder / "absent.png")], "no such file"),
    "a directory": (_folder, "is a folder"),
    "an empty file": (_file("empty.png", b""), "empty file"),
    "a text file named .png": (_file("notes.png", b"shopping list: eggs, milk"), "not an image"),
    "a truncated PNG": (_truncated_png, "noisy.png"),
    "a 1x1 image": (_image(1), "too small"),
    "an image below the generator's minimum": (_image(5), "too small"),
    "sparsity 1": (_options("--sparsity", "1"), "sparsity"),
    "negative sparsity": (_options("--sparsity", "-0.1"), "sparsity"),
    "zero steps": (_options("--steps", "0"), "steps"),
    "negative mask steps": (_options("--mask-steps", "-3"), "steps"),
    "a mask for another generator": (_mask_for_another_generator, "another generator"),
    "a tampered mask": (_tampered_mask, "m.mask"),
    "a mask from another version": (_mask_from_another_version, f"version {FORMAT_VERSION + 1}"),
    "an output in a read-only folder": (_read_only_output, "cannot write"),
    "output path equal to input path": (
        lambda folder: [str(_noisy(folder)), "--out", str(folder / "noisy.png")],
        "refusing to overwrite",
    ),
}


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("row", ROWS, ids=list(ROWS))
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, row):
    make, needle = ROWS[row]
    args = make(tmp_path)
    before = _snapshot(tmp_path)
    result = runner.invoke(app, ["denoise", *FAST, *args])
    assert result.exit_code != 0, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("sparse-dip: error:") and needle in lines[0], lines[0]
    assert "Traceback" not in result.output
    assert _snapshot(tmp_path) == before


def test_an_image_too_large_for_memory_is_refused_with_the_estimate(tmp_path, monkeypatch):
    monkeypatch.setattr(memory, "available_bytes", lambda device: 2**20)
    args = _options()(tmp_path)
    before = _snapshot(tmp_path)
    result = runner.invoke(app, ["denoise", *FAST, *args])
    assert result.exit_code != 0
    (line,) = result.stderr.strip().splitlines()
    assert "MiB to fit" in line and "1 MiB is free" in line
    assert _snapshot(tmp_path) == before


def test_the_memory_estimate_grows_with_the_area_and_bounds_a_real_fit():
    generator = HourglassConfig(out_channels=3)
    small, large = memory.fit_bytes(generator, 192, 192), memory.fit_bytes(generator, 384, 384)
    weights = 4 * 4 * sum(p.numel() for p in Hourglass(generator).parameters())
    assert (large - weights) == pytest.approx(4 * (small - weights), rel=0.01)
    assert memory.fit_bytes(generator, 5000, 4000) > 16 * 2**30  # a 20-megapixel scan is refused here


def _run(args: list[str]):
    result = runner.invoke(app, ["denoise", *args, *FAST, "--sparsity", "0.9"])
    assert result.exit_code == 0, result.output
    return result


def test_rgba_is_restored_as_rgb_with_a_notice(tmp_path):
    rgba = np.random.default_rng(1).integers(0, 256, (40, 40, 4), dtype=np.uint8)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "photo.png")
    result = _run([str(tmp_path / "photo.png")])
    assert "alpha channel is dropped" in result.stderr
    assert load_image(tmp_path / "photo_denoised.png").pixels.shape == (40, 40, 3)


def test_a_palette_image_is_expanded(tmp_path):
    rgb = Image.fromarray(np.random.default_rng(2).integers(0, 256, (40, 40, 3), dtype=np.uint8))
    rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=16).save(tmp_path / "palette.png")
    _run([str(tmp_path / "palette.png")])
    assert load_image(tmp_path / "palette_denoised.png").pixels.shape == (40, 40, 3)


def test_16_bit_grayscale_png_stays_16_bit(tmp_path):
    ramp = np.linspace(0, 65535, 40 * 40).reshape(40, 40).astype(np.uint16)
    Image.fromarray(ramp).save(tmp_path / "deep.png")
    _run([str(tmp_path / "deep.png")])
    out = load_image(tmp_path / "deep_denoised.png")
    assert out.bits == 16 and len(np.unique(np.asarray(Image.open(tmp_path / "deep_denoised.png")) % 257)) > 1


def test_a_16_bit_rgb_tiff_is_restored_written_and_scored_at_16_bits(tmp_path):
    rng = np.random.default_rng(3)
    clean = np.kron(rng.random((5, 5, 3)), np.ones((8, 8, 1))).astype(np.float32)
    noisy = np.clip(clean + rng.normal(0, 0.1, clean.shape), 0, 1)
    tifffile.imwrite(tmp_path / "clean.tif", np.round(clean * 65535).astype(np.uint16))
    tifffile.imwrite(tmp_path / "noisy.tif", np.round(noisy * 65535).astype(np.uint16))
    _run([str(tmp_path / "noisy.tif"), "--clean", str(tmp_path / "clean.tif")])
    written = tifffile.imread(tmp_path / "noisy_denoised.tif")
    assert written.dtype == np.uint16 and written.shape == (40, 40, 3)
    assert np.any(written % 257 != 0)  # not 8-bit values stretched to 16
    report = json.loads((tmp_path / "noisy_denoised.json").read_text())
    assert report["bits"] == 16
    reference = tifffile.imread(tmp_path / "clean.tif").astype(np.float64) / 65535
    # Scored on the 16-bit values as written: float32 there, float64 here, measured 5e-8 dB apart (rounding,
    # alike on any CPU). The same image scored at 8 bits is 3e-4 dB off: the tolerance tells them apart.
    assert report["psnr"] == pytest.approx(metrics.psnr(written / 65535, reference), abs=1e-6)
    assert report["noisy_psnr"] == pytest.approx(metrics.psnr(np.round(noisy * 65535) / 65535, reference), abs=1e-4)


def test_a_16_bit_colour_png_warns_that_pillow_reads_8_bits(tmp_path):
    pixels = np.random.default_rng(4).integers(0, 65536, (6, 6, 3), dtype=np.uint16)
    raw = b"".join(b"\x00" + row.astype(">u2").tobytes() for row in pixels)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", 6, 6, 16, 2, 0, 0, 0)  # 16 bits per sample, truecolour
    (tmp_path / "deep.png").write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    )
    with pytest.warns(UserWarning, match="TIFF to keep 16"):
        assert load_image(tmp_path / "deep.png").bits == 8
