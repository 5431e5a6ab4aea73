"""Backends behind one protocol: local, Ray and Slurm (submitit's local executor) give the same runs;
the one retry loop; the documented plugin backend; unknown names; Slurm's job errors and interrupts.

The failing losses are real code that suites name by import path (``FAILING``, ``FAILS_ONCE``
below); they count their failed attempts in a file, so retries are seen from outside.
"""

from __future__ import annotations

import os
import re
import signal
import sys
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
import torch.nn.functional as F

from ganbench import run as run_api
from ganbench.api import RunOptions, run_suite
from ganbench.cli import main
from ganbench.errors import BadInput
from ganbench.losses import GanLoss
from ganbench.metrics import EvalContext
from ganbench.runner.backends import backend_class
from ganbench.runner.local import LocalBackend
from ganbench.runner.plan import WorkUnit, plan_units
from ganbench.runner.slurm_backend import SlurmBackend, SlurmJobs, choose_executor
from ganbench.suite import load_suite
from tests.conftest import write
from tests.proc_helpers import Ganbench, no_processes_left, session_commands, wait_for

SUITE = """
name: backends
defaults:
  steps: 50
  batch_size: 32
  eval_every: 50
  eval_samples: 200
  w1_points: 100
  model: {arch: mlp, hidden: 16, depth: 2, z_dim: 2}
datasets: [ring8]
seeds: 2
variants:
  gan: {loss: ns, optimizer: {name: adam, lr: 1.0e-3, betas: [0.5, 0.999]}}
  wgan: {loss: wgan, clip: 0.05, n_critic: 2, optimizer: {name: rmsprop, lr: 1.0e-3}}
"""
VOLATILE = ["wall_s", "device", "mlflow_run_id"]  # where and when, not what
ATTEMPTS = "GANBENCH_TEST_ATTEMPTS"  # folder where the failing losses count their failures


def _fail(real, fake):
    """Counts a failed attempt (an attempt fails at its first critic update) and fails it."""
    with open(Path(os.environ[ATTEMPTS]) / "failures", "a") as log:
        log.write(f"{os.getpid()}\n")
    raise RuntimeError("planned failure")


def _ns_d(real, fake):
    return F.softplus(-real).mean(-1) + F.softplus(fake).mean(-1)


def _ns_g(real, fake):
    return F.softplus(-fake).mean(-1)


def _fails_once_d(real, fake):
    if not (Path(os.environ[ATTEMPTS]) / "failures").exists():
        _fail(real, fake)
    return _ns_d(real, fake)


FAILING = GanLoss(d_loss=_fail, g_loss=_ns_g)
FAILS_ONCE = GanLoss(d_loss=_fails_once_d, g_loss=_ns_g)


@pytest.fixture(scope="module")
def tracking_uri(tmp_path_factory) -> str:
    """One MLflow store for the file: creating one costs ~8 s of schema migrations."""
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


def failures(folder: Path) -> int:
    path = folder / "failures"
    return len(path.read_text().splitlines()) if path.exists() else 0


def runs_csv(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "runs.csv").drop(columns=VOLATILE)


def test_local_ray_and_slurm_give_identical_runs(tmp_path, tracking_uri):
    import ray

    suite = load_suite(write(tmp_path, SUITE))
    base = {"devices": "cpu", "quiet": True, "tracking_uri": tracking_uri}
    local = run_suite(suite, RunOptions(out=tmp_path / "local", runs_per_device=1, **base))
    slurm = run_suite(
        suite, RunOptions(out=tmp_path / "slurm", backend="slurm", slurm_executor="local", **base)
    )
    remote = run_suite(suite, RunOptions(out=tmp_path / "ray", backend="ray", **base))
    assert local.trained == slurm.trained == remote.trained == 4
    expected = runs_csv(tmp_path / "local")
    assert set(expected["status"]) == {"finished", "reference"}
    pd.testing.assert_frame_equal(expected, runs_csv(tmp_path / "slurm"))
    pd.testing.assert_frame_equal(expected, runs_csv(tmp_path / "ray"))
    assert list((tmp_path / "slurm" / "slurm_logs").glob("*_result.pkl"))  # submitit's default folder
    assert not ray.is_initialized()  # the cluster the backend started is shut down


@pytest.mark.parametrize("retries", [0, 2])
def test_a_failing_unit_is_tried_retries_more_times(tmp_path, monkeypatch, retries):
    monkeypatch.setenv(ATTEMPTS, str(tmp_path))
    bad = {"loss": "tests.test_backends:FAILING", "optimizer": {"name": "adam", "lr": 1.0e-3}}
    suite = load_suite(write(tmp_path, SUITE), steps=10, overrides={"variants": {"bad": bad}})
    received = []
    LocalBackend(["cpu"], 1, retries).run(plan_units(suite.specs), EvalContext(), received.append, None)
    assert failures(tmp_path) == retries + 1  # one unit (both seeds), tried 1 + retries times
    ((first, second),) = received  # one sink call: the last attempt's results
    assert first.status == second.status == "failed" and "RuntimeError: planned failure" in first.error


def test_only_the_last_attempt_reaches_the_sink(tmp_path, monkeypatch):
    monkeypatch.setenv(ATTEMPTS, str(tmp_path))
    flaky = {"loss": "tests.test_backends:FAILS_ONCE", "optimizer": {"name": "adam", "lr": 1.0e-3}}
    suite = load_suite(write(tmp_path, SUITE), steps=10, overrides={"variants.wgan": flaky})
    units = plan_units(suite.specs)
    received = []
    LocalBackend(["cpu"], 1, retries=1).run(units, EvalContext(), received.append, None)
    assert failures(tmp_path) == 1  # the flaky unit failed once, then trained
    assert len(received) == len(units) == 2  # one sink call per unit: its last attempt
    assert sorted(r.status for batch in received for r in batch) == ["finished"] * 4


def docs_backend() -> str:
    """The backend example of docs/extending.md, as written there."""
    text = (Path(__file__).parents[1] / "docs" / "extending.md").read_text()
    section = text.split("\n## A backend\n", 1)[1].split("\n## ", 1)[0]
    (code,) = re.findall(r"```python\n(.*?)```", section, re.S)
    return code


def test_the_documented_plugin_backend_by_import_path(tmp_path, tracking_uri, monkeypatch):
    (tmp_path / "my_backends.py").write_text(docs_backend())
    monkeypatch.syspath_prepend(str(tmp_path))
    path = write(tmp_path, SUITE)
    argv = ["run", str(path), "--devices", "cpu", "--seeds", "1", "--steps", "10", "--quiet"]
    argv += ["--tracking-uri", tracking_uri]
    assert main([*argv, "--out", str(tmp_path / "plugin"), "--backend", "my_backends:ThreadBackend"]) == 0
    assert "my_backends" in sys.modules  # imported by --backend, and nothing else names it
    assert main([*argv, "--out", str(tmp_path / "local"), "--runs-per-device", "1"]) == 0
    pd.testing.assert_frame_equal(runs_csv(tmp_path / "local"), runs_csv(tmp_path / "plugin"))


def test_an_unknown_backend_is_one_line_and_exit_2(tmp_path, capsys):
    path = write(tmp_path, SUITE)
    with pytest.raises(SystemExit) as exit_info:
        main(["run", str(path), "--out", str(tmp_path / "o"), "--backend", "slurmm"])
    assert exit_info.value.code == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.endswith(
        "unknown backend 'slurmm' (did you mean 'slurm'?); expected one of: local, ray, slurm"
    )
    with pytest.raises(BadInput, match="^unknown backend 'nope'"):
        run_api(path, backend="nope")
    with pytest.raises(BadInput, match="^backend 'os:sep': expected a class with from_options"):
        backend_class("os:sep")


def test_backends_are_built_from_the_run_options(tmp_path, monkeypatch):
    options = RunOptions(devices="cpu", runs_per_device=3, retries=2, slurm_time=5, slurm_cpus_per_job=2)
    assert backend_class("local").from_options(options, tmp_path) == LocalBackend(["cpu"], 3, 2)
    slurm = backend_class("slurm").from_options(replace(options, slurm_executor="local"), tmp_path)
    assert slurm == SlurmBackend(
        tmp_path / "slurm_logs", "local", time_min=5, cpus_per_job=2, retries=2, force_cpu=True
    )
    monkeypatch.setenv("GANBENCH_SLURM_EXECUTOR", "local")
    assert choose_executor("auto") == "local" and choose_executor("slurm") == "slurm"  # the flag wins
    monkeypatch.setenv("GANBENCH_SLURM_EXECUTOR", "pbs")
    with pytest.raises(BadInput, match="^GANBENCH_SLURM_EXECUTOR: expected one of auto, slurm, local"):
        choose_executor("auto")


def test_a_job_that_dies_is_recorded_as_failed_runs(tmp_path):
    """A real submitit job that raises outside the training: its runs are failed, with the
    error's own line as the summary (what `ganbench run` prints) and the trace after it."""
    backend = SlurmBackend(tmp_path / "logs", "local")
    executor = backend._executor()
    jobs = SlurmJobs(executor, "cpu", EvalContext(), backend, capacity=None)
    unit = WorkUnit(tuple(load_suite(write(tmp_path, SUITE)).specs[:1]))
    job = executor.submit(int, "node on fire")  # a builtin: the job imports no torch
    assert jobs.wait([job]) == {0}
    (result,) = jobs.results(job, unit)
    first, *rest = result.error.splitlines()
    assert result.status == "failed" and result.device == "cpu"
    expected = "ValueError: invalid literal for int() with base 10: 'node on fire'"
    assert first == f"slurm job {job.job_id}: FailedJobError: {expected}"
    assert "Traceback" in "\n".join(rest)  # the job's own traceback follows


def test_sigint_cancels_the_slurm_jobs(tmp_path, tracking_uri):
    """SIGINT to the driver alone: only its job.cancel() can stop the jobs it submitted."""
    path = write(tmp_path, SUITE)
    argv = ["run", str(path), "--out", str(tmp_path / "o"), "--devices", "cpu", "--quiet", "--steps", "5000"]
    argv += ["--tracking-uri", tracking_uri]
    run = Ganbench([*argv, "--backend", "slurm", "--slurm-executor", "local"], tmp_path / "logs", "slurm")
    jobs_started = wait_for(lambda: len(list((tmp_path / "o" / "slurm_logs").glob("*_log.err"))) >= 2, 120)
    os.kill(run.pid, signal.SIGINT)
    assert jobs_started and run.wait(timeout=60) == 130
    # One line: the cancelled controllers wrote their tracebacks to slurm_logs/controllers.log.
    assert run.stderr.splitlines() == [
        "interrupted: 0 runs finished, 4 pending; run the same command to resume"
    ]
    # The jobs' controllers and tasks are gone. A controller SIGKILLs its tasks 1 s after their
    # SIGINT; on a slow 2-core machine at the end of the full test run, reaping them all once took
    # over 15 s (the test passed alone, 3 of 3), so it gets 45.
    left = no_processes_left(run.pid, timeout=45)
    assert left, session_commands(run.pid)
