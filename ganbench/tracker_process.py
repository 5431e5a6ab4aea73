"""The MLflow tracker in a side process, for a caller that has not imported MLflow.

Importing MLflow with its SQLAlchemy store takes 2 s on a quiet 2-core machine (4 s on a slow
one): a quarter of a small suite's `ganbench run`, more than its training. So `ganbench run`
starts this process (``prestart``) once the suite is loaded and before it imports torch: the
process imports MLflow on the other core while the caller imports torch, plans, and evaluates
the references. ``connect`` then hands it the suite's store and returns a ``TrackerProcess``,
whose methods are the ``Tracker``'s (tracking.py), run over a pipe.

Each call waits for its answer before the next is sent, so the commit protocol (MLflow child
RUNNING -> record saved -> child FINISHED) is the in-process one, in the same order, and only
one process ever writes to the store. A call is held back from SIGINT/SIGTERM (the pipe never
carries half a message); the process ignores both signals (the caller's interrupt handling
decides what is closed as KILLED, through the same calls) and ends when its pipe closes, which
happens with its caller however that ends. A caller that has imported MLflow already (a tuning
study, a test, a notebook that used it) keeps the tracker in-process: nothing to hide there.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pickle
import subprocess
import sys
import threading
import traceback
from dataclasses import replace
from pathlib import Path
from typing import Any

from ganbench.errors import BadInput, OutputError
from ganbench.runner import interrupts
from ganbench.tracking import Tracker

# The child: ignore the signals first (one in the few milliseconds before that line ends it, and the
# caller's next call stops the suite with one line), then serve this ganbench's code (the path).
CHILD = (
    "import signal, sys; [signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)]; "
    "sys.path.insert(0, sys.argv[1]); from ganbench.tracker_process import serve; serve()"
)
CALLS = ("reconcile", "start_parent", "finish_run", "supersede", "log_suite", "end_parent")  # and log_run
_spare: TrackerProcess | None = None  # started by prestart, taken by connect


def wanted() -> bool:
    """A side process pays off when this process has not imported MLflow (and can handle signals)."""
    return "mlflow" not in sys.modules and threading.current_thread() is threading.main_thread()


def prestart() -> None:
    """Start a tracker process now, to import MLflow while the caller goes on; ``connect`` takes
    it. One that nobody takes is ended by ``discard`` (or at exit)."""
    global _spare
    if _spare is None and wanted():
        with contextlib.suppress(OSError):  # no process to be had: the tracker stays in-process
            _spare = TrackerProcess()


def discard() -> None:
    """End a prestarted process that was not taken (it holds nothing yet)."""
    process = _take_spare()
    if process is not None:
        process.close(timeout=0)


def _take_spare() -> TrackerProcess | None:
    global _spare
    process, _spare = _spare, None
    return process


atexit.register(discard)


def connect(uri: str, experiment: str, artifact_root: Path, out_dir: Path) -> Tracker | TrackerProcess:
    """The suite's tracker: the prestarted process, opened on this store, or else an in-process
    ``Tracker``. Either way, ``close()`` it when done."""
    process = _take_spare()
    if process is None:
        return Tracker(uri, experiment, artifact_root=artifact_root, out_dir=out_dir)
    try:
        process.call("open", uri, experiment, artifact_root=artifact_root, out_dir=out_dir)
    except BaseException:
        process.close()
        raise
    return process


class TrackerProcess:
    """A ``Tracker`` in a child process; ``log_run``, ``finish_run``, ... are called over a pipe."""

    def __init__(self) -> None:
        root = Path(__file__).resolve().parent.parent
        self._child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(root)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        self._broken = False

    def __getattr__(self, name: str) -> Any:
        if name not in CALLS:
            raise AttributeError(name)
        return lambda *args, **kwargs: self.call(name, *args, **kwargs)

    def log_run(
        self, result: Any, artifacts: list[Path], terminate: bool = True, generator: Path | None = None
    ) -> str:
        """As Tracker.log_run, without the arrays MLflow does not get (the generator's weights go
        as the file `generator`)."""
        light = replace(result, samples=None, snapshots=[], generator=None)
        return self.call("log_run", light, artifacts, terminate=terminate, generator=generator)

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Send one call and wait for its answer; the child's error is raised here."""
        if self._broken:
            raise OutputError(self._ended())
        with interrupts.deferred():
            try:
                pickle.dump((name, args, kwargs), self._child.stdin)
                self._child.stdin.flush()
                ok, value = pickle.load(self._child.stdout)
            except BaseException as err:  # the pipe's state is unknown now: no further calls
                self._broken = True
                if isinstance(err, (OSError, EOFError, pickle.UnpicklingError)):
                    raise OutputError(self._ended()) from None
                raise
        if not ok:
            raise value
        return value

    def close(self, timeout: float = 60) -> None:
        """Close the pipe and wait up to `timeout` s for the process to end (every call was
        answered already), then kill it (0: at once, for one that holds nothing)."""
        with contextlib.suppress(OSError):
            self._child.stdin.close()
        try:
            self._child.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._child.kill()
            self._child.wait()
        self._child.stdout.close()

    def _ended(self) -> str:
        code = self._child.poll()
        how = (
            "no answer" if code is None else f"killed by signal {-code}" if code < 0 else f"exit code {code}"
        )
        return f"the MLflow tracker process stopped ({how}); the lines above say why"


def serve() -> None:
    """The child's loop: one (name, args, kwargs) at a time from stdin, one (ok, value) back."""
    requests = os.fdopen(os.dup(0), "rb")
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # whatever MLflow prints goes to stderr: stdout is the answers' pipe
    import mlflow.store.tracking.sqlalchemy_store  # noqa: F401 - the import this process exists for

    tracker: Tracker | None = None
    while True:
        try:
            name, args, kwargs = pickle.load(requests)
        except EOFError:  # the caller closed the pipe (or ended)
            return
        try:
            if name == "open":
                tracker, value = Tracker(*args, **kwargs), None
            else:
                value = getattr(tracker, name)(*args, **kwargs)
            answer = (True, value)
        except (BadInput, OutputError) as err:  # one-line errors, raised as such in the caller
            answer = (False, err)
        except Exception as err:  # noqa: BLE001 - a bug: its traceback, as text (MLflow's own
            # exception classes would need MLflow to be unpickled)
            answer = (
                False,
                RuntimeError("in the MLflow tracker process:\n" + "".join(traceback.format_exception(err))),
            )
        try:
            pickle.dump(answer, replies)
            replies.flush()
        except OSError:  # the caller is gone
            return
