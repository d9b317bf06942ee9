"""The summary a batch writes beside its outputs: ``summary.csv`` and ``summary.md``, one row per image.

Both are rewritten (atomically) as each image finishes, so an interrupted batch still has
the rows of what it did. A sweep's ``results.csv`` / ``results.md`` add the mean and spread
over seeds of every (method, sparsity) per image.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections.abc import Sequence
from pathlib import Path

from sparse_dip.batch.executor import Outcome
from sparse_dip.files import write_text

COLUMNS = ("image", "size", "seconds", "psnr", "ssim", "status", "reason", "output")


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 10 else f"{value:.2f}"
    return str(value)


def _csv(rows: Sequence[dict], columns: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(row.get(k)) for k in columns})
    return buffer.getvalue()


def _markdown(rows: Sequence[dict], columns: Sequence[str]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(_cell(row.get(k)).replace("|", "/") for k in columns) + " |")
    return "\n".join(lines) + "\n"


def _row(outcome: Outcome) -> dict:
    row = {**outcome.labels, **{k: getattr(outcome, k) for k in COLUMNS}, "image": Path(outcome.image).name}
    if outcome.status == "failed":
        row["output"] = None  # nothing was written there
    return row


def counts(outcomes: Sequence[Outcome]) -> str:
    """``"3 done, 1 skipped, 1 failed"`` (statuses that occur)."""
    found = [(s, sum(o.status == s for o in outcomes)) for s in ("done", "skipped", "failed")]
    return ", ".join(f"{n} {s}" for s, n in found if n)


def write_summary(out_dir: Path, outcomes: Sequence[Outcome], title: str) -> None:
    """``summary.csv`` and ``summary.md`` in ``out_dir`` for these outcomes, in input order."""
    rows = [_row(o) for o in outcomes]
    write_text(out_dir / "summary.csv", _csv(rows, COLUMNS))
    scored = [o.psnr for o in outcomes if o.psnr is not None]
    mean = f"; mean PSNR {statistics.mean(scored):.2f} dB over {len(scored)}" if scored else ""
    text = f"# {title}\n\n{len(outcomes)} images: {counts(outcomes)}{mean}.\n\n" + _markdown(rows, COLUMNS)
    write_text(out_dir / "summary.md", text)


SWEEP_COLUMNS = ("image", "method", "sparsity", "seed", "psnr", "ssim", "seconds", "status", "reason", "output")


def write_results(out_dir: Path, outcomes: Sequence[Outcome], title: str) -> None:
    """A sweep's ``results.csv`` (one row per run) and ``results.md`` (mean and spread over seeds)."""
    rows = [_row(o) for o in outcomes]
    write_text(out_dir / "results.csv", _csv(rows, SWEEP_COLUMNS))
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault((row["image"], row["method"], row["sparsity"]), []).append(row)
    table = []
    for (image, method, sparsity), members in groups.items():
        psnrs = [r["psnr"] for r in members if r["status"] != "failed" and r["psnr"] is not None]
        seconds = [r["seconds"] for r in members if r["status"] != "failed" and r["seconds"] is not None]
        table.append(
            {
                "image": image,
                "method": method,
                "sparsity": sparsity,
                "seeds": sum(r["status"] != "failed" for r in members),
                "failed": sum(r["status"] == "failed" for r in members),
                "mean PSNR": statistics.mean(psnrs) if psnrs else None,
                "std PSNR": statistics.stdev(psnrs) if len(psnrs) > 1 else None,
                "min PSNR": min(psnrs) if psnrs else None,
                "mean seconds": statistics.mean(seconds) if seconds else None,
            }
        )
    columns = ("image", "method", "sparsity", "seeds", "failed", "mean PSNR", "std PSNR", "min PSNR", "mean seconds")
    text = f"# {title}\n\n{len(outcomes)} runs: {counts(outcomes)}.\n\n" + _markdown(table, columns)
    write_text(out_dir / "results.md", text)
