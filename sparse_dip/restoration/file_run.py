"""One restoration from files to files: read, check, restore, write the image and its report.

This is what every restoration command runs for one image and what each task of a batch or a
sweep runs (:mod:`sparse_dip.batch`), in-process or on a Ray worker. Bad input raises a
one-line :class:`~sparse_dip.errors.InputError` before anything is written; the image, the
report and a saved mask are each written atomically, so a run that fails or is interrupted
leaves no half-written file. The report records a :func:`settings_key`; :func:`is_done` says
whether an existing output was made from the same input with the same settings, so a rerun
of a batch can skip it.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sparse_dip import metrics
from sparse_dip.errors import InputError
from sparse_dip.files import output_path, write_json
from sparse_dip.images import load_image, quantize, save_image
from sparse_dip.physics import Operator
from sparse_dip.pruning.mask_file import load_mask, save_mask
from sparse_dip.restoration.checkpoint import load_checkpoint, save_checkpoint
from sparse_dip.restoration.fit import Callback
from sparse_dip.restoration.pipeline import RestoreConfig, restore


@dataclass(frozen=True)
class FileRun:
    """What one run reads and writes: ``observed`` restored through ``operator`` into ``out``, with
    its JSON ``report``; ``clean`` scores it; ``mask`` is a mask file to fit with instead of
    learning one (``fresh_init``: new weights); ``save_mask`` also writes the learned mask;
    ``checkpoint_every`` / ``resume`` checkpoint the fit beside ``out`` (``OUT.ckpt``);
    ``extra_inputs`` are other files the operator was read from (never overwritten);
    ``labels`` are copied into the report (a sweep's method, sparsity and seed), and so is
    ``command``, the command line that asked for the run (on a Ray worker ``sys.argv`` is Ray's)."""

    observed: Path
    operator: Operator
    config: RestoreConfig
    out: Path
    report: Path
    clean: Path | None = None
    mask: Path | None = None
    fresh_init: bool = False
    save_mask: Path | None = None
    checkpoint_every: int = 0
    resume: bool = False
    extra_inputs: tuple[Path, ...] = ()
    labels: dict = field(default_factory=dict)
    command: tuple[str, ...] = field(default_factory=lambda: tuple(sys.argv))

    @property
    def checkpoint(self) -> Path:
        return self.out.with_suffix(".ckpt")

    @property
    def inputs(self) -> list[Path]:
        return [
            self.observed,
            *self.extra_inputs,
            *([self.clean] if self.clean else []),
            *([self.mask] if self.mask else []),
        ]


def _file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _mask_hash(path: Path) -> str:
    """What of a mask file decides a fit: the kept weights, the generator and the weights' seed
    (not when or how fast it was learned, so a mask learned again the same way has the same hash)."""
    mask_file = load_mask(path)
    digest = hashlib.sha256()
    for name in sorted(mask_file.mask):
        digest.update(name.encode())
        digest.update(mask_file.mask[name].detach().cpu().numpy().astype("uint8").tobytes())
    info = {k: mask_file.info.get(k) for k in ("generator", "init_seed", "method", "sparsity")}
    digest.update(json.dumps(info, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def settings_key(run: FileRun) -> str:
    """A fingerprint of everything that decides the output: the bytes of the input and of the
    files the operator was read from, the operator, the settings and the mask given (a clean
    reference only scores, so it is not in it)."""
    parts = {
        "observed": _file_hash(run.observed),
        "extra_inputs": [_file_hash(path) for path in run.extra_inputs],
        "operator": run.operator.to_dict(),
        "settings": run.config.to_dict(),
        "mask": None if run.mask is None else _mask_hash(run.mask),
        "fresh_init": run.fresh_init,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def is_done(run: FileRun) -> dict | None:
    """The report of an earlier run that wrote ``run.out`` from the same input and settings, or None."""
    if not (run.out.is_file() and run.report.is_file()):
        return None
    try:
        report = json.loads(run.report.read_text())
        same = report.get("settings_key") == settings_key(run)
    except (OSError, ValueError, AttributeError):  # MaskFileError is a ValueError
        return None
    return report if same else None


def run_file(
    run: FileRun,
    on_mask_step: Callable[[int, float], None] | None = None,
    on_fit_step: Callback | None = None,
) -> dict:
    """Restore ``run.observed`` into ``run.out`` and write the report; return the report.

    Raises :class:`~sparse_dip.errors.InputError` (one line) for bad input before anything is
    written. ``KeyboardInterrupt`` and :class:`~sparse_dip.restoration.fit.DivergedError` pass
    through, with the last checkpoint (if any) kept for ``resume``.
    """
    started = time.perf_counter()
    config = run.config
    given_mask = load_mask(run.mask) if run.mask is not None else None
    source = load_image(run.observed)
    height, width, channels = source.pixels.shape
    run.operator.check(height, width, channels)
    image_shape = (*run.operator.image_size(height, width), channels)
    reference = load_image(run.clean) if run.clean else None
    if reference is not None and reference.pixels.shape != image_shape:
        raise InputError(
            f"{run.clean}: the clean image is {reference.pixels.shape}, the restored one will be {image_shape}"
        )
    out = output_path(run.out, run.inputs)
    report_path = output_path(run.report, run.inputs)
    mask_path = None if run.save_mask is None else output_path(run.save_mask, [*run.inputs, out, report_path])
    if run.checkpoint_every < 0:
        raise InputError(f"--checkpoint-every must be non-negative, got {run.checkpoint_every}")
    state = load_checkpoint(run.checkpoint) if run.resume else None
    key = settings_key(run)

    result = restore(
        source.pixels,
        run.operator,
        config,
        clean=None if reference is None else reference.pixels,
        on_mask_step=on_mask_step,
        on_fit_step=on_fit_step,
        mask=given_mask,
        fresh_init=run.fresh_init,
        checkpoint_every=run.checkpoint_every,
        on_checkpoint=lambda s: save_checkpoint(run.checkpoint, s),
        resume=state,
    )
    save_image(out, result.image, bits=source.bits)
    summary = {**result.report, "bits": source.bits}
    if reference is not None:  # scored as written: at the file's bit depth
        written = quantize(result.image, source.bits)
        summary.update(psnr=metrics.psnr(written, reference.pixels), ssim=metrics.ssim(written, reference.pixels))
    if mask_path is not None and result.mask_file is not None:
        result.mask_file.info["source"]["file"] = str(run.observed)
        save_mask(mask_path, result.mask_file)
    summary["seconds"] = time.perf_counter() - started
    summary.update(
        input=str(run.observed),
        inputs=[str(p) for p in run.extra_inputs],
        clean=str(run.clean) if run.clean else None,
        mask=str(run.mask) if run.mask else None,
        output=str(out),
        labels=run.labels,
        settings_key=key,
        command=list(run.command),
    )
    write_json(report_path, summary)
    run.checkpoint.unlink(missing_ok=True)
    return summary
