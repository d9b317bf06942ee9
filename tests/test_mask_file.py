import json

import pytest
import torch
from mask_files import restamp_version

from sparse_dip.generators.hourglass import Hourglass
from sparse_dip.pruning.mask import maskable_names, top_k
from sparse_dip.pruning.mask_file import (
    FORMAT_VERSION,
    MAGIC,
    MaskFile,
    MaskFileError,
    decode,
    encode,
    load_mask,
    save_mask,
)


def _random_mask(model: torch.nn.Module, density: float, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    params = dict(model.named_parameters())
    scores = {n: torch.rand(params[n].shape, generator=generator) for n in maskable_names(model)}
    return top_k(scores, density)


def test_save_then_load_gives_identical_bits_and_info(tmp_path):
    model = Hourglass()
    mask = _random_mask(model, 0.05)
    info = {"method": "random", "init_seed": 3, "generator": model.config.to_dict()}
    save_mask(tmp_path / "m.mask", MaskFile(mask, info))
    loaded = load_mask(tmp_path / "m.mask")
    assert loaded.mask == mask
    assert list(loaded.mask) == list(mask)
    assert loaded.info == json.loads(json.dumps(info))


def test_a_95_percent_sparse_mask_of_the_default_generator_is_under_500_kb(tmp_path):
    # A random mask is the least compressible: any method's mask at the same density is no larger.
    model = Hourglass()
    save_mask(tmp_path / "m.mask", MaskFile(_random_mask(model, 0.05), {}))
    assert (tmp_path / "m.mask").stat().st_size <= 500 * 1024


def test_loading_runs_no_code_and_needs_no_device(tmp_path):
    data = encode(MaskFile(_random_mask(Hourglass(), 0.5), {}))
    assert b"pickle" not in data and not data.startswith(b"\x80")  # not a pickle stream
    assert all(t.device.type == "cpu" for t in decode(data).mask.values())


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "m.mask"
    save_mask(path, MaskFile(_random_mask(Hourglass(), 0.05), {"method": "random"}))
    return path


def test_a_truncated_file_is_refused(saved):
    data = saved.read_bytes()
    for cut in (5, 20, len(data) // 2, len(data) - 1):
        saved.write_bytes(data[:cut])
        with pytest.raises(MaskFileError):
            load_mask(saved)


def test_a_flipped_bit_anywhere_is_refused(saved):
    data = bytearray(saved.read_bytes())
    for position in (len(MAGIC) + 8, len(data) // 2, len(data) - 40):
        tampered = bytearray(data)
        tampered[position] ^= 0x01
        saved.write_bytes(bytes(tampered))
        with pytest.raises(MaskFileError):
            load_mask(saved)


def test_an_unknown_format_version_is_named(saved):
    restamp_version(saved, FORMAT_VERSION + 1)
    with pytest.raises(MaskFileError, match=f"version {FORMAT_VERSION + 1}"):
        load_mask(saved)


def test_files_that_are_not_masks_are_refused(tmp_path):
    (tmp_path / "text.mask").write_text("hello")
    for path in (tmp_path / "text.mask", tmp_path / "missing.mask", tmp_path):
        with pytest.raises(MaskFileError):
            load_mask(path)
