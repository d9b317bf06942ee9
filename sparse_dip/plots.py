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
    """Write ``fig`` to ``path`` atomically and close it (a ``.jpg`` at JPEG quality 90)."""
    plt = _pyplot()
    jpeg = str(path).lower().endswith((".jpg", ".jpeg"))
    with atomic_path(path) as temporary:
        fig.savefig(
            temporary,
            dpi=dpi,
            bbox_inches="tight",
            pil_kwargs={"quality": 90} if jpeg else None,
        )
    plt.close(fig)


def density_bars(densities: Mapping[str, Mapping[str, float]], title: str = "Kept fraction per layer"):
    """Grouped bars of the kept fraction per layer: ``{mask name: {layer label: fraction}}``."""
    plt = _pyplot()
    layers = list(next(iter(densities.values())))
    width = 0.8 / len(densities)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.45 * len(layers) + 2), 4.5))
    positions = np.arange(len(layers))
    for i, (name, per_layer) in enumerate(densities.items()):
        ax.bar(
            positions + (i - (len(densities) - 1) / 2) * width,
            [per_layer.get(n, 0.0) for n in layers],
            width,
            label=name,
        )
    ax.set_xticks(positions, layers, rotation=70, ha="right", fontsize=7)
    ax.set_ylabel("kept fraction")
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    if len(densities) > 1:
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def layer_labels(shapes: Mapping[str, tuple[int, ...]]) -> dict[str, str]:
    """Short labels for parameter names: ``"3: conv 5x5 16>32"`` for a weight of shape ``[32, 16, 5, 5]``."""
    labels = {}
    for i, (name, shape) in enumerate(shapes.items(), start=1):
        if len(shape) == 4:
            labels[name] = f"{i}: conv {shape[2]}x{shape[3]} {shape[1]}>{shape[0]}"
        elif len(shape) == 2:
            labels[name] = f"{i}: linear {shape[1]}>{shape[0]}"
        else:
            labels[name] = f"{i}: {name}"
    return labels


def layer_collapse_plot(curves: Mapping[str, tuple[list[float], list[Mapping[str, float]]]]):
    """For each method, the remaining fraction of every layer against log10 compression.

    ``curves``: ``{method: (log10 compressions, [{layer: remaining fraction}, ...])}``. Layers
    are coloured by depth (colorbar); a fraction of zero (a collapsed layer) is drawn at the
    bottom edge.
    """
    plt = _pyplot()
    from matplotlib import cm, colors

    methods = list(curves)
    fig, axes = plt.subplots(
        1, len(methods), figsize=(3.0 * len(methods) + 1.0, 3.4), sharey=True, squeeze=False, layout="constrained"
    )
    first = next(iter(curves.values()))[1][0]
    norm = colors.Normalize(1, len(first))
    floor = 1e-7
    for ax, method in zip(axes[0], methods):
        xs, fractions = curves[method]
        for depth, layer in enumerate(first, start=1):
            ys = [max(f[layer], floor) for f in fractions]
            ax.plot(xs, ys, color=cm.viridis(norm(depth)), linewidth=1.2)
        ax.set_yscale("log")
        ax.set_ylim(floor * 0.8, 1.5)
        ax.set_title(method)
        ax.set_xlabel("log10 compression")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("remaining fraction of the layer")
    fig.colorbar(cm.ScalarMappable(norm=norm, cmap="viridis"), ax=axes[0].tolist(), label="layer (input to output)")
    return fig


def interpolation_plot(paths: Mapping[str, tuple[list[float], list[float]]]):
    """Test error along the line between two trained copies, one curve per rewind step."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.0))
    for name, (alphas, errors) in paths.items():
        ax.plot(alphas, [100 * e for e in errors], marker="o", markersize=3, label=name)
    ax.set_xlabel("interpolation (0: first copy, 1: second copy)")
    ax.set_ylabel("test error (%)")
    ax.set_title("Linear interpolation between two copies trained on different data orders")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
