"""Progress over run-steps (generator steps summed over runs).

On a terminal: a rich progress bar. Anywhere else (``nohup ganbench run ... > log``, CI logs),
where a live bar would print nothing: plain, flushed lines, one per finished run and a heartbeat
every ``GANBENCH_HEARTBEAT_S`` seconds (default 10) with the run-steps done, their rate and an ETA.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

HEARTBEAT_S = 10.0
# The quality metric a finished-run line shows: the first of these the run has.
QUALITY_METRICS = ("modes_covered", "fid", "classifier_fid", "w1", "hq_share", "classes_covered")


class Tracker:
    """Called with the run-steps just done (``advance(steps)``); ``finished(result)`` per run."""

    def __call__(self, steps: int) -> None:
        pass

    def finished(self, result: Any) -> None:
        pass


class _Bar(Tracker):
    def __init__(self, progress: Progress, task: Any) -> None:
        self.progress, self.task = progress, task

    def __call__(self, steps: int) -> None:
        self.progress.advance(self.task, steps)


class LineProgress(Tracker):
    """Plain lines for logs: thread-safe (results and steps may arrive from several threads)."""

    def __init__(self, total: int, stream: TextIO, interval: float) -> None:
        self.total, self.stream, self.interval = total, stream, interval
        self.done, self.runs = 0, 0
        self.started = self.last = time.monotonic()
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.timer: threading.Thread | None = None

    def start(self) -> None:
        """Heartbeats also while no step arrives (a long evaluation, a slow first compile)."""
        if self.interval > 0:
            self.timer = threading.Thread(target=self._tick, name="ganbench-heartbeat", daemon=True)
            self.timer.start()

    def close(self) -> None:
        self.stop.set()
        if self.timer is not None:
            self.timer.join(timeout=1)

    def _tick(self) -> None:
        while not self.stop.wait(self.interval / 2):
            with self.lock:
                now = time.monotonic()
                if now - self.last >= self.interval:
                    self.last = now
                    self._write(self.heartbeat(now))

    def __call__(self, steps: int) -> None:
        with self.lock:
            self.done += steps
            now = time.monotonic()
            if now - self.last >= self.interval:
                self.last = now
                self._write(self.heartbeat(now))

    def heartbeat(self, now: float | None = None) -> str:
        elapsed = max((now or time.monotonic()) - self.started, 1e-9)
        rate = self.done / elapsed
        eta = f"{(self.total - self.done) / rate:.0f} s" if rate > 0 else "?"
        share = 100 * self.done / self.total if self.total else 100.0
        return (
            f"progress: {self.done}/{self.total} run-steps ({share:.0f}%), {self.runs} runs done, "
            f"{rate:.1f} run-steps/s, elapsed {elapsed:.0f} s, ETA {eta}"
        )

    def finished(self, result: Any) -> None:
        spec = result.spec
        config = f"[{spec.config}]" if getattr(spec, "config", "") else ""
        metrics = getattr(result, "metrics", {}) or {}
        quality = next((f", {m} {metrics[m]:.4g}" for m in QUALITY_METRICS if m in metrics), "")
        health = f", {result.health}" if getattr(result, "health", "") else ""
        with self.lock:
            self.runs += 1
            self._write(
                f"run {spec.variant}{config}/{spec.dataset} seed {spec.seed}: {result.status}{health}"
                f"{quality}, {result.wall_s:.1f} s"
            )

    def _write(self, line: str) -> None:
        with contextlib.suppress(OSError, ValueError):  # a closed or full log must not stop training
            print(line, file=self.stream, flush=True)


def heartbeat_interval() -> float:
    try:
        return max(0.0, float(os.environ.get("GANBENCH_HEARTBEAT_S", HEARTBEAT_S)))
    except ValueError:
        return HEARTBEAT_S


@contextmanager
def progress_bar(total: int, quiet: bool = False, stream: TextIO | None = None) -> Iterator[Tracker]:
    """A Tracker for the training: nothing when quiet, plain lines on `stream` (default stdout)
    when it is not a terminal, else a rich bar."""
    if quiet:
        yield Tracker()
        return
    stream = stream or sys.stdout
    if not stream.isatty():
        lines = LineProgress(total, stream, heartbeat_interval())
        lines.start()
        try:
            yield lines
        finally:
            lines.close()
        lines._write(lines.heartbeat())  # the last word: every run-step done, the total wall
        return
    columns = (
        TextColumn("training"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("run-steps"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, transient=False) as progress:
        task = progress.add_task("train", total=total)
        yield _Bar(progress, task)
