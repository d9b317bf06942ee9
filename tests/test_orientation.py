"""Photos the right way up: an EXIF (or TIFF) orientation tag is applied on read."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from PIL import Image
from typer.testing import CliRunner

from sparse_dip.cli import app
from sparse_dip.images import load_image

ORIENTATION = 0x0112  # the EXIF and TIFF tag


def _stored(height: int = 12, width: int = 20) -> np.ndarray:
    """An 8-bit RGB image with no symmetry: every pixel differs, so any wrong turn shows."""
    values = np.arange(height * width * 3, dtype=np.uint32).reshape(height, width, 3)
    return (values * 37 % 251).astype(np.uint8)


def _save_with_exif(path, pixels: np.ndarray, orientation: int, **options) -> None:
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    Image.fromarray(pixels).save(path, exif=exif, **options)


def test_orientation_6_turns_the_stored_image_90_degrees_clockwise(tmp_path):
    stored = _stored()
    _save_with_exif(tmp_path / "photo.png", stored, 6)
    shown = np.round(load_image(tmp_path / "photo.png").pixels * 255).astype(np.uint8)
    assert shown.shape == (20, 12, 3)  # width and height swap
    # Turned clockwise: the stored top-left corner is shown top-right, the bottom-left top-left.
    assert np.array_equal(shown[0, -1], stored[0, 0])
    assert np.array_equal(shown[0, 0], stored[-1, 0])
    assert np.array_equal(shown[:, -1], stored[0])  # the stored top row is the shown right column


@pytest.mark.parametrize("orientation", range(1, 9))
def test_tiff_orientation_is_applied_as_pillow_applies_exif(tmp_path, orientation):
    """Two implementations must agree: Pillow's exif_transpose (PNG) and ours (TIFF)."""
    stored = _stored()
    _save_with_exif(tmp_path / "photo.png", stored, orientation)
    tifffile.imwrite(tmp_path / "photo.tif", stored, photometric="rgb", extratags=[(ORIENTATION, "H", 1, orientation)])
    by_pillow = load_image(tmp_path / "photo.png").pixels
    by_tag = load_image(tmp_path / "photo.tif").pixels
    assert by_pillow.shape == by_tag.shape
    assert np.array_equal(by_pillow, by_tag)  # both exact: 8-bit integers divided by 255
    if orientation == 1:
        assert np.array_equal(by_tag, stored / np.float32(255))


def test_a_rotated_camera_jpeg_is_restored_upright(tmp_path):
    """A JPEG stored 200x120 with orientation 6 displays at 120x200; so must its output."""
    rng = np.random.default_rng(0)
    _save_with_exif(tmp_path / "camera.jpg", rng.integers(0, 256, (120, 200, 3), dtype=np.uint8), 6, quality=95)
    with Image.open(tmp_path / "camera.jpg") as raw:
        assert raw.size == (200, 120)  # stored sideways
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "denoise",
            str(tmp_path / "camera.jpg"),
            "--sparsity",
            "0",
            "--steps",
            "2",
            "--device",
            "cpu",
            "--out",
            str(tmp_path / "restored.png"),
        ],
    )
    assert result.exit_code == 0, result.output
    with Image.open(tmp_path / "restored.png") as restored:
        assert restored.size == (120, 200)  # width x height, as a viewer shows the input
        assert restored.getexif().get(ORIENTATION) is None  # upright pixels, no tag to apply twice
