"""What every benchmark shares: the shared test images, the machine description, the output files."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from sparse_dip.images import add_gaussian_noise, load_image
from sparse_dip.runtime import cpu_model, versions

ROOT = Path(__file__).resolve().parent.parent
SHARED_IMAGES = ROOT.parent / "shared" / "data" / "images"
RESULTS = ROOT / "benchmarks" / "results"


def shared_image(name: str) -> np.ndarray | None:
    """A standard test image from ``../shared/data/images`` or None when it is absent."""
    path = SHARED_IMAGES / f"{name}.png"
    return load_image(path).pixels if path.exists() else None


SPLITS = {
    # Defaults are chosen on "dev"; "test" is only reported. skimage.data images ship with
    # scikit-image, the others are the shared standard test images.
    "dev": ("pepper", "F16", "set12_01", "set12_02", "set12_03"),
    "test": ("baboon", "barbara", "set12_04", "set12_05", "set12_06", "astronaut", "chelsea", "coffee", "rocket"),
}
SKIMAGE_IMAGES = ("astronaut", "chelsea", "coffee", "rocket")


def split_images(split: str, side: int) -> dict[str, np.ndarray]:
    """The images of ``split`` that are present, as their central ``side x side`` crops
    (``side=0``: native size), float32 ``H x W x C`` in ``[0, 1]``."""
    images = {}
    for name in SPLITS[split]:
        if name in SKIMAGE_IMAGES:
            from skimage import data

            pixels = getattr(data, name)().astype(np.float32) / 255.0
        else:
            pixels = shared_image(name)
            if pixels is None:
                continue
        images[name] = central_crop(pixels, side) if side else pixels
    return images


def central_crop(pixels: np.ndarray, side: int) -> np.ndarray:
    """The central ``side x side`` region (or the whole image along a shorter axis)."""
    height, width = pixels.shape[:2]
    top, left = max(0, (height - side) // 2), max(0, (width - side) // 2)
    return np.ascontiguousarray(pixels[top : top + side, left : left + side])


def noisy_copy(clean: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    """Gaussian noise (0-255 scale), clipped and rounded to 8 bits as a user's file would be."""
    return (np.round(add_gaussian_noise(clean, sigma, seed) * 255) / 255).astype(np.float32)


def machine() -> dict:
    """The machine and library versions a result was measured with."""
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        **versions(),
    }


def write_results(name: str, markdown: str, data: dict) -> tuple[Path, Path]:
    """Write ``benchmarks/results/NAME.md`` and ``NAME.json`` with the machine description."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    info = machine()
    header = "\n".join(f"- {k}: `{v}`" for k, v in info.items())
    md_path, json_path = RESULTS / f"{name}.md", RESULTS / f"{name}.json"
    md_path.write_text(f"{markdown.rstrip()}\n\n### Machine\n{header}\n")
    json_path.write_text(json.dumps({"machine": info, **data}, indent=2) + "\n")
    return md_path, json_path


def table(header: list[str], rows: list[list]) -> str:
    """A Markdown table; floats get two decimals."""

    def cell(v) -> str:
        return f"{v:.2f}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)
