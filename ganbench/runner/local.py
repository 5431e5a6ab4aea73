"""``--backend local``: work units train on this machine, in worker processes across its devices.

CPU: as many workers as cores and units allow, the cores' threads split between them;
GPU: ``runs_per_device`` workers per device, since one small ensemble rarely fills a GPU.
With a single slot everything runs in-process, which is also what tests and debuggers want.
The parent receives each unit's results as it finishes and records them at once, so an
interrupted suite loses at most the units in flight. On SIGINT/SIGTERM (``Interrupted``) or any
error the workers are terminated rather than waited for; they ignore SIGINT themselves (the
parent decides) and die with the parent if it is killed outright (PR_SET_PDEATHSIG).
Failed units are tried again by ``backends.run_with_retries``, as on every backend.
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
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, replace
from multiprocessing.managers import SyncManager
from pathlib import Path
from typing import Any

import torch

from ganbench.errors import BadInput
from ganbench.metrics import EvalContext
from ganbench.registry import BACKENDS
from ganbench.results import RunResult
from ganbench.runner import interrupts
from ganbench.runner.backends import ResultSink, run_with_retries
from ganbench.runner.plan import WorkUnit, parse_devices
from ganbench.train import train_group


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


@BACKENDS.register("local")
@dataclass
class LocalBackend:
    """``--backend local``: this machine's devices, ``runs_per_device`` worker slots on each."""

    devices: list[str]
    runs_per_device: int = 0
    retries: int = 0

    @classmethod
    def from_options(cls, options: Any, out_dir: Path) -> LocalBackend:
        return cls(parse_devices(options.devices), options.runs_per_device, options.retries)

    def run(
        self,
        units: list[WorkUnit],
        context: EvalContext,
        sink: ResultSink,
        on_progress: Callable[[int], None] | None = None,
    ) -> None:
        slots, threads = device_slots(self.devices, self.runs_per_device, len(units))
        if len(slots) == 1:
            run_with_retries(
                units, InProcess(slots[0], context, on_progress), self.retries, sink, on_progress
            )
            return
        with WorkerPool(slots, threads, context, on_progress) as pool:
            run_with_retries(units, pool, self.retries, sink, on_progress)


class InProcess:
    """One slot: each unit trains here, in turn (what tests and debuggers want)."""

    capacity = 1
    reports_steps = True

    def __init__(self, device: str, context: EvalContext, on_progress: Callable[[int], None] | None) -> None:
        self.device, self.context, self.on_progress = device, _on(context, device), on_progress

    def start(self, units: list[WorkUnit]) -> list[list[RunResult]]:
        return [run_unit(unit, self.device, self.context, self.on_progress) for unit in units]

    def wait(self, handles: Sequence[list[RunResult]]) -> set[int]:
        return set(range(len(handles)))  # trained already, in start()

    def results(self, handle: list[RunResult], unit: WorkUnit) -> list[RunResult]:
        return handle

    def cancel(self, handles: Sequence[list[RunResult]]) -> None:
        pass  # nothing runs once start() has returned


class WorkerPool:
    """Spawned worker processes, one per slot; a unit starts on a free slot's device. Workers send
    their generator steps through a manager queue, which a thread here turns into progress."""

    reports_steps = True

    def __init__(
        self,
        slots: list[str],
        threads: int,
        context: EvalContext,
        on_progress: Callable[[int], None] | None,
    ) -> None:
        self.capacity = len(slots)
        self._free = list(slots)  # the devices of idle workers
        self._threads, self._context, self._on_progress = threads, context, on_progress

    def __enter__(self) -> WorkerPool:
        ctx = mp.get_context("spawn")  # fork after torch has started threads is unsafe
        self._manager = SyncManager(ctx=ctx)
        with interrupts.deferred():  # a signal while a child is spawned would leave it half-started
            self._manager.start(_init_child)
        self._queue = self._manager.Queue()
        self._stop = threading.Event()
        self._drain = threading.Thread(
            target=_drain, args=(self._queue, self._on_progress, self._stop), daemon=True
        )
        self._drain.start()
        self._pool = ProcessPoolExecutor(
            self.capacity, mp_context=ctx, initializer=_init_worker, initargs=(self._threads,)
        )
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        # Interrupted (or any error): the workers are stopped, not waited for; their units were
        # not recorded and run again on resume.
        clean = exc_type is None
        if not clean:
            _stop_workers(self._pool)
        self._pool.shutdown(wait=clean, cancel_futures=True)
        self._stop.set()
        self._drain.join(timeout=2)
        with contextlib.suppress(Exception):
            self._manager.shutdown()

    def start(self, units: list[WorkUnit]) -> list[tuple[Future, str]]:
        handles = []
        for unit in units:
            device = self._free.pop(0)
            with interrupts.deferred():  # submit() may spawn a worker: not half-way
                future = self._pool.submit(run_unit, unit, device, _on(self._context, device), self._queue)
            handles.append((future, device))
        return handles

    def wait(self, handles: Sequence[tuple[Future, str]]) -> set[int]:
        done, _ = wait([future for future, _ in handles], return_when=FIRST_COMPLETED)
        return {i for i, (future, _) in enumerate(handles) if future in done}

    def results(self, handle: tuple[Future, str], unit: WorkUnit) -> list[RunResult]:
        future, device = handle
        self._free.append(device)
        return future.result()

    def cancel(self, handles: Sequence[tuple[Future, str]]) -> None:
        _stop_workers(self._pool)


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
    return replace(context, device=device)
