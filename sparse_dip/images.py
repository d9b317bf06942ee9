"""Reading, writing and corrupting images (Pillow for I/O, arrays ``H x W x C`` in ``[0, 1]``)."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from sparse_dip.errors import InputError, Notice
from sparse_dip.files import atomic_path


@dataclass
class LoadedImage:
    """Pixels as float32 ``H x W x C`` (C = 1 or 3) in ``[0, 1]`` and the bit depth of the file."""

    pixels: np.ndarray
    bits: int

    @property
    def channels(self) -> int:
        return self.pixels.shape[2]


def load_image(path: str | os.PathLike) -> LoadedImage:
    """Read a grayscale or colour image; alpha is dropped with a warning, palettes expanded."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not an image")
    try:
        with Image.open(path) as image:
            image.load()
            return _to_array(image, path)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        if isinstance(error, InputError):
            raise
        reason = "not an image Pillow can read" if isinstance(error, UnidentifiedImageError) else str(error)
        raise InputError(f"{path}: {reason}") from None


def _to_array(image: Image.Image, path: Path) -> LoadedImage:
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        data = np.asarray(image).astype(np.float32)
        bits = 16 if mode.startswith("I;16") or data.max(initial=0) > 255 else 8
        return LoadedImage((data / (2**bits - 1))[..., None], bits)
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info):
        warnings.warn(f"{path}: the alpha channel is dropped", Notice, stacklevel=3)
    if mode in ("L", "LA", "1"):
        data = np.asarray(image.convert("L"))[..., None]
    elif mode == "RGB":
        data = np.asarray(image)
    else:
        data = np.asarray(image.convert("RGB"))
    if data.dtype != np.uint8:
        raise InputError(f"{path}: unsupported pixel format {mode}")
    return LoadedImage(data.astype(np.float32) / 255.0, 8)


def save_image(path: str | os.PathLike, pixels: np.ndarray, bits: int = 8) -> None:
    """Write ``H x W x C`` pixels in ``[0, 1]`` atomically, rounded to ``bits`` (8, or 16 for grayscale)."""
    path = Path(path)
    data = np.clip(pixels, 0.0, 1.0)
    if data.ndim == 3 and data.shape[2] == 1:
        data = data[..., 0]
    if bits == 16:
        if data.ndim != 2:
            raise InputError(f"{path}: 16-bit output is supported for grayscale images only")
        image = Image.fromarray(np.round(data * 65535).astype(np.uint16))
    elif bits == 8:
        image = Image.fromarray(np.round(data * 255).astype(np.uint8))
    else:
        raise ValueError(f"bits must be 8 or 16, got {bits}")
    with atomic_path(path) as temporary:
        try:
            image.save(temporary)
        except (ValueError, KeyError):
            raise InputError(f"{path}: unknown image format {path.suffix!r} (use .png or .tif)") from None


def add_gaussian_noise(pixels: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    """Additive white Gaussian noise of std ``sigma`` on the 0-255 scale, clipped to ``[0, 1]``."""
    if sigma < 0:
        raise InputError(f"sigma must be non-negative, got {sigma}")
    noise = np.random.default_rng(seed).normal(0.0, sigma / 255.0, size=pixels.shape)
    return np.clip(pixels + noise, 0.0, 1.0).astype(np.float32)


def to_tensor(pixels: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """``H x W x C`` array -> ``[1, C, H, W]`` float32 tensor."""
    return torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1)))[None].float().to(device)


def to_array(image: torch.Tensor) -> np.ndarray:
    """``[1, C, H, W]`` tensor -> ``H x W x C`` float32 array."""
    return image.detach()[0].float().cpu().numpy().transpose(1, 2, 0)
