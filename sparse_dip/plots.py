"""Figures shared by the command line and the notebooks (matplotlib, imported lazily)."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping

import numpy as np

from sparse_dip.files import atomic_path


def _pyplot():
    import matplotlib.pyplot as plt  # picks a non-interactive backend where there is no display

    return plt


def psnr_curves(
    curves: Mapping[str, tuple[list[int], list[float]]],
    levels: Mapping[str, float] | None = None,
    title: str = "PSNR against fitting step",
):
    """PSNR (dB) against step for each named curve; ``levels`` are drawn as horizontal lines
    (classic denoisers, the noisy input)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for name, (steps, values) in curves.items():
        ax.plot(steps, values, label=name, linewidth=1.6)
    styles = ["--", ":", "-.", (0, (5, 2, 1, 2))]
    for i, (name, value) in enumerate((levels or {}).items()):
        ax.axhline(value, color="0.3", linestyle=styles[i % len(styles)], linewidth=1.1, label=f"{name} ({value:.2f})")
    ax.set_xlabel("fitting step")
    ax.set_ylabel("PSNR (dB)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right", ncol=2)
    fig.tight_layout()
    return fig


def image_grid(images: Mapping[str, np.ndarray], columns: int = 4, tile: float = 3.0):
    """The images (``H x W x C`` in ``[0, 1]``) in a grid, each titled by its key."""
    plt = _pyplot()
    rows = math.ceil(len(images) / columns)
    cols = min(columns, len(images))
    fig, axes = plt.subplots(rows, cols, figsize=(tile * cols, tile * rows + 0.3), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, (title, image) in zip(axes.flat, images.items()):
        gray = image.shape[2] == 1
        ax.imshow(image[..., 0] if gray else image, cmap="gray" if gray else None, vmin=0, vmax=1)
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def save_figure(fig, path: str | os.PathLike, dpi: int = 110) -> None:
    """Write ``fig`` to ``path`` atomically and close it."""
    plt = _pyplot()
    with atomic_path(path) as temporary:
        fig.savefig(temporary, dpi=dpi)
    plt.close(fig)
