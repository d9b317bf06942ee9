"""Many images: what one shared mask buys over a mask per image, and what a second worker buys.

    python benchmarks/batch.py                  # both parts, 8 images of 256x256, sigma 25
    python benchmarks/batch.py --part workers   # only the workers' throughput (each, shared, workers)

The folder: the central 256x256 crops of pepper, baboon, barbara and F16 and the Set12 images
01-04 (256x256 already), Gaussian noise of std 25 (seeded, rounded to 8 bits), from
``../shared/data/images`` (skipped cleanly when absent).

- ``each`` and ``shared``: the folder denoised with the defaults as ``sparse-dip denoise DIR
  --out-dir OUT`` (one OES mask per image) and as ``... --share-mask`` (one mask learned on the
  first colour image for the four colour ones, one on the first grayscale image for the four
  Set12 ones): total wall time and mean PSNR of each.
- ``workers``: the same folder with the shared mask, ``--workers 1 --threads 1`` in-process
  against ``--workers 2 --threads 1`` on a local Ray runtime (started and stopped inside the
  timing), each fit ``--parallel-steps`` steps without the stopping rule so that both do the
  same work: the ratio of wall times. This is throughput, not quality. ``in_process``: the same
  fits in-process with torch's own thread count, the default a user gets.

Each part's row is written as it finishes to ``benchmarks/results/batch.json`` and a rerun
skips finished parts; the images' outputs go to ``benchmarks/results/cache/batch/``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

from common import RESULTS, central_crop, noisy_copy, shared_image, table, write_results

from sparse_dip.batch.folder import plan, run_batch, share_masks
from sparse_dip.images import save_image
from sparse_dip.restoration.pipeline import RestoreConfig

IMAGES = ("pepper", "baboon", "barbara", "F16", "set12_01", "set12_02", "set12_03", "set12_04")
WORK = RESULTS / "cache" / "batch"
PARTS = ("each", "shared", "workers", "in_process")


def make_folder(sigma: float) -> tuple[list, int]:
    """Write the noisy and clean crops; return the noisy paths and how many images were found."""
    noisy_dir, clean_dir = WORK / "noisy", WORK / "clean"
    noisy_dir.mkdir(parents=True, exist_ok=True)
    clean_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, name in enumerate(IMAGES):
        pixels = shared_image(name)
        if pixels is None:
            continue
        clean = central_crop(pixels, 256)
        if not (noisy_dir / f"{name}.png").exists():
            save_image(clean_dir / f"{name}.png", clean)
            save_image(noisy_dir / f"{name}.png", noisy_copy(clean, sigma, seed=i))
        paths.append(noisy_dir / f"{name}.png")
    return paths, len(paths)


def timed_batch(runs, **options) -> tuple[float, list]:
    started = time.perf_counter()
    outcomes = run_batch(runs, **options)
    return time.perf_counter() - started, outcomes


def each_part(paths, config: RestoreConfig) -> dict:
    """The folder with one mask per image (``sparse-dip denoise DIR --out-dir OUT``)."""
    out = WORK / "each"
    shutil.rmtree(out, ignore_errors=True)
    seconds, outcomes = timed_batch(plan(paths, out, config, WORK / "clean"))
    print(f"one mask per image: {seconds:.0f} s", flush=True)
    return {"seconds": seconds, "psnr": {Path(o.image).name: o.psnr for o in outcomes}}


def shared_part(paths, config: RestoreConfig) -> dict:
    """The folder with shared masks (``... --share-mask``): one per channel count."""
    out = WORK / "shared"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    started = time.perf_counter()
    runs, said = share_masks(plan(paths, out, config, WORK / "clean"), out, config)
    mask_seconds = time.perf_counter() - started
    fit_seconds, outcomes = timed_batch(runs)
    failed = [f"{o.image}: {o.reason}" for o in outcomes if o.status != "done"]
    if failed:
        raise SystemExit(f"shared: {failed[0]}")
    print(f"shared masks: {mask_seconds + fit_seconds:.0f} s ({'; '.join(said)})", flush=True)
    return {
        "seconds": mask_seconds + fit_seconds,
        "mask_seconds": mask_seconds,
        "masks": said,
        "psnr": {Path(o.image).name: o.psnr for o in outcomes},
    }


def workers_part(paths, config: RestoreConfig, steps: int) -> dict:
    """In-process with one thread against two Ray workers with one thread each, same fits."""
    mask_dir = WORK / "shared"  # the shared part leaves its masks here; reused when the settings match
    mask_dir.mkdir(parents=True, exist_ok=True)
    fixed = replace(config, fit=replace(config.fit, steps=steps, stop=None))
    row = {"steps": steps}
    for workers in (1, 2):
        out = WORK / f"workers{workers}"
        shutil.rmtree(out, ignore_errors=True)
        runs, _ = share_masks(plan(paths, out, config), mask_dir, config)
        runs = [replace(run, config=fixed) for run in runs]
        seconds, outcomes = timed_batch(runs, workers=workers, threads=1)
        failed = [o.reason for o in outcomes if o.status != "done"]
        if failed:
            raise SystemExit(f"workers={workers}: {failed[0]}")
        row[f"workers{workers}"] = {"seconds": seconds}
        print(f"--workers {workers} --threads 1: {seconds:.0f} s", flush=True)
    same = all((WORK / "workers1" / p.name).read_bytes() == (WORK / "workers2" / p.name).read_bytes() for p in paths)
    row["identical_outputs"] = same
    row["ratio"] = row["workers1"]["seconds"] / row["workers2"]["seconds"]
    return row


def in_process_part(paths, config: RestoreConfig, steps: int) -> dict:
    """The workers part's folder in-process with torch's own thread count (a user's default)."""
    fixed = replace(config, fit=replace(config.fit, steps=steps, stop=None))
    out = WORK / "in_process"
    shutil.rmtree(out, ignore_errors=True)
    runs, _ = share_masks(plan(paths, out, config), WORK / "shared", config)
    seconds, _ = timed_batch([replace(run, config=fixed) for run in runs])
    print(f"--workers 1, torch's threads: {seconds:.0f} s", flush=True)
    import torch

    return {"steps": steps, "seconds": seconds, "threads": torch.get_num_threads()}


def report(rows: dict, count: int) -> str:
    lines = [f"## Many images: {count} noisy 256x256 images, sigma 25, the defaults\n"]
    if "each" in rows and "shared" in rows:
        m = {"each": rows["each"], "shared": rows["shared"]}
        mean_each = statistics.mean(m["each"]["psnr"].values())
        mean_shared = statistics.mean(m["shared"]["psnr"].values())
        gaps = [m["shared"]["psnr"][k] - v for k, v in m["each"]["psnr"].items()]
        lines.append(
            table(
                ["run", "wall seconds", "mean PSNR", "worst PSNR gap to own mask"],
                [
                    ["one OES mask per image", m["each"]["seconds"], mean_each, "-"],
                    [
                        f"--share-mask ({len(m['shared']['masks'])} masks, {m['shared']['mask_seconds']:.0f} s)",
                        m["shared"]["seconds"],
                        mean_shared,
                        f"{min(gaps):+.2f}",
                    ],
                ],
            )
        )
        lines.append(
            f"\nShared mask: {m['each']['seconds'] / m['shared']['seconds']:.2f}x faster in total, "
            f"mean PSNR {mean_shared - mean_each:+.2f} dB.\n"
        )
        body = [[k, v, m["shared"]["psnr"][k], m["shared"]["psnr"][k] - v] for k, v in m["each"]["psnr"].items()]
        lines.append(table(["image", "own mask", "shared mask", "difference"], body))
    if "workers" in rows:
        w = rows["workers"]
        p = rows.get("in_process")
        in_process = [[f"--workers 1, torch's {p['threads']} threads", p["seconds"]]] if p else []
        lines.append(
            f"\n### Workers: {count} images, shared mask, {w['steps']} fit steps each, 1 torch thread per worker\n"
        )
        lines.append(
            table(
                ["executor", "wall seconds"],
                [
                    ["--workers 1 (in-process)", w["workers1"]["seconds"]],
                    ["--workers 2 (local Ray, start-up included)", w["workers2"]["seconds"]],
                    *in_process,
                ],
            )
        )
        lines.append(
            f"\n`--workers 2` against `--workers 1`: {w['ratio']:.2f}x; outputs byte-identical: "
            f"{'yes' if w['identical_outputs'] else 'NO'}.\n"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=(*PARTS, "all"), default="all")
    parser.add_argument("--parallel-steps", type=int, default=300, help="fit steps per image in the workers part")
    parser.add_argument("--sigma", type=float, default=25.0)
    args = parser.parse_args()
    paths, count = make_folder(args.sigma)
    if count == 0:
        print("skipped: no shared images in ../shared/data/images")
        return 0
    stored = RESULTS / "batch.json"
    rows = json.loads(stored.read_text())["rows"] if stored.exists() else {}
    config = RestoreConfig()
    for part in PARTS if args.part == "all" else (args.part,):
        if part in rows:
            print(f"{part}: already measured (delete its row in benchmarks/results/batch.json to redo)")
            continue
        if part == "workers":
            rows[part] = workers_part(paths, config, args.parallel_steps)
        elif part == "in_process":
            rows[part] = in_process_part(paths, config, args.parallel_steps)
        else:
            rows[part] = (each_part if part == "each" else shared_part)(paths, config)
        write_results("batch", report(rows, count), {"images": IMAGES[:count], "sigma": args.sigma, "rows": rows})
    print(report(rows, count))
    return 0


if __name__ == "__main__":
    sys.exit(main())
