"""Denoising many images in one call: plan the runs, share one mask, run them, keep a summary.

``plan`` turns input images into :class:`~sparse_dip.restoration.file_run.FileRun` s writing
into one folder; ``share_masks`` learns one OES mask on the first image that takes one (one for colour, one
for grayscale images)
(or reuses the one an earlier call learned there with the same settings), so N images cost one
mask search and N fits, the transfer ``BENCHMARKS.md`` measures; ``run_batch`` skips images an
earlier call finished with the same settings, runs the rest in-process or on Ray
(:mod:`sparse_dip.batch.executor`) and rewrites the summary as each one ends.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import torch

from sparse_dip.batch.executor import Outcome, Task, attempt, default_threads, run_in_process, run_on_ray, skipped
from sparse_dip.batch.inputs import check_outputs, clean_for, output_for
from sparse_dip.errors import InputError
from sparse_dip.images import load_image
from sparse_dip.physics import Identity
from sparse_dip.pruning.mask_file import MaskFileError, load_mask, save_mask
from sparse_dip.restoration.file_run import FileRun
from sparse_dip.restoration.pipeline import RestoreConfig, learn_mask_for, precision_for

SHARED_MASKS = {3: "shared-rgb.mask", 1: "shared-gray.mask"}
"""The file names of the masks ``--share-mask`` learns in the output folder: one per channel
count, since a mask is over the weights of a generator with that many output channels."""


def plan(
    images: Sequence[Path],
    out_dir: Path,
    config: RestoreConfig,
    clean_dir: Path | None = None,
    mask: Path | None = None,
    fresh_init: bool = False,
    labels: dict | None = None,
) -> list[FileRun]:
    """One denoising run per image, each writing its own name (and ``.json`` report) in ``out_dir``."""
    outputs = [output_for(image, out_dir) for image in images]
    check_outputs(images, outputs)
    return [
        FileRun(
            observed=image.absolute(),
            operator=Identity(),
            config=config,
            out=out.absolute(),
            report=out.with_suffix(".json").absolute(),
            clean=None if (c := clean_for(image, clean_dir)) is None else c.absolute(),
            mask=None if mask is None else mask.absolute(),
            fresh_init=fresh_init,
            labels=dict(labels or {}),
        )
        for image, out in zip(images, outputs)
    ]


def _mask_settings(config: RestoreConfig) -> str:
    settings = config.to_dict()
    kept = {k: settings[k] for k in ("sparsity", "method", "seed", "oes", "baseline", "fit", "mask_side", "mask_view")}
    return json.dumps(kept, sort_keys=True, default=str)


def _stored_settings(info: dict) -> str:
    kept = {"sparsity": info.get("sparsity"), **info.get("settings", {})}
    return json.dumps(kept, sort_keys=True, default=str)


def learn_shared_mask(
    runs: Sequence[FileRun],
    path: Path,
    config: RestoreConfig,
    on_mask_step: Callable[[int, float], None] | None = None,
) -> str:
    """Make ``path`` the mask file ``runs`` (images with one channel count) fit with; say how:
    ``"reused"`` or the image it was learned on.

    A mask an earlier call left at ``path`` with the same settings is reused (whichever image
    it came from, so adding or renaming images keeps every finished output). Otherwise it is
    learned on the first image that is readable and large enough.
    """
    if config.sparsity == 0:
        raise InputError("--share-mask needs a sparsity above 0 (a dense run has no mask)")
    if path.exists():
        try:
            stored = load_mask(path)
        except MaskFileError:
            stored = None
        if stored is not None and _stored_settings(stored.info) == _mask_settings(config):
            return "reused"
    reasons = []
    for run in runs:
        try:
            pixels = load_image(run.observed).pixels
            mask_file = learn_mask_for(pixels, Identity(), config, on_mask_step)
        except MemoryError:
            reasons.append(f"{run.observed.name}: out of memory")
        except Exception as error:  # this image cannot carry the mask; the next one may
            lines = str(error).strip().splitlines()
            reasons.append(f"{run.observed.name}: {lines[0] if lines else type(error).__name__}")
        else:
            mask_file.info["source"]["file"] = str(run.observed)
            save_mask(path, mask_file)
            return str(run.observed)
    raise InputError(f"no image could have the shared mask learned on it ({'; '.join(reasons[:3])})")


def share_masks(
    runs: Sequence[FileRun],
    out_dir: Path,
    config: RestoreConfig,
    on_mask_step: Callable[[int, float], None] | None = None,
) -> tuple[list[FileRun], list[str]]:
    """``runs`` with one shared mask each: one for the colour images and one for the grayscale
    ones (:data:`SHARED_MASKS`), learned or reused by :func:`learn_shared_mask`; and what was
    done, a line per mask. An image that cannot be read keeps no mask (its own run fails)."""
    channels: dict[Path, int] = {}
    for run in runs:
        try:
            channels[run.observed] = load_image(run.observed).channels
        except InputError:
            continue
    masks, said = {}, []
    for count, name in SHARED_MASKS.items():
        group = [run for run in runs if channels.get(run.observed) == count]
        if not group:
            continue
        path = out_dir / name
        source = learn_shared_mask(group, path, config, on_mask_step)
        masks[count] = path.absolute()
        said.append(f"reusing the shared mask {path}" if source == "reused" else f"learned {path} on {source}")
    shared = [replace(run, mask=masks.get(channels.get(run.observed))) for run in runs]
    return shared, said


def warm_precision(runs: Sequence[FileRun], threads: int) -> int:
    """Run ``--precision auto``'s probe here, once per image shape, with the workers' ``threads``,
    before local workers start: probes in parallel workers would time each other. Later probes
    in the workers read the cache (the same machine, threads and sizes). Returns the probes made."""
    seen: set[tuple] = set()
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        for run in runs:
            if not run.config.auto_precision:
                continue
            try:
                pixels = load_image(run.observed).pixels
            except InputError:
                continue  # its own run reports it
            key = (pixels.shape, run.mask is None)
            if key not in seen:
                seen.add(key)
                precision_for(pixels, run.operator, run.config, learns_mask=run.mask is None)
    finally:
        torch.set_num_threads(before)
    return len(seen)


def run_batch(
    runs: Sequence[FileRun],
    workers: int = 1,
    threads: int | None = None,
    address: str | None = None,
    gpus: float = 0,
    bars: Callable[[FileRun], object] | None = None,
    on_outcome: Callable[[Outcome, list[Outcome]], None] | None = None,
    task: Task = attempt,
) -> list[Outcome]:
    """Run ``runs`` (skipping those already done), calling ``on_outcome(outcome, so_far)`` as each
    ends (``so_far`` in input order); return every outcome in input order."""
    done, todo = skipped(runs)  # a rerun of the same command goes on where the last one stopped
    by_output: dict[str, Outcome] = {o.output: o for o in done}

    def so_far() -> list[Outcome]:
        return [by_output[str(r.out)] for r in runs if str(r.out) in by_output]

    for outcome in done:
        if on_outcome is not None:
            on_outcome(outcome, so_far())
    if workers == 1 and address is None:
        outcomes = run_in_process(todo, threads, bars, task)
    else:
        if address is None:  # a cluster's nodes may be other CPUs: each probes for itself
            warm_precision(todo, threads or default_threads(workers))
        outcomes = run_on_ray(todo, workers, threads, address, gpus, task)
    for outcome in outcomes:
        by_output[outcome.output] = outcome
        if on_outcome is not None:
            on_outcome(outcome, so_far())
    return so_far()
