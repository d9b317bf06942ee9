"""Running many file runs: in this process one after another, or as Ray tasks.

Each image is one task (:func:`attempt`), which never raises for its input: a bad file comes
back as a ``failed`` outcome with its one-line reason, so it costs no other image and Ray does
not retry it. A task whose worker process dies (killed, out of memory) is retried by Ray up to
:data:`MAX_RETRIES` times; outputs are written atomically, so a retried image is whole.
Outcomes are yielded as tasks finish. With ``workers`` local processes each task gets
``threads`` torch threads (by default the cores divided among the workers, so N tasks do not
oversubscribe the CPU); with ``address`` the tasks go to a running Ray cluster
(``ray start --head`` prints the address), each asking for its CPUs, or a GPU.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from sparse_dip.errors import InputError
from sparse_dip.restoration.file_run import FileRun, is_done, run_file

MAX_RETRIES = 2
"""Times Ray reruns a task whose worker process died (a failure of its input is not retried)."""

RAY_HINT = 'more than one worker runs on Ray: pip install -e ".[ray]" (or pip install ray)'


@dataclass
class Outcome:
    """What became of one image: ``status`` is ``done``, ``skipped`` (an earlier run with the
    same settings wrote it) or ``failed`` (``reason``, one line)."""

    image: str
    output: str
    status: str
    reason: str = ""
    size: str = ""
    seconds: float | None = None
    psnr: float | None = None
    ssim: float | None = None
    labels: dict = field(default_factory=dict)

    @classmethod
    def from_report(cls, run: FileRun, report: dict, status: str) -> Outcome:
        image = report.get("image", {})
        return cls(
            image=str(run.observed),
            output=str(run.out),
            status=status,
            size=f"{image.get('height')}x{image.get('width')}x{image.get('channels')}",
            seconds=report.get("seconds"),
            psnr=report.get("psnr"),
            ssim=report.get("ssim"),
            labels=run.labels,
        )

    @classmethod
    def failed(cls, run: FileRun, reason: str) -> Outcome:
        lines = [line for line in reason.splitlines() if line.strip()]
        return cls(str(run.observed), str(run.out), "failed", reason=lines[0] if lines else "failed", labels=run.labels)


Task = Callable[..., Outcome]


def attempt(
    run: FileRun,
    threads: int | None = None,
    on_mask_step: Callable[[int, float], None] | None = None,
    on_fit_step: Callable[[int, dict], None] | None = None,
) -> Outcome:
    """Run one image with ``threads`` torch threads; any failure of its own becomes its outcome."""
    import torch

    from sparse_dip.restoration.fit import DivergedError

    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return Outcome.from_report(run, run_file(run, on_mask_step, on_fit_step), "done")
    except (InputError, DivergedError) as error:
        return Outcome.failed(run, str(error))
    except MemoryError:
        return Outcome.failed(run, "out of memory: try a smaller image or --device cuda")
    except Exception as error:  # a file no reader expected: its row says so, the batch goes on
        return Outcome.failed(run, f"{type(error).__name__}: {error}")
    finally:
        torch.set_num_threads(before)


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity: a container's or a job's share)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_threads(workers: int) -> int:
    """Torch threads per task: the cores shared among ``workers`` tasks, at least one."""
    return max(1, available_cores() // workers)


def skipped(runs: Sequence[FileRun]) -> tuple[list[Outcome], list[FileRun]]:
    """The runs an earlier run already finished with the same settings (as outcomes), and the rest."""
    done, todo = [], []
    for run in runs:
        report = is_done(run)
        if report is None:
            todo.append(run)
            continue
        if run.clean is not None and report.get("clean") != str(run.clean):
            try:
                report = rescore(run, report)
            except InputError:
                todo.append(run)  # the reference does not fit this output: run it and let the run say why
                continue
        done.append(Outcome.from_report(run, report, "skipped"))
    return done, todo


def rescore(run: FileRun, report: dict) -> dict:
    """An earlier output scored against ``run.clean`` (a reference it was not run with); the
    report is rewritten with the scores."""
    from sparse_dip import metrics
    from sparse_dip.files import write_json
    from sparse_dip.images import load_image

    output, clean = load_image(run.out).pixels, load_image(run.clean).pixels
    if output.shape != clean.shape:
        raise InputError(f"{run.clean}: the clean image is {clean.shape}, the output {output.shape}")
    report = {**report, "clean": str(run.clean)}
    report.update(psnr=metrics.psnr(output, clean), ssim=metrics.ssim(output, clean))
    write_json(run.report, report)
    return report


def run_in_process(
    runs: Sequence[FileRun],
    threads: int | None = None,
    bars: Callable[[FileRun], object] | None = None,
    task: Task = attempt,
) -> Iterator[Outcome]:
    """Run each image here, one after another; ``bars(run)`` gives it progress callbacks
    (an object with ``on_mask_step``, ``on_fit_step`` and ``remove``)."""
    for run in runs:
        listener = bars(run) if bars is not None else None
        try:
            if listener is None:
                yield task(run, threads)
            else:
                yield task(run, threads, listener.on_mask_step, listener.on_fit_step)
        finally:
            if listener is not None:
                listener.remove()


AUTH_HINT = (
    "; if the cluster uses token authentication (what `ray start` does by default in recent Ray),"
    " set RAY_AUTH_MODE=token here, with its token in ~/.ray/auth_token or RAY_AUTH_TOKEN"
)


def check_reachable(address: str, timeout: float = 5.0) -> None:
    """A one-line error unless something accepts a TCP connection at ``[ray://]HOST:PORT``
    (``auto`` and addresses without a port are left to Ray)."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as error:
        raise InputError(f"cannot reach a Ray cluster at {address}: {error.strerror or error}") from None


def start_ray(address: str | None, cpus: int) -> None:
    """``ray.init``: a local runtime of ``cpus`` CPUs (never a cluster that happens to run here),
    or a connection to the cluster at ``address``; a one-line error when that fails."""
    import ray

    if address is not None:
        check_reachable(address)  # Ray itself retries a dead address for minutes
    options = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    try:
        if address is None:
            ray.init(address="local", num_cpus=cpus, **options)
        else:
            ray.init(address=address, **options)
    except (ConnectionError, RuntimeError, ValueError) as error:
        hint = AUTH_HINT if address is not None and "RAY_AUTH_MODE" not in os.environ else ""
        where = f" at {address}" if address else ""
        raise InputError(f"cannot start Ray{where}: {str(error).strip()}{hint}") from None


def run_on_ray(
    runs: Sequence[FileRun],
    workers: int,
    threads: int | None = None,
    address: str | None = None,
    gpus: float = 0,
    task: Task = attempt,
) -> Iterator[Outcome]:
    """Run each image as a Ray task: on ``workers`` local processes, or on the cluster at
    ``address``; outcomes come back as tasks finish."""
    try:
        import ray
    except ImportError:
        raise InputError(RAY_HINT) from None
    if not runs:
        return
    threads = threads or (default_threads(workers) if address is None else 1)
    started_here = not ray.is_initialized()
    if started_here:
        start_ray(address, workers * threads)
    remote = ray.remote(task).options(num_cpus=threads, num_gpus=gpus, max_retries=MAX_RETRIES, retry_exceptions=False)
    pending = {remote.remote(run, threads): run for run in runs}
    try:
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            run = pending.pop(ready[0])
            try:
                yield ray.get(ready[0])
            except ray.exceptions.RayError as error:
                lines = [line for line in str(error).splitlines() if line.strip()]
                why = lines[-1].strip() if lines else type(error).__name__
                if isinstance(error, ray.exceptions.RayTaskError):
                    yield Outcome.failed(run, f"the task failed: {why}")
                else:
                    yield Outcome.failed(run, f"worker lost after {MAX_RETRIES} retries: {why}")
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)
        if started_here:
            ray.shutdown()
