"""Where work units train: the ``Backend`` protocol, how a backend is chosen, and the one retry loop.

A backend trains a list of work units somewhere (this process, worker processes, a Ray cluster,
Slurm jobs) and hands each unit's results to ``sink`` *in this process*, as each unit finishes:
the caller records them at once, so an interrupted suite loses at most the units in flight.

Backends are entries of ``registry.BACKENDS`` (``local``, ``ray``, ``slurm`` are declared there),
so ``--backend NAME`` also takes a plugin's name or an import path (``my_pkg.condor:Condor``).
An entry is a class with ``from_options(options, out_dir)``, which reads what it needs from
``api.RunOptions``, and ``run(units, context, sink, on_progress)``.

Backends differ only in how they start a unit and learn that it finished (a ``Launcher``);
``run_with_retries`` is the part they share: how many units are in flight, trying a failed unit
again up to ``retries`` times (only its last attempt reaches ``sink``), progress, and cancelling
what is still running when the loop ends early (an interrupt, an error, bad input).
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from ganbench.errors import BadInput
from ganbench.metrics import EvalContext
from ganbench.registry import BACKENDS, UnknownName
from ganbench.results import RunResult

if TYPE_CHECKING:  # plan imports torch; this module must not, for `ganbench validate`'s sake
    from ganbench.runner.plan import WorkUnit

ResultSink = Callable[[list[RunResult]], None]
Progress = Callable[[int], None]
H = TypeVar("H")


class Backend(Protocol):
    """What ``--backend NAME`` names: built from the run options, trains units, feeds ``sink``."""

    @classmethod
    def from_options(cls, options: Any, out_dir: Path) -> Backend:
        """``options`` is an ``api.RunOptions`` (devices, runs_per_device, retries, ray_address,
        slurm_*, ...); ``out_dir`` is the suite's output dir, for logs a backend keeps."""
        ...

    def run(
        self, units: list[WorkUnit], context: EvalContext, sink: ResultSink, on_progress: Progress | None
    ) -> None:
        """Train every unit; call ``sink(results)`` here, in the caller's process, as each
        finishes, and ``on_progress(steps)`` as generator steps are done. A unit whose runs fail
        is recorded as failed runs (``RunResult.status == "failed"``), never raised; ``BadInput``
        is raised, and so is ``Interrupted``, after stopping whatever still runs."""
        ...


def create_backend(name: str, options: Any, out_dir: Path) -> Backend:
    """The backend registered as `name` (or an import path), built from the run options."""
    return backend_class(name).from_options(options, out_dir)


def backend_class(name: str) -> type[Backend]:
    """The class registered as `name`; an unknown name is bad input, in the registry's one line."""
    try:
        found = BACKENDS.get(name)
    except UnknownName as err:
        raise BadInput(str(err)) from None
    if not (hasattr(found, "from_options") and hasattr(found, "run")):  # an import path's target
        raise BadInput(f"backend {name!r}: expected a class with from_options() and run(), got {found!r}")
    return found


class Launcher(Protocol[H]):
    """How one backend starts units and learns that they finished; ``run_with_retries`` does the
    rest. ``H`` is the backend's handle of a started unit (a future, an object ref, a job)."""

    capacity: int | None  # units in flight at most; None: start every unit at once
    reports_steps: bool  # units report generator steps as they train; else a unit counts when done

    def start(self, units: list[WorkUnit]) -> list[H]:
        """Start these units (at most ``capacity`` minus those in flight); one handle each."""
        ...

    def wait(self, handles: Sequence[H]) -> set[int]:
        """Block until at least one of ``handles`` has finished; the indices of those that have."""
        ...

    def results(self, handle: H, unit: WorkUnit) -> list[RunResult]:
        """A finished unit's results; a unit that died records its runs as failed with the error.
        ``BadInput`` from the unit is raised."""
        ...

    def cancel(self, handles: Sequence[H]) -> None:
        """Stop units still in flight (the loop ended early); best effort, never raises."""
        ...


def failed(results: list[RunResult]) -> bool:
    return any(r.status == "failed" for r in results)


def run_with_retries(
    units: list[WorkUnit],
    launcher: Launcher[Any],
    retries: int,
    sink: ResultSink,
    on_progress: Progress | None = None,
) -> None:
    """Train `units` through `launcher`: a unit whose results say ``failed`` is started again, up
    to `retries` times, and only its last attempt's results reach `sink`. Whatever is in flight
    when this ends early (``Interrupted``, ``BadInput``, a bug) is cancelled."""
    queue = deque((unit, 0) for unit in units)  # (unit, attempt)
    running: list[tuple[Any, WorkUnit, int]] = []  # (handle, unit, attempt)
    try:
        while queue or running:
            room = len(queue) if launcher.capacity is None else launcher.capacity - len(running)
            batch = [queue.popleft() for _ in range(min(room, len(queue)))]
            if batch:
                handles = launcher.start([unit for unit, _ in batch])
                running += [(h, unit, attempt) for h, (unit, attempt) in zip(handles, batch, strict=True)]
            done = launcher.wait([h for h, _, _ in running])
            finished = [running[i] for i in sorted(done)]
            running = [entry for i, entry in enumerate(running) if i not in done]
            for handle, unit, attempt in finished:
                results = launcher.results(handle, unit)
                if failed(results) and attempt < retries:
                    queue.append((unit, attempt + 1))
                    continue
                sink(results)
                if on_progress and not launcher.reports_steps:
                    on_progress(unit.run_steps)
    finally:
        if running:  # only when the loop ended early: a clean end leaves nothing running
            with contextlib.suppress(Exception):
                launcher.cancel([h for h, _, _ in running])
