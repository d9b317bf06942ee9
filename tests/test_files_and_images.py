import numpy as np
import pytest
from PIL import Image

from sparse_dip.errors import InputError
from sparse_dip.files import atomic_path, write_json
from sparse_dip.images import add_gaussian_noise, load_image, save_image


def test_an_interrupted_write_leaves_nothing(tmp_path):
    target = tmp_path / "out.json"
    with pytest.raises(KeyboardInterrupt), atomic_path(target) as temporary:
        temporary.write_text("half")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []
    write_json(target, {"a": 1})
    assert target.read_text().strip() == '{\n  "a": 1\n}'
    assert list(tmp_path.iterdir()) == [target]


def test_rgb_round_trip_is_exact_at_8_bits(tmp_path, clean_rgb):
    quantised = np.round(clean_rgb * 255) / 255
    save_image(tmp_path / "x.png", quantised)
    loaded = load_image(tmp_path / "x.png")
    assert loaded.bits == 8 and loaded.channels == 3
    assert np.abs(loaded.pixels - quantised).max() < 1e-6


def test_16_bit_grayscale_is_read_and_written_at_16_bits(tmp_path):
    ramp = (np.arange(64 * 64, dtype=np.uint16).reshape(64, 64) * 16).astype(np.uint16)
    Image.fromarray(ramp).save(tmp_path / "deep.png")
    loaded = load_image(tmp_path / "deep.png")
    assert loaded.bits == 16 and loaded.channels == 1
    save_image(tmp_path / "back.png", loaded.pixels, bits=16)
    assert np.array_equal(np.asarray(Image.open(tmp_path / "back.png")), ramp)


def test_alpha_is_dropped_with_a_warning(tmp_path):
    Image.new("RGBA", (8, 8), (10, 20, 30, 128)).save(tmp_path / "a.png")
    with pytest.warns(UserWarning, match="alpha"):
        loaded = load_image(tmp_path / "a.png")
    assert loaded.channels == 3


@pytest.mark.parametrize("content", [b"", b"not an image", b"\x89PNG\r\n\x1a\n\x00\x00"])
def test_unreadable_files_raise_input_error(tmp_path, content):
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(InputError):
        load_image(path)


def test_noise_has_the_requested_strength_and_seed():
    flat = np.full((64, 64, 3), 0.5, np.float32)
    a, b = add_gaussian_noise(flat, 25, seed=1), add_gaussian_noise(flat, 25, seed=1)
    assert np.array_equal(a, b)
    # 12288 draws: the sample std is within 0.16 (one sd) of 25, and 0.5 is 5 sigma from clipping; numpy's
    # draws are the same on any CPU. sigma on the 0-1 scale, or as a variance, is far outside.
    assert abs(np.std(a - flat) * 255 - 25) < 1
