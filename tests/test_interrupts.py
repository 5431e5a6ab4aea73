"""Kills and signals on a real `ganbench run`, then resumes: nothing lost, nothing doubled.

One history of five invocations of the same suite on one output dir (in-process or 2 workers):
  1. SIGKILL of the whole process group during set-up (as soon as it holds the output dir),
  2. SIGKILL of the process group right after its first run was recorded,
  3. SIGINT to the main process while workers train,
  4. SIGTERM to the main process while workers train,
  5. the same command again, to the end.
The tests below check each step and the final accounting (records, runs.csv and MLflow).
"""

from __future__ import annotations

import json
import re
import signal

import pandas as pd
import pytest

from ganbench.suite import load_suite
from tests.conftest import write
from tests.proc_helpers import Ganbench, is_child, mlflow_runs, no_processes_left, session_commands, wait_for

# `quick` runs finish at once; the `slow` unit trains for several seconds, so signals hit training.
SUITE = """
name: kills
defaults:
  batch_size: 32
  eval_samples: 200
  w1_points: 100
  model: {arch: mlp, hidden: 16, depth: 2, z_dim: 2}
datasets: [ring8]
seeds: 2
variants:
  quick: {loss: ns, steps: 20, eval_every: 20, optimizer: {name: adam, lr: 1.0e-3}}
  quick_wgan: {loss: wgan, clip: 0.05, steps: 20, eval_every: 20, optimizer: {name: rmsprop, lr: 1.0e-3}}
  slow: {loss: ns, steps: 3000, eval_every: 1500, optimizer: {name: adam, lr: 1.0e-3}}
"""
LINE = re.compile(r"^interrupted: (\d+) runs finished, (\d+) pending; run the same command to resume$")


def done_records(out) -> dict[str, tuple[int, bytes]]:
    """run id -> (mtime, bytes) of every record of a finished or diverged run."""
    found = {}
    for path in (out / "records").glob("*.json"):
        data = path.read_bytes()
        if json.loads(data).get("status") in ("finished", "diverged"):
            found[path.stem] = (path.stat().st_mtime_ns, data)
    return found


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("kills")
    path = write(tmp, SUITE)
    out, logs = tmp / "out", tmp / "logs"
    argv = ["run", str(path), "--out", str(out), "--devices", "cpu", "--quiet", "--runs-per-device"]
    pool, in_process = [*argv, "2"], [*argv, "1"]  # 2 worker processes, or training in the main one
    steps = []

    def step(name, trigger, signum, group, argv):
        run = Ganbench(argv, logs, name)
        reached = wait_for(lambda: trigger(run), timeout=120)
        (run.kill_group if group else lambda s: __import__("os").kill(run.pid, s))(signum)
        code = run.wait(timeout=120)
        left = no_processes_left(run.pid)
        steps.append({"name": name, "reached": reached, "code": code, "stderr": run.stderr, "left": left,
                      "records": done_records(out)})  # fmt: skip

    lock = out / ".ganbench.lock"
    step("kill-setup", lambda r: lock.exists() and lock.stat().st_size > 0, signal.SIGKILL, True, in_process)
    before = len(done_records(out))
    step("kill-after-record", lambda r: len(done_records(out)) > before, signal.SIGKILL, True, pool)
    # Training: the queue manager and 2 workers are up (multiprocessing's spawned children; the
    # MLflow tracker process and the resource tracker are not).
    training = lambda r: sum("spawn_main" in c for c in session_commands(r.pid)) >= 3  # noqa: E731
    step("sigint", training, signal.SIGINT, False, pool)
    step("sigterm", training, signal.SIGTERM, False, pool)
    final = Ganbench(in_process, logs, "resume")  # the same runs: --runs-per-device is not in a run id
    code = final.wait(timeout=300)
    steps.append({"name": "resume", "code": code, "stderr": final.stderr, "stdout": final.stdout,
                  "left": no_processes_left(final.pid), "records": done_records(out)})  # fmt: skip
    return {"suite": load_suite(path), "out": out, "steps": {s["name"]: s for s in steps}}


def test_every_kill_happened_at_its_moment_and_left_no_process(history):
    for name, s in history["steps"].items():
        assert s.get("reached", True), f"{name}: the moment to kill never came"
        assert s["left"], f"{name}: processes left behind"
    assert history["steps"]["kill-setup"]["code"] == -signal.SIGKILL
    assert history["steps"]["kill-after-record"]["code"] == -signal.SIGKILL


@pytest.mark.parametrize("name, code", [("sigint", 130), ("sigterm", 143)])
def test_signal_exits_with_its_code_and_one_line(history, name, code):
    s = history["steps"][name]
    assert s["code"] == code, s["stderr"]
    lines = s["stderr"].strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in s["stderr"], s["stderr"]
    finished, pending = map(int, LINE.match(lines[0]).groups())
    n = len(history["suite"].specs)
    assert finished + pending == n and finished == len(s["records"]) and pending > 0


def test_resume_finishes_every_run_once_and_retrains_none(history):
    steps, out, specs = history["steps"], history["out"], history["suite"].specs
    final = steps["resume"]
    assert final["code"] == 0 and "Traceback" not in final["stderr"], final["stderr"]
    assert set(final["records"]) == {s.run_id for s in specs}  # nothing lost
    for name in ("kill-setup", "kill-after-record", "sigint", "sigterm"):
        for run_id, snapshot in steps[name]["records"].items():  # finished before: untouched
            assert final["records"][run_id] == snapshot, f"{run_id} retrained after {name}"
    runs = pd.read_csv(out / "runs.csv")
    trained = runs[runs["run_id"].isin({s.run_id for s in specs})]
    assert len(trained) == len(specs) and trained["run_id"].is_unique  # nothing doubled


def test_mlflow_agrees_with_the_records(history):
    out, specs = history["out"], history["suite"].specs
    runs = mlflow_runs(f"sqlite:///{out / 'mlflow.db'}", "kills")
    assert not [r for r in runs if r.info.status == "RUNNING"]
    parents = [r for r in runs if not is_child(r)]
    assert sorted(r.info.status for r in parents).count("FINISHED") == 1
    assert {r.info.status for r in parents} <= {"FINISHED", "KILLED"}
    records = {p.stem: json.loads(p.read_text()) for p in (out / "records").glob("*.json")}
    finished = {}
    for r in runs:
        if is_child(r) and r.info.status == "FINISHED":
            finished.setdefault(r.data.tags["run_id"], []).append(r.info.run_id)
    for spec in specs:
        assert finished.get(spec.run_id) == [records[spec.run_id]["mlflow_run_id"]], spec.run_id
    assert {r.info.status for r in runs if is_child(r)} <= {"FINISHED", "KILLED"}
