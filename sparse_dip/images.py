"""Reading, writing and corrupting images (arrays ``H x W x C`` in ``[0, 1]``).

Pillow reads and writes every format but TIFF; TIFFs go through tifffile, because Pillow
reads a 16-bit RGB TIFF as 8-bit RGB without a word. Bit depth travels with the pixels so
that a 16-bit input is restored, written and scored at 16 bits. An orientation tag (EXIF in
camera JPEGs, or a TIFF's own) is applied on read, so pixels are upright as a viewer shows
them, and outputs are written upright without a tag.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tifffile
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

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


TIFF_SUFFIXES = (".tif", ".tiff")


def is_tiff(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in TIFF_SUFFIXES


def load_image(path: str | os.PathLike) -> LoadedImage:
    """Read a grayscale or colour image; alpha is dropped with a warning, palettes expanded."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not an image")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: empty file")
    if is_tiff(path):
        return _load_tiff(path)
    try:
        with Image.open(path) as image:
            if image.mode == "RGB" and any("16" in str(tile.args) for tile in image.tile):
                warnings.warn(
                    f"{path}: Pillow reads 16-bit colour at 8 bits; save it as TIFF to keep 16", Notice, stacklevel=2
                )
            image.load()
            return _to_array(ImageOps.exif_transpose(image), path)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        if isinstance(error, InputError):
            raise
        reason = "not an image Pillow can read" if isinstance(error, UnidentifiedImageError) else str(error)
        raise InputError(f"{path}: {reason}") from None


def _load_tiff(path: Path) -> LoadedImage:
    """The first page of a TIFF: 8- or 16-bit integers, or floats in ``[0, 1]``."""
    try:
        with tifffile.TiffFile(path) as tiff:
            page = tiff.pages.first
            data, axes = page.asarray(), page.axes
            orientation = page.tags.valueof(274, 1)  # TIFF Orientation, as EXIF's
    except Exception as error:  # tifffile raises many types for damaged files; all mean "unreadable"
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise InputError(f"{path}: not a TIFF tifffile can read ({reason})") from None
    if axes.startswith("S") and data.ndim == 3:  # planar storage: samples first
        data = np.moveaxis(data, 0, -1)
    if data.ndim == 2:
        data = data[..., None]
    if data.ndim != 3 or data.shape[2] not in (1, 2, 3, 4):
        raise InputError(f"{path}: a {'x'.join(map(str, data.shape))} TIFF is not a grayscale or colour image")
    if data.shape[2] in (2, 4):
        warnings.warn(f"{path}: the alpha channel is dropped", Notice, stacklevel=3)
        data = data[..., : data.shape[2] - 1]
    data = upright(data, int(orientation))
    if data.dtype == np.uint8:
        return LoadedImage(data.astype(np.float32) / 255.0, 8)
    if data.dtype == np.uint16:
        return LoadedImage(data.astype(np.float32) / 65535.0, 16)
    if np.issubdtype(data.dtype, np.floating) and np.isfinite(data).all() and data.min() >= 0 and data.max() <= 1:
        return LoadedImage(data.astype(np.float32), 16)
    raise InputError(f"{path}: unsupported TIFF pixels ({data.dtype}); use 8- or 16-bit integers or floats in [0, 1]")


def upright(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """``H x W x C`` pixels stored with TIFF/EXIF ``orientation`` (1-8), turned as a viewer shows them.

    The same transposes as Pillow's :func:`~PIL.ImageOps.exif_transpose`; 6 is a camera held
    upright (stored rotated, shown turned 90 degrees clockwise). Unknown values change nothing.
    """
    turns = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.swapaxes(0, 1),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: a.swapaxes(0, 1)[::-1, ::-1],
        8: lambda a: np.rot90(a, 1),
    }
    return np.ascontiguousarray(turns[orientation](pixels)) if orientation in turns else pixels


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


def quantize(pixels: np.ndarray, bits: int) -> np.ndarray:
    """``pixels`` clipped to ``[0, 1]`` and rounded to ``bits`` bits, as they will be written."""
    levels = 2**bits - 1
    return (np.round(np.clip(pixels, 0.0, 1.0) * levels) / levels).astype(np.float32)


def output_suffix(path: str | os.PathLike) -> str:
    """The default output format for an input: TIFF stays TIFF (it may be 16-bit), else PNG."""
    return ".tif" if is_tiff(path) else ".png"


def save_image(path: str | os.PathLike, pixels: np.ndarray, bits: int = 8) -> None:
    """Write ``H x W x C`` pixels in ``[0, 1]`` atomically, rounded to ``bits`` (8 or 16).

    TIFF keeps 16 bits for any number of channels; PNG keeps 16 bits for grayscale only, so a
    16-bit colour image written as PNG is rounded to 8 bits with a notice.
    """
    if bits not in (8, 16):
        raise ValueError(f"bits must be 8 or 16, got {bits}")
    path = Path(path)
    data = np.clip(pixels, 0.0, 1.0)
    if data.ndim == 3 and data.shape[2] == 1:
        data = data[..., 0]
    if is_tiff(path):
        dtype = np.uint16 if bits == 16 else np.uint8
        with atomic_path(path) as temporary:
            tifffile.imwrite(temporary, np.round(data * np.iinfo(dtype).max).astype(dtype))
        return
    if bits == 16 and data.ndim == 3:
        warnings.warn(
            f"{path}: PNG holds 16-bit colour only as 8 bits here; write a .tif to keep 16", Notice, stacklevel=2
        )
        bits = 8
    if bits == 16:
        image = Image.fromarray(np.round(data * 65535).astype(np.uint16))
    else:
        image = Image.fromarray(np.round(data * 255).astype(np.uint8))
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
