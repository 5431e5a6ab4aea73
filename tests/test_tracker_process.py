"""The MLflow tracker in a side process (ganbench/tracker_process.py): the same records as the
in-process tracker, errors raised in the caller, and a process that dies is one line and a
resumable suite."""

from __future__ import annotations

import os
import signal

import pytest

from ganbench import api, store, tracker_process
from ganbench.errors import OutputError
from ganbench.suite import load_suite
from tests.conftest import TINY_SUITE, write
from tests.proc_helpers import (
    Ganbench,
    command_line,
    is_child,
    mlflow_runs,
    no_processes_left,
    session_pids,
    wait_for,
)


def mlflow_view(out) -> dict:
    """What MLflow holds of an output dir, without MLflow's ids and times: per run id (and for the
    parent), its status, params, final metrics and artifact names."""
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{out / 'mlflow.db'}"
    client, runs = MlflowClient(uri), mlflow_runs(uri, "tiny")
    view = {}
    for run in runs:
        key = run.data.tags["run_id"] if is_child(run) else "parent"
        artifacts = sorted(a.path for a in client.list_artifacts(run.info.run_id))
        artifacts += sorted(a.path for a in client.list_artifacts(run.info.run_id, "generator"))
        view[key] = (run.info.status, run.data.params, run.data.metrics, artifacts)
    return view


def test_a_side_process_records_what_the_in_process_tracker_does(tmp_path, monkeypatch):
    suite = load_suite(
        write(tmp_path, TINY_SUITE.replace("steps: 60", "steps: 20").replace("seeds: 2", "seeds: 1"))
    )
    api.run_suite(suite, api.RunOptions(out=tmp_path / "here", quiet=True))  # MLflow is imported here

    monkeypatch.setattr(tracker_process, "wanted", lambda: True)
    tracker_process.prestart()
    process = tracker_process._spare
    assert process is not None
    outcome = api.run_suite(suite, api.RunOptions(out=tmp_path / "side", quiet=True))
    assert tracker_process._spare is None and process._child.poll() == 0  # taken, then ended

    here, side = mlflow_view(tmp_path / "here"), mlflow_view(tmp_path / "side")
    params = lambda view: {k: {p: v for p, v in s[1].items() if p != "suite_file"} for k, s in view.items()}  # noqa: E731
    assert len(side) == 1 + len(suite.specs)
    assert {k: s[0] for k, s in side.items()} == {k: s[0] for k, s in here.items()}
    assert params(side) == params(here)
    results = lambda view: {k: {m: v for m, v in s[2].items() if m != "wall_s"} for k, s in view.items()}  # noqa: E731
    assert results(side) == results(here)  # the parent's too: the leaderboard and the claims
    assert {k: s[3] for k, s in side.items()} == {k: s[3] for k, s in here.items()}
    assert any("generator/" in name for name in side[suite.specs[0].run_id][3])
    # The records name the side process's MLflow children.
    children = [r for r in mlflow_runs(f"sqlite:///{tmp_path / 'side' / 'mlflow.db'}", "tiny") if is_child(r)]
    assert {i for i in outcome.runs["mlflow_run_id"] if i} == {r.info.run_id for r in children}

    # Nothing left to train: a prestarted process nobody takes is ended.
    tracker_process.prestart()
    unused = tracker_process._spare
    api.run_suite(suite, api.RunOptions(out=tmp_path / "side", quiet=True))
    assert tracker_process._spare is None and unused._child.poll() is not None


def test_the_processes_errors_are_raised_in_the_caller(tmp_path):
    process = tracker_process.TrackerProcess()
    try:
        broken = tmp_path / "mlflow.db"
        broken.write_bytes(b"not a database" * 100)
        with pytest.raises(OutputError, match="not a usable MLflow SQLite store"):
            process.call("open", f"sqlite:///{broken}", "x", artifact_root=tmp_path / "a", out_dir=tmp_path)
        with pytest.raises(RuntimeError, match="in the MLflow tracker process"):  # a bug: no tracker
            process.end_parent()
        with pytest.raises(AttributeError):
            process.log_metric  # noqa: B018 - only the Tracker's calls are sent
    finally:
        process.close()
    assert process._child.returncode == 0


# Two ensembles (the GAN's, the WGAN's) of about 2 s each: time to kill the tracker before a record.
SLOW = (
    TINY_SUITE.replace("steps: 60", "steps: 2000")
    .replace("eval_every: 30", "eval_every: 1000")
    .replace("seeds: 2", "seeds: 1")
)


def test_a_tracker_process_that_dies_is_one_line_and_the_suite_resumes(tmp_path):
    """Killed while the suite trains: the command stops at its first record with exit 3 and one
    line; the next `run` trains the runs again (none was recorded) and MLflow agrees."""
    path = write(tmp_path, SLOW)
    out, logs = tmp_path / "out", tmp_path / "logs"
    argv = ["run", str(path), "--out", str(out), "--quiet", "--devices", "cpu"]
    run = Ganbench(argv, logs, "killed")
    uri = f"sqlite:///{out / 'mlflow.db'}"

    def tracker_pids() -> list[int]:
        return [p for p in session_pids(run.pid) if "tracker_process import serve" in command_line(p)]

    def training() -> bool:  # the store is open and the suite's MLflow parent exists
        return (out / ".ganbench.inflight").exists() and any(
            not is_child(r) for r in mlflow_runs(uri, "tiny")
        )

    assert wait_for(training, timeout=120, poll=0.2) and tracker_pids(), run.stderr
    trained = [r for r in store.load(out).values() if r.status != "reference"]
    assert not trained, "the suite recorded runs before the tracker was killed: make it slower"
    os.kill(tracker_pids()[0], signal.SIGKILL)
    assert run.wait(timeout=300) == 3, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "MLflow tracker process stopped" in lines[0], run.stderr
    assert no_processes_left(run.pid)

    again = Ganbench(argv, logs, "again")
    assert again.wait(timeout=300) in (0, 1), again.stderr
    children = [r for r in mlflow_runs(uri, "tiny") if is_child(r)]
    finished = [r for r in children if r.info.status == "FINISHED"]
    specs = load_suite(path).specs
    assert sorted(r.data.tags["run_id"] for r in finished) == sorted(s.run_id for s in specs)
    parents = {r.info.status for r in mlflow_runs(uri, "tiny") if not is_child(r)}
    assert parents == {"KILLED", "FINISHED"}  # the first invocation's, closed by the second
