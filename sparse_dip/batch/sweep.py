"""A grid of denoising runs, images x mask methods x sparsities x seeds, on the batch executor.

This is how the OES paper's comparisons are reproduced at scale: every combination is one
:class:`~sparse_dip.restoration.file_run.FileRun` writing into its own subfolder
(``METHOD-SPARSITY-seedSEED/IMAGE``), so a rerun skips what is done and the grid resumes like a
folder does. ``dense`` is dense DIP (one run per seed, sparsity 0).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from sparse_dip.batch.folder import plan
from sparse_dip.errors import InputError
from sparse_dip.restoration.file_run import FileRun
from sparse_dip.restoration.masks import METHODS
from sparse_dip.restoration.pipeline import RestoreConfig


def parse_list(text: str, kind: type, option: str) -> list:
    """``"a,b,c"`` as a list of ``kind``; one-line error for an empty or unparsable item."""
    items = [item.strip() for item in text.split(",")]
    if not items or any(not item for item in items):
        raise InputError(f"{option}: give a comma-separated list, got {text!r}")
    try:
        return [kind(item) for item in items]
    except ValueError:
        raise InputError(f"{option}: {text!r} is not a list of {kind.__name__} values") from None


def run_folder(method: str, sparsity: float, seed: int) -> str:
    """The subfolder of one grid point."""
    return f"dense-seed{seed}" if method == "dense" else f"{method}-{sparsity:g}-seed{seed}"


def plan_sweep(
    images: Sequence[Path],
    out_dir: Path,
    base: RestoreConfig,
    methods: Sequence[str],
    sparsities: Sequence[float],
    seeds: Sequence[int],
    clean_dir: Path | None = None,
) -> list[FileRun]:
    """Every (method, sparsity, seed) for every image, image by image within each grid point."""
    unknown = [m for m in methods if m != "dense" and m not in METHODS]
    if unknown:
        raise InputError(f"unknown method {unknown[0]!r}; choose from dense, {', '.join(METHODS)}")
    for sparsity in sparsities:
        if not 0.0 < sparsity < 1.0:
            raise InputError(f"--sparsity values must be in (0, 1), got {sparsity:g}")
    runs: list[FileRun] = []
    for method in dict.fromkeys(methods):
        grid = [0.0] if method == "dense" else list(dict.fromkeys(sparsities))
        for sparsity in grid:
            for seed in dict.fromkeys(seeds):
                config = replace(base, method="oes" if method == "dense" else method, sparsity=sparsity, seed=seed)
                labels = {"method": method, "sparsity": sparsity, "seed": seed}
                folder = out_dir / run_folder(method, sparsity, seed)
                runs += plan(images, folder, config, clean_dir=clean_dir, labels=labels)
    return runs
