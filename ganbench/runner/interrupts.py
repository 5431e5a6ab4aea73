"""SIGINT and SIGTERM during a suite: stop cleanly, at a point where the records are consistent.

While ``handled()`` is active (main thread only), either signal raises ``Interrupted`` in the main
thread, once: a second signal during the clean-up that follows is ignored, so the clean-up
(stopping workers, marking MLflow runs KILLED) always completes. Inside ``deferred()`` (recording
one run: MLflow child, record file, MLflow status) a signal is held back and raised when the
block ends, so a run is never half-recorded by an interrupt.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

from ganbench.errors import Interrupted

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _State:
    active = False  # handlers installed
    deferring = 0  # depth of deferred() blocks
    pending: int | None = None  # a signal held back by deferred()
    raised = False  # Interrupted already raised: ignore further signals


_state = _State()


def _handler(signum: int, frame) -> None:
    if _state.raised:
        return
    if _state.deferring:
        _state.pending = _state.pending or signum
        return
    _state.raised = True
    raise Interrupted(signum)


@contextlib.contextmanager
def handled() -> Iterator[None]:
    """Turn SIGINT/SIGTERM into ``Interrupted`` for the block (a no-op off the main thread or
    when already active)."""
    if _state.active or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in SIGNALS}
    _state.active, _state.deferring, _state.pending, _state.raised = True, 0, None, False
    for s in SIGNALS:
        signal.signal(s, _handler)
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        _state.active = False


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Hold SIGINT/SIGTERM back until the block is done, then raise ``Interrupted``."""
    _state.deferring += 1
    try:
        yield
    finally:
        _state.deferring -= 1
    if not _state.deferring and _state.pending is not None and not _state.raised:
        signum, _state.pending = _state.pending, None
        _state.raised = True
        raise Interrupted(signum)


def quiet() -> None:
    """From now on (clean-up), signals are ignored rather than raised."""
    _state.raised = True
