"""Progress over trials: a rich bar on a terminal (with the best value so far), else one flushed
line per finished trial with its value and the best so far (logs, CI, nohup)."""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ganbench.tune.objective import Objective


class TrialProgress:
    """An Optuna callback (``callbacks=[progress]``); thread-safe, as trials may run in threads."""

    def __init__(self, study: str, objective: Objective, bar: Progress | None, total: int) -> None:
        self.study, self.objective, self.bar = study, objective, bar
        self.task = bar.add_task(study, total=total, best="") if bar is not None else None
        self.best: tuple[int, float] | None = None
        self.lock = threading.Lock()

    def __call__(self, study: Any, trial: Any) -> None:
        with self.lock:
            value = trial.value if trial.state.name == "COMPLETE" else None
            if value is not None and (self.best is None or self.objective.better(value, self.best[1])):
                self.best = (trial.number, value)
            best = f"best {self.best[1]:.4g} (trial {self.best[0]})" if self.best else "no value yet"
            if self.bar is not None:
                self.bar.update(self.task, advance=1, best=best)
                return
            shown = (
                f"{self.objective.metric.name}={value:.4g}" if value is not None else trial.state.name.lower()
            )
            error = trial.user_attrs.get("error")
            note = f" ({error})" if error and value is None else ""
            print(f"{self.study}: trial {trial.number} {shown}{note}; {best}", flush=True)


@contextlib.contextmanager
def trial_progress(study: str, objective: Objective, total: int, quiet: bool) -> Iterator[Any]:
    """The callback to give Optuna (None when quiet)."""
    if quiet:
        yield None
        return
    if not sys.stdout.isatty():
        yield TrialProgress(study, objective, None, total)
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("trials"),
        TimeElapsedColumn(),
        TextColumn("{task.fields[best]}"),
    )
    with Progress(*columns) as bar:
        yield TrialProgress(study, objective, bar, total)
