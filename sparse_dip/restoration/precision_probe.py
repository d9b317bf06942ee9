"""``--precision auto``: time a fitting step in fp32 and in bf16 autocast at the run's own size and
keep the faster, cached per machine.

bf16 autocast runs the convolutions in bfloat16 with float32 weights and loss. Whether that is
faster depends on the CPU (AMD EPYC with AVX-512 bf16: about 1.5x at 512x512; some Intel Xeons:
slower) and on the image size, so it is measured rather than assumed. The rule (:func:`pick`):
bf16 when its step is at least ``MARGIN`` times faster than fp32's (a smaller gain is within the
probe's noise and not worth bf16's coarser rounding), fp32 otherwise, and fp32 without probing
for images whose padded side is below ``MIN_SIDE`` (a run of seconds, where the probe would cost
more than it saves). The probe is a few steps of the default fit on a random 95 % sparse mask at
the padded size, fp32 and bf16 alternating, the fastest of two rounds; its result is kept in a
JSON file (``$SPARSE_DIP_CACHE/precision.json``, by default ``~/.cache/sparse-dip/``) keyed by the
device's model, the torch thread count, the versions of torch and sparse-dip (a new version
probes again), the generator and the size.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import torch

from sparse_dip.files import write_json
from sparse_dip.generators.hourglass import Hourglass, HourglassConfig, input_noise
from sparse_dip.pruning.mask import top_k
from sparse_dip.pruning.zeroed import zero_pruned
from sparse_dip.runtime import cpu_model, versions

MARGIN = 1.1
MIN_SIDE = 128
PROBE_STEPS = 3

Timer = Callable[[HourglassConfig, int, int, str, torch.device], float]


def pick(fp32_seconds: float, bf16_seconds: float, margin: float = MARGIN) -> str:
    """``"bf16"`` when a bf16 step is at least ``margin`` times faster than an fp32 one, else ``"fp32"``."""
    return "bf16" if bf16_seconds * margin <= fp32_seconds else "fp32"


def step_seconds(generator: HourglassConfig, height: int, width: int, precision: str, device: torch.device) -> float:
    """Seconds per fitting step of ``generator`` at the padded size ``height x width`` (a random
    95 % sparse mask, Adam, the default fit), after one warm-up step."""
    from sparse_dip.restoration.fit import FitConfig, fit

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = Hourglass(generator).to(device)
    draw = torch.Generator().manual_seed(1)
    scores = {n: torch.rand(p.shape, generator=draw) for n, p in model.named_parameters() if p.dim() > 1}
    zero_pruned(model, top_k(scores, 0.05))
    z = input_noise(generator.input_depth, height, width, torch.Generator().manual_seed(0)).to(device)
    target = torch.rand(1, generator.out_channels, height, width, generator=torch.Generator().manual_seed(2)).to(device)
    fit(model, z, target, FitConfig(steps=1, ema=None, precision=precision))
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    started = time.perf_counter()
    fit(model, z, target, FitConfig(steps=PROBE_STEPS, ema=None, precision=precision, log_every=PROBE_STEPS))
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return (time.perf_counter() - started) / PROBE_STEPS


def device_name(device: torch.device) -> str:
    """The CPU's model name or the GPU's."""
    return torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_model()


def cache_path() -> Path:
    root = os.environ.get("SPARSE_DIP_CACHE") or Path.home() / ".cache" / "sparse-dip"
    return Path(root) / "precision.json"


def _key(generator: HourglassConfig, height: int, width: int, device: torch.device) -> str:
    found = versions()
    parts = [device_name(device), device.type, f"threads {torch.get_num_threads()}", f"torch {found['torch']}"]
    parts += [f"sparse-dip {found['sparse-dip']}", json.dumps(generator.to_dict(), sort_keys=True), f"{height}x{width}"]
    return " | ".join(parts)


def choose_precision(
    generator: HourglassConfig,
    height: int,
    width: int,
    device: torch.device,
    timer: Timer = step_seconds,
    cache: Path | None = None,
) -> dict:
    """The precision for a run at the padded size ``height x width``: ``{"picked", "fp32_seconds",
    "bf16_seconds", "source"}`` (source: ``"probe"``, ``"cache"``, or ``"small image"`` when
    nothing was timed)."""
    if min(height, width) < MIN_SIDE:
        return {"picked": "fp32", "fp32_seconds": None, "bf16_seconds": None, "source": "small image"}
    cache = cache or cache_path()
    key = _key(generator, height, width, device)
    try:
        known = json.loads(cache.read_text())
    except (OSError, ValueError):
        known = {}
    if isinstance(known, dict) and isinstance(known.get(key), dict) and "fp32_seconds" in known[key]:
        entry = known[key]
        return {**entry, "picked": pick(entry["fp32_seconds"], entry["bf16_seconds"]), "source": "cache"}
    times = {"fp32": float("inf"), "bf16": float("inf")}
    for _ in range(2):  # alternating, so a busy neighbour slows both alike
        for precision in times:
            times[precision] = min(times[precision], timer(generator, height, width, precision, device))
    entry = {"fp32_seconds": times["fp32"], "bf16_seconds": times["bf16"]}
    known = known if isinstance(known, dict) else {}
    known[key] = {**entry, "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        write_json(cache, known)
    except OSError:
        pass  # a read-only home: probe again next time
    return {**entry, "picked": pick(entry["fp32_seconds"], entry["bf16_seconds"]), "source": "probe"}
