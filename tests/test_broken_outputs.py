"""Broken output dirs and failing runs through the real CLI: corrupt records and tables, a broken
MLflow store, a read-only or full disk (exit 3, one line, nothing half-written), failed runs
(exit 4, named in the summary with their first error line and the steps they did)."""

from __future__ import annotations

import contextlib
import errno
import io
import json
import shutil
import sqlite3

import pytest

import ganbench.files as files
from ganbench.cli import main
from ganbench.errors import OutputError
from ganbench.tracking import _Retrying
from tests.conftest import write

SUITE = """
name: broken
defaults:
  steps: 10
  batch_size: 32
  eval_every: 10
  eval_samples: 200
  w1_points: 100
  model: {arch: mlp, hidden: 16, depth: 2, z_dim: 2}
datasets: [ring8]
seeds: 2
variants:
  gan: {loss: ns, optimizer: {name: adam, lr: 1.0e-3}}
"""


@pytest.fixture(scope="module")
def finished_dir(tmp_path_factory):
    """The suite run once for the module."""
    tmp = tmp_path_factory.mktemp("finished")
    path, out = write(tmp, SUITE), tmp / "out"
    argv = ["run", str(path), "--out", str(out), "--devices", "cpu", "--runs-per-device", "1", "--quiet"]
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(argv) == 0
    return path, out


@pytest.fixture
def ran(finished_dir, tmp_path):
    """A copy of the finished output dir; returns (argv, out dir)."""
    path, original = finished_dir
    out = tmp_path / "out"
    shutil.copytree(original, out)
    argv = ["run", str(path), "--out", str(out), "--devices", "cpu", "--runs-per-device", "1", "--quiet"]
    return argv, out


def trained_now(text: str) -> int:
    return int(text.split(" trained now")[0].rsplit("(", 1)[1])


def run_records(out) -> dict:
    found = {}
    for path in (out / "records").glob("*.json"):
        rec = json.loads(path.read_text())
        if rec["variant"] == "gan":
            found[path.stem] = rec
    return found


def test_corrupt_record_is_named_moved_aside_and_retrained(ran, capsys):
    argv, out = ran
    run_id = sorted(run_records(out))[0]
    path = out / "records" / f"{run_id}.json"
    good = path.read_text()
    path.write_text(good[: len(good) // 2])  # truncated, as by a full disk in another tool
    assert main(argv) == 0
    captured = capsys.readouterr()
    warnings = captured.err.strip().splitlines()
    assert len(warnings) == 1 and str(path) in warnings[0] and "corrupt" in warnings[0], captured.err
    assert (out / "records" / "corrupt" / f"{run_id}.json").read_text() == good[: len(good) // 2]
    assert trained_now(captured.out) == 1
    assert json.loads(path.read_text())["metrics"] == json.loads(good)["metrics"]


def test_corrupt_runs_csv_is_rebuilt_from_records(ran, capsys):
    argv, out = ran
    table = out / "runs.csv"
    good = table.read_bytes()
    table.write_bytes(b"\xff\xfe garbage \x00" * 50)
    assert main(["leaderboard", str(out)]) == 2  # reading it: one line that says how to rebuild it
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "rebuilds it from the records" in err, err
    assert main(argv) == 0
    assert table.read_bytes() == good
    assert trained_now(capsys.readouterr().out) == 0


def test_broken_mlflow_db_is_named_with_how_to_recover(ran, capsys):
    argv, out = ran
    (out / "records" / f"{sorted(run_records(out))[0]}.json").unlink()  # one run left to train
    db = out / "mlflow.db"
    db.write_bytes(b"this is not an SQLite file" * 100)
    assert main(argv) == 3
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(db) in err and "move it aside" in err, err
    db.rename(out / "mlflow.db.broken")  # the recovery the message names
    assert main(argv) == 0


@pytest.mark.parametrize("error", [errno.ENOSPC, errno.EROFS])
def test_unwritable_output_dir_exits_3_and_writes_nothing_half(tmp_path, capsys, monkeypatch, error):
    path, out = write(tmp_path, SUITE), tmp_path / "out"
    argv = ["run", str(path), "--out", str(out), "--devices", "cpu", "--runs-per-device", "1", "--quiet"]

    def full(fd):
        raise OSError(error, __import__("os").strerror(error))

    monkeypatch.setattr(files.os, "fsync", full)  # every table and record write fails
    assert main(argv) == 3
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "cannot write" in err and "Traceback" not in err, err
    leftovers = [p for p in out.rglob("*") if p.is_file() and (p.suffix in (".json", ".csv", ".tmp"))]
    assert leftovers == []  # no record, no table, no temporary file
    monkeypatch.undo()
    assert main(argv) == 0  # and the same command works once the disk does


def test_full_sqlite_store_is_an_output_error():
    class Client:
        def log_batch(self, *args, **kwargs):
            raise sqlite3.OperationalError("database or disk is full")

    with pytest.raises(OutputError, match="cannot write"):
        _Retrying(Client(), __import__("pathlib").Path("/x/mlflow.db")).log_batch("id")


def test_failed_runs_exit_4_named_with_their_error_and_steps(tmp_path, capsys, monkeypatch):
    import ganbench.train as train

    calls = {"n": 0}
    original = train.critic_estimate

    def flaky(d_real, d_fake):
        calls["n"] += 1
        if calls["n"] > 7:
            raise RuntimeError("CUDA error: an illegal memory access was encountered (simulated)")
        return original(d_real, d_fake)

    monkeypatch.setattr(train, "critic_estimate", flaky)
    path, out = write(tmp_path, SUITE), tmp_path / "out"
    argv = ["run", str(path), "--out", str(out), "--devices", "cpu", "--runs-per-device", "1", "--quiet"]
    assert main(argv) == 4
    printed = capsys.readouterr().out
    failed = [line for line in printed.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 2 and all("after 7 steps: RuntimeError: CUDA error" in line for line in failed)
    records = run_records(out)
    assert {r["status"] for r in records.values()} == {"failed"}
    assert {r["steps_done"] for r in records.values()} == {7}
    monkeypatch.undo()
    assert main(argv) == 0  # failed runs are retried by the same command
    assert {r["status"] for r in run_records(out).values()} == {"finished"}


def test_runs_left_running_after_the_last_record_are_closed_by_a_no_op_run(ran, capsys):
    """An invocation killed after its last record (nothing left to train) leaves its MLflow parent
    RUNNING and its in-flight marker: the next invocation, with nothing to train, closes it."""
    from ganbench.api import INFLIGHT
    from ganbench.tracking import Tracker
    from tests.proc_helpers import mlflow_runs

    argv, out = ran
    uri = f"sqlite:///{out / 'mlflow.db'}"
    tracker = Tracker(uri, "broken", out / "mlartifacts", out_dir=out)
    left = tracker.start_parent("broken", {})  # as the killed invocation left it
    records = run_records(out)
    run_id, rec = sorted(records.items())[0]
    tags = {"mlflow.parentRunId": left, "run_id": run_id, **tracker.tags}
    # killed after the record was saved, before the child was closed: the record names it
    rec["mlflow_run_id"] = tracker.client.create_run(tracker.experiment_id, tags=tags).info.run_id
    (out / "records" / f"{run_id}.json").write_text(json.dumps(rec))
    # killed while logging a child whose record was never saved
    orphan = tracker.client.create_run(tracker.experiment_id, tags=tags).info.run_id
    (out / INFLIGHT).write_text(json.dumps({"pid": 1, "uri": uri}))
    assert main(argv) == 0
    assert trained_now(capsys.readouterr().out) == 0
    status = {r.info.run_id: r.info.status for r in mlflow_runs(uri, "broken")}
    assert status[left] == "KILLED" and status[orphan] == "KILLED"
    assert status[rec["mlflow_run_id"]] == "FINISHED" and "RUNNING" not in status.values()
    assert not (out / INFLIGHT).exists()
