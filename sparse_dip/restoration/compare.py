"""Methods side by side on one observation: dense DIP, Sparse-DIP with each mask method, classic baselines.

Every DIP method runs through :func:`~sparse_dip.restoration.pipeline.restore` with the same
forward operator and config (seed, so the same initial weights and input noise, and the same
fitting settings); only the mask differs. The classic methods for that operator join as
reference rows: denoisers (:mod:`sparse_dip.restoration.classic`) for the identity, biharmonic
inpainting, bicubic upsampling or Wiener / Richardson-Lucy deconvolution
(:mod:`sparse_dip.restoration.classic_inverse`) for the others. With a clean image, each row
has its final PSNR/SSIM and, for DIP methods, the best PSNR on the way and its step (an oracle
a user does not have).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from sparse_dip import metrics
from sparse_dip.errors import InputError
from sparse_dip.physics import Identity, Operator
from sparse_dip.restoration.classic import CLASSIC, classic_denoise
from sparse_dip.restoration.classic_inverse import BASELINES, classic_restore
from sparse_dip.restoration.fit import Callback
from sparse_dip.restoration.masks import METHODS as MASK_METHODS
from sparse_dip.restoration.pipeline import RestoreConfig, restore

DIP_METHODS = ("dense", *MASK_METHODS)
ALL_METHODS = (*DIP_METHODS, *CLASSIC)
"""The methods of a denoising comparison (other operators: :func:`methods_for`)."""
IDENTITY = Identity()


def classic_methods(operator: Operator = IDENTITY) -> tuple[str, ...]:
    """The classic reference methods for ``operator``."""
    return CLASSIC if isinstance(operator, Identity) else tuple(BASELINES.get(operator.name, {}))


def methods_for(operator: Operator = IDENTITY) -> tuple[str, ...]:
    """Every method a comparison can run for ``operator``: the DIP methods and its classic ones."""
    return (*DIP_METHODS, *classic_methods(operator))


@dataclass
class MethodResult:
    """One row of a comparison. PSNR/SSIM fields are None without a clean image; ``history``
    (steps and PSNR every ``log_every`` steps) is None for classic denoisers."""

    method: str
    image: np.ndarray
    seconds: float
    density: float
    final_psnr: float | None = None
    final_ssim: float | None = None
    best_psnr: float | None = None
    best_step: int | None = None
    history: dict | None = None
    report: dict | None = None

    def summary(self) -> dict:
        """The row as ``results.json`` stores it."""
        return {
            "final_psnr": self.final_psnr,
            "best_psnr": self.best_psnr,
            "best_step": self.best_step,
            "final_ssim": self.final_ssim,
            "seconds": self.seconds,
            "density": self.density,
        }


def check_methods(methods: Sequence[str], operator: Operator = IDENTITY) -> list[str]:
    """``methods`` without duplicates, or an :class:`InputError` naming an unknown one."""
    known = methods_for(operator)
    unknown = [m for m in methods if m not in known]
    if unknown:
        task = "" if isinstance(operator, Identity) else f" for {operator.name}"
        raise InputError(f"unknown method(s){task} {', '.join(unknown)}; choose from {', '.join(known)}")
    if not methods:
        raise InputError("no methods given")
    return list(dict.fromkeys(methods))


def run_method(
    method: str,
    observed: np.ndarray,
    config: RestoreConfig,
    clean: np.ndarray | None = None,
    sigma: float | None = None,
    on_mask_step: Callable[[int, float], None] | None = None,
    on_fit_step: Callback | None = None,
    operator: Operator = IDENTITY,
) -> MethodResult:
    """Run one method of :func:`methods_for` ``operator`` on ``observed`` (``h x w x C`` in ``[0, 1]``).

    ``sigma`` (on ``[0, 1]``) is given to the classic denoisers; estimated when None.
    """
    if method in classic_methods(operator):
        started = time.perf_counter()
        if isinstance(operator, Identity):
            image = classic_denoise(method, observed, sigma)
        else:
            image = classic_restore(method, observed, operator)
        seconds = time.perf_counter() - started
        row = MethodResult(method, image, seconds, density=1.0)
        if clean is not None:
            row.final_psnr = row.best_psnr = metrics.psnr(image, clean)
            row.final_ssim = metrics.ssim(image, clean)
        return row

    run_config = replace(config, sparsity=0.0) if method == "dense" else replace(config, method=method)
    result = restore(observed, operator, run_config, clean=clean, on_mask_step=on_mask_step, on_fit_step=on_fit_step)
    report = result.report
    row = MethodResult(
        method, result.image, report["seconds"], report["density"], history=report["history"], report=report
    )
    if clean is not None:
        row.final_psnr, row.final_ssim = report["psnr"], report["ssim"]
        row.best_psnr, row.best_step = report["best_psnr"], report["best_step"]
    return row


def compare(
    observed: np.ndarray,
    methods: Sequence[str],
    config: RestoreConfig | None = None,
    clean: np.ndarray | None = None,
    sigma: float | None = None,
    on_method: Callable[[str], tuple[Callable | None, Callback | None]] | None = None,
    on_result: Callable[[str, MethodResult], None] | None = None,
    operator: Operator = IDENTITY,
) -> dict[str, MethodResult]:
    """Run every method in ``methods`` on ``observed``, an observation through ``operator``
    (a noisy image by default).

    ``on_method(name)`` is called before each method and may return its progress callbacks
    ``(on_mask_step, on_fit_step)``; ``on_result(name, row)`` after it. ``config`` None is
    :meth:`RestoreConfig.for_operator` ``(operator)``.
    """
    config = RestoreConfig.for_operator(operator) if config is None else config
    results = {}
    for method in check_methods(methods, operator):
        on_mask, on_fit = on_method(method) if on_method is not None else (None, None)
        results[method] = run_method(method, observed, config, clean, sigma, on_mask, on_fit, operator)
        if on_result is not None:
            on_result(method, results[method])
    return results


def results_table(
    results: dict[str, MethodResult], noisy_psnr: float | None = None, observed_label: str = "noisy input"
) -> str:
    """The comparison as a Markdown table."""
    lines = [
        "| method | density | final PSNR | best PSNR @ step | final SSIM | seconds |",
        "|---|---|---|---|---|---|",
    ]

    def db(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}"

    if noisy_psnr is not None:
        lines.append(f"| {observed_label} | - | {noisy_psnr:.2f} | - | - | - |")
    for name, r in results.items():
        best = "-" if r.best_psnr is None else db(r.best_psnr) + (f" @ {r.best_step}" if r.best_step else "")
        ssim = "-" if r.final_ssim is None else f"{r.final_ssim:.3f}"
        lines.append(f"| {name} | {r.density:.4f} | {db(r.final_psnr)} | {best} | {ssim} | {r.seconds:.0f} |")
    return "\n".join(lines)
