"""Helpers for tests that run the real `ganbench` command in subprocesses and kill them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import mlflow


def env() -> dict[str, str]:
    """The test's environment, without a tracking URI that would redirect MLflow."""
    out = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    out["PYTHONUNBUFFERED"] = "1"
    out["OMP_NUM_THREADS"] = "1"  # tiny nets: threads only contend on a shared 2-core machine
    return out


class Ganbench:
    """One `python -m ganbench.cli ...` in its own session (so its whole process tree can be
    found and killed), with stdout/stderr in files."""

    def __init__(self, args: list[str], logs: Path, name: str, cwd: Path | None = None) -> None:
        logs.mkdir(parents=True, exist_ok=True)
        self.stdout_path, self.stderr_path = logs / f"{name}.out", logs / f"{name}.err"
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "ganbench.cli", *args],
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                # A process the test kills (SIGKILL) cannot remove its temporary folders: they
                # stay in the test's own directory rather than in the machine's /tmp.
                env=env() | {"TMPDIR": str(logs)},
                cwd=cwd,
            )
        self.pid = self.proc.pid

    def wait(self, timeout: float = 180) -> int:
        return self.proc.wait(timeout=timeout)

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def kill_group(self, signum: int) -> None:
        os.killpg(self.pid, signum)


def session_pids(sid: int) -> list[int]:
    """Live (non-zombie) processes of session `sid`, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        state, session = fields[0], int(fields[3])
        if session == sid and state != "Z":
            found.append(int(entry.name))
    return found


def wait_for(condition: Callable[[], bool], timeout: float, poll: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(poll)
    return condition()


def command_line(pid: int) -> str:
    """A process's command line ("" once it has ended)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def session_commands(sid: int) -> list[str]:
    """The command lines of session `sid`'s live processes (for a failing test's message)."""
    return [line[:200] for line in map(command_line, session_pids(sid)) if line]


def no_processes_left(sid: int, timeout: float = 10) -> bool:
    return wait_for(lambda: not session_pids(sid), timeout, poll=0.1)


def mlflow_runs(uri: str, experiment: str) -> list:
    client = mlflow.tracking.MlflowClient(uri)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return []
    return client.search_runs([found.experiment_id], max_results=10000)


def is_child(run) -> bool:
    return "mlflow.parentRunId" in run.data.tags
