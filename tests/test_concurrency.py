"""Several `ganbench run` processes at once: on one output dir (one trains, the others are refused
or wait; no run trained twice) and on one fresh shared tracking store (its set-up is serialised)."""

from __future__ import annotations

import json
import re
import threading
import time

import pytest

from ganbench.cli import main
from ganbench.runner import lock
from tests.conftest import write
from tests.proc_helpers import Ganbench, is_child, mlflow_runs

SUITE = """
name: crowd
defaults:
  steps: 20
  batch_size: 32
  eval_every: 20
  eval_samples: 200
  w1_points: 100
  model: {arch: mlp, hidden: 16, depth: 2, z_dim: 2}
datasets: [ring8]
seeds: 2
variants:
  gan: {loss: ns, optimizer: {name: adam, lr: 1.0e-3}}
  wgan: {loss: wgan, clip: 0.05, optimizer: {name: rmsprop, lr: 1.0e-3}}
"""
N_RUNS = 4
REFUSED = re.compile(
    r"^error: \S+ is in use by another ganbench run \(pid \d+ on \S+, since [\d-]+ [\d:]+ UTC\); "
    r"wait for it to finish, or pass --wait$"
)
TRAINED = re.compile(r"\((\d+) trained now")


def trained(run: Ganbench) -> int:
    found = TRAINED.search(run.stdout)
    return int(found.group(1)) if found else 0


def finished_children(uri: str, experiment: str = "crowd") -> dict[str, list]:
    out: dict[str, list] = {}
    for r in mlflow_runs(uri, experiment):
        assert r.info.status != "RUNNING"
        if is_child(r) and r.info.status == "FINISHED":
            out.setdefault((r.data.tags["ganbench.out_dir"], r.data.tags["run_id"]), []).append(r.info.run_id)
    return out


def test_four_processes_on_one_output_dir(tmp_path):
    """Two wait for the lock, two do not: those are refused (exit 75) or find the work done."""
    path, out = write(tmp_path, SUITE), tmp_path / "out"
    base = ["run", str(path), "--out", str(out), "--devices", "cpu", "--runs-per-device", "1", "--quiet"]
    procs = [Ganbench(base + (["--wait"] if i % 2 else []), tmp_path / "logs", f"p{i}") for i in range(4)]
    codes = [p.wait(timeout=300) for p in procs]
    for p, code in zip(procs, codes, strict=True):
        assert "Traceback" not in p.stderr, p.stderr
        if code == 75:
            assert "--wait" not in p.proc.args and REFUSED.match(p.stderr.strip()), p.stderr
        else:
            assert code == 0, p.stderr
    assert sum(trained(p) for p in procs) == N_RUNS  # every run trained exactly once
    records = [json.loads(f.read_text()) for f in (out / "records").glob("*.json")]
    assert sum(r["status"] == "finished" for r in records) == N_RUNS
    children = finished_children(f"sqlite:///{out / 'mlflow.db'}")
    assert len(children) == N_RUNS and all(len(ids) == 1 for ids in children.values())


def test_processes_share_one_fresh_tracking_store(tmp_path):
    """MLflow's schema creation on a fresh SQLite file races ("duplicate column name") unless
    serialised: three runs into different output dirs, one store, all succeed."""
    path, uri = write(tmp_path, SUITE), f"sqlite:///{tmp_path / 'shared.db'}"
    procs = [
        Ganbench(
            ["run", str(path), "--out", str(tmp_path / f"out{i}"), "--tracking-uri", uri]
            + ["--devices", "cpu", "--runs-per-device", "1", "--quiet"],
            tmp_path / "logs",
            f"s{i}",
        )
        for i in range(3)
    ]
    for p in procs:
        assert p.wait(timeout=300) == 0, p.stderr
        assert p.stderr.strip() == "", p.stderr
    children = finished_children(uri)
    assert len(children) == 3 * N_RUNS and all(len(ids) == 1 for ids in children.values())


@pytest.fixture
def suite_path(tmp_path):
    return write(tmp_path, SUITE)


def test_held_lock_is_refused_in_one_line(suite_path, tmp_path, capsys):
    out = tmp_path / "out"
    with lock.hold(out):
        code = main(["run", str(suite_path), "--out", str(out), "--devices", "cpu", "--quiet"])
    err = capsys.readouterr().err
    assert code == 75 and REFUSED.match(err.strip()), err
    assert not (out / "records").exists()


def test_wait_runs_once_the_holder_is_done(suite_path, tmp_path, capsys):
    out = tmp_path / "out"
    held, release = threading.Event(), threading.Event()

    def holder():
        with lock.hold(out):
            held.set()
            release.wait(30)

    thread = threading.Thread(target=holder)
    thread.start()
    held.wait(10)
    threading.Timer(1.0, release.set).start()
    started = time.monotonic()
    argv = ["run", str(suite_path), "--out", str(out), "--devices", "cpu", "--runs-per-device", "1"]
    code = main([*argv, "--quiet", "--wait", "--steps", "5", "--seeds", "1"])
    thread.join()
    assert code == 0 and time.monotonic() - started >= 1.0
    assert "waiting for it to finish" in capsys.readouterr().err


def test_stale_lock_of_a_dead_process_is_taken_over(suite_path, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    stale = {"pid": 2**22 + 12345, "host": "elsewhere", "started": 0}
    (out / lock.LOCK_NAME).write_text(json.dumps(stale))  # written, but no process holds its flock
    argv = ["run", str(suite_path), "--out", str(out), "--devices", "cpu", "--runs-per-device", "1"]
    assert main([*argv, "--quiet", "--steps", "5", "--seeds", "1"]) == 0
    assert (out / lock.LOCK_NAME).read_text() == ""  # released: names nobody
