"""Run work units on this machine: worker processes across the devices, results to the parent.

CPU: as many workers as cores and units allow, the cores' threads split between them;
GPU: ``runs_per_device`` workers per device, since one small ensemble rarely fills a GPU.
With a single slot everything runs in-process, which is also what tests and debuggers want.
The parent receives each unit's results as it finishes and records them at once, so an
interrupted suite loses at most the units in flight. On SIGINT/SIGTERM (``Interrupted``) or any
error the workers are terminated rather than waited for; they ignore SIGINT themselves (the
parent decides) and die with the parent if it is killed outright (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from multiprocessing.managers import SyncManager

import torch

from ganbench.errors import BadInput
from ganbench.metrics import EvalContext
from ganbench.runner import interrupts
from ganbench.runner.plan import WorkUnit
from ganbench.train import RunResult, train_group

ResultSink = Callable[[list[RunResult]], None]


def device_slots(devices: list[str], runs_per_device: int, n_units: int) -> tuple[list[str], int]:
    """(one device name per worker, torch threads per worker)."""
    cores = os.cpu_count() or 1
    if devices == ["cpu"]:
        workers = max(1, min(n_units, cores, runs_per_device if runs_per_device > 0 else cores))
        return ["cpu"] * workers, max(1, cores // workers)
    per_device = max(1, runs_per_device)
    slots = [d for d in devices for _ in range(per_device)]
    return slots[: max(1, n_units)] if n_units < len(slots) else slots, max(1, cores // len(slots))


def run_unit(unit: WorkUnit, device: str, context: EvalContext, progress=None) -> list[RunResult]:
    """Train one unit; any exception marks all its runs failed instead of ending the suite."""
    # In a worker process `progress` is a manager queue; in-process it is the callback itself.
    on_progress = getattr(progress, "put", progress)
    try:
        return train_group(list(unit.specs), device, context, on_progress)
    except BadInput:
        raise
    except Exception as err:  # noqa: BLE001 - a failing run is a recorded result
        message = " ".join(f"{type(err).__name__}: {err}".split())  # its first line is the summary's
        detail = traceback.format_exc(limit=8)
        steps = getattr(err, "steps_done", 0)  # set by train_group: the steps it completed
        return [
            RunResult(s, "failed", steps, device=device, error=f"{message}\n{detail}") for s in unit.specs
        ]


def _init_child() -> None:
    """In every child process (workers, the progress queue's manager): die with the parent, and
    leave SIGINT to it (a Ctrl-C reaches the whole process group; the parent stops the children)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent()


def _die_with_parent() -> None:
    """prctl(PR_SET_PDEATHSIG, SIGKILL) on Linux: a parent killed with SIGKILL cannot clean up,
    so the kernel ends its workers instead of leaving them to train for nobody."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    if os.getppid() == 1:  # the parent died before prctl took effect
        os._exit(1)


def _init_worker(threads: int) -> None:
    _init_child()
    torch.set_num_threads(threads)


def execute_local(
    units: list[WorkUnit],
    devices: list[str],
    runs_per_device: int,
    context: EvalContext,
    sink: ResultSink,
    on_progress: Callable[[int], None] | None = None,
    retries: int = 0,
) -> None:
    slots, threads = device_slots(devices, runs_per_device, len(units))
    if len(slots) == 1:
        for unit in units:
            for attempt in range(retries + 1):
                results = run_unit(unit, slots[0], _on(context, slots[0]), on_progress)
                if not _failed(results) or attempt == retries:
                    sink(results)
                    break
        return
    for results in _pool(units, slots, threads, context, on_progress, retries):
        sink(results)


def _pool(units, slots, threads, context, on_progress, retries) -> Iterator[list[RunResult]]:
    ctx = mp.get_context("spawn")  # fork after torch has started threads is unsafe
    manager = SyncManager(ctx=ctx)
    with interrupts.deferred():  # a signal while a child is spawned would leave it half-started
        manager.start(_init_child)
    queue = manager.Queue()
    stop = threading.Event()
    drain = threading.Thread(target=_drain, args=(queue, on_progress, stop), daemon=True)
    drain.start()
    pending = [(unit, 0) for unit in units]
    busy: dict[Future, tuple[WorkUnit, int, str]] = {}
    free = list(slots)
    pool = ProcessPoolExecutor(len(slots), mp_context=ctx, initializer=_init_worker, initargs=(threads,))
    clean = False
    try:
        while pending or busy:
            while pending and free:
                unit, attempt = pending.pop(0)
                device = free.pop(0)
                with interrupts.deferred():  # submit() may spawn a worker: not half-way
                    future = pool.submit(run_unit, unit, device, _on(context, device), queue)
                busy[future] = (unit, attempt, device)
            done, _ = wait(busy, return_when=FIRST_COMPLETED)
            for future in done:
                unit, attempt, device = busy.pop(future)
                free.append(device)
                results = future.result()
                if _failed(results) and attempt < retries:
                    pending.append((unit, attempt + 1))
                else:
                    yield results
        clean = True
    finally:
        # Interrupted (or any error, or the caller stopped iterating): the workers are stopped,
        # not waited for; their units were not recorded and run again on resume.
        if not clean:
            _stop_workers(pool)
        pool.shutdown(wait=clean, cancel_futures=True)
        stop.set()
        drain.join(timeout=2)
        with contextlib.suppress(Exception):
            manager.shutdown()


def _stop_workers(pool: ProcessPoolExecutor, grace_s: float = 3.0) -> None:
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for process in processes:
        with contextlib.suppress(Exception):
            process.terminate()
    deadline = time.monotonic() + grace_s
    for process in processes:
        with contextlib.suppress(Exception):
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join(1.0)


def _drain(queue, on_progress, stop: threading.Event) -> None:
    import queue as queue_module

    while not stop.is_set():
        try:
            steps = queue.get(timeout=0.2)
        except (queue_module.Empty, EOFError, OSError):
            continue
        if on_progress:
            on_progress(steps)


def _on(context: EvalContext, device: str) -> EvalContext:
    from dataclasses import replace

    return replace(context, device=device)


def _failed(results: list[RunResult]) -> bool:
    return any(r.status == "failed" for r in results)
