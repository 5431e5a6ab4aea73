"""One `ganbench run` at a time per output dir.

The lock is an advisory ``flock`` on ``DIR/.ganbench.lock``, which also holds who took it (pid,
host, start time) for the message a second invocation prints. The kernel drops a flock when its
process dies, however it dies, so a lock left by a killed run is stale by construction and the
next run simply takes it over. Where flock is unavailable (some network filesystems) the file's
pid is checked instead: a lock whose process is gone from this host is taken over.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path

from ganbench.errors import Locked
from ganbench.files import output_error

LOCK_NAME = ".ganbench.lock"
POLL_S = 0.5  # --wait without flock: how often the holder is checked
HOLDER_WAIT_S = 5.0  # how long a refused run waits for the holder to have written its name (a loaded machine can deschedule the holder between its flock and its write for over a second)


def holder_text(info: dict) -> str:
    started = info.get("started")
    when = (
        datetime.fromtimestamp(started, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        if isinstance(started, (int, float))
        else "an unknown time"
    )
    return f"pid {info.get('pid', '?')} on {info.get('host', '?')}, since {when}"


@contextlib.contextmanager
def hold(out_dir: Path, wait: bool = False, on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the output dir's lock for the duration of the block.

    Raises ``Locked`` naming the holder, unless `wait`: then `on_wait` is told (once) who holds
    it, and the block runs when the holder is done."""
    path = Path(out_dir) / LOCK_NAME
    try:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        handle = open(path, "a+")  # noqa: SIM115 - closed in the finally below
    except OSError as err:
        raise output_error(Path(out_dir), err) from None
    try:
        _acquire(handle, out_dir, wait, on_wait)
        _write_holder(handle)
        yield
    finally:
        with contextlib.suppress(OSError):
            handle.truncate(0)  # a free lock names nobody
        with contextlib.suppress(OSError):
            fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def _acquire(handle, out_dir: Path, wait: bool, on_wait: Callable[[str], None] | None) -> None:
    # The holder writes who it is just after taking the flock and clears it just before letting
    # go: an empty file under a held lock is one of those instants, so look again, briefly.
    deadline = time.monotonic() + HOLDER_WAIT_S
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        except OSError as err:
            if err.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
                raise output_error(Path(out_dir), err) from None
            _acquire_by_pid(handle, out_dir, wait, on_wait)
            return
        info = _read_holder(handle)
        if "pid" in info or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    message = f"{out_dir} is in use by another ganbench run ({holder_text(info)})"
    if not wait:
        raise Locked(f"{message}; wait for it to finish, or pass --wait")
    if on_wait:
        on_wait(f"{message}; waiting for it to finish")
    fcntl.flock(handle, fcntl.LOCK_EX)  # blocks; a signal still interrupts it


def _acquire_by_pid(handle, out_dir: Path, wait: bool, on_wait: Callable[[str], None] | None) -> None:
    told = False
    while True:
        info = _read_holder(handle)
        if not _alive(info):
            return  # free, or stale: its process is gone
        message = f"{out_dir} is in use by another ganbench run ({holder_text(info)})"
        if not wait:
            raise Locked(f"{message}; wait for it to finish, or pass --wait")
        if on_wait and not told:
            on_wait(f"{message}; waiting for it to finish")
            told = True
        time.sleep(POLL_S)


def _alive(info: dict) -> bool:
    pid = info.get("pid")
    if not isinstance(pid, int) or pid == os.getpid():
        return False
    if info.get("host") != socket.gethostname():
        return True  # cannot tell: assume a live run elsewhere
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_holder(handle) -> dict:
    try:
        handle.seek(0)
        info = json.loads(handle.read() or "{}")
        return info if isinstance(info, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_holder(handle) -> None:
    info = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
    try:
        handle.seek(0)
        handle.truncate(0)
        handle.write(json.dumps(info))
        handle.flush()
    except OSError as err:
        raise output_error(Path(handle.name), err) from None
