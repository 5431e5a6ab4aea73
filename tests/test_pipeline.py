"""`ganbench run` end to end: outputs, the real SQLite MLflow store, resume, rerun, bad input."""

from __future__ import annotations

import subprocess
import sys
import tempfile

import mlflow
import pandas as pd
import pytest

from ganbench import store
from ganbench.api import RunOptions, run_suite
from ganbench.cli import main
from ganbench.suite import load_suite
from tests.conftest import CLAIMS_COLUMNS, TINY_SUITE, write

STEPS = 30


@pytest.fixture
def finished(tmp_path, monkeypatch):
    """A tiny suite run once (8 runs), in-process, with its own temporary directory (tmp/)."""
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    suite = load_suite(write(tmp_path, TINY_SUITE), steps=STEPS)
    out = tmp_path / "out"
    outcome = run_suite(suite, RunOptions(out=out, devices="cpu", runs_per_device=1, quiet=True))
    return suite, out, outcome


def mlflow_runs(out):
    client = mlflow.tracking.MlflowClient(f"sqlite:///{out / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("tiny")
    return client, client.search_runs([experiment.experiment_id], max_results=1000)


def child_runs(out):
    client, runs = mlflow_runs(out)
    return client, [r for r in runs if "mlflow.parentRunId" in r.data.tags]


def test_outputs_and_mlflow_records(finished):
    suite, out, outcome = finished
    everything = pd.read_csv(out / "runs.csv")
    references = everything[everything["status"] == "reference"]
    assert sorted(set(references["variant"])) == ["data", "noise"] and len(references) == 2 * 2 * 2
    runs = everything[everything["status"] != "reference"]
    assert len(runs) == 8 and set(runs["status"]) == {"finished"}
    assert list(runs.columns[:9]) == [
        "run_id",
        "suite",
        "dataset",
        "variant",
        "config",
        "seed",
        "status",
        "health",
        "steps_done",
    ]
    assert {"modes_covered", "hq_share", "reverse_kl", "w1", "wall_s", "device", "mlflow_run_id"} <= set(
        runs.columns
    )
    assert sorted(runs["run_id"]) == sorted(s.run_id for s in suite.specs)

    board = pd.read_csv(out / "leaderboard.csv")
    assert list(board.columns) == [
        "variant",
        "dataset",
        "metric",
        "n",
        "mean",
        "std",
        "ci95_low",
        "ci95_high",
        "median",
        "diverged",
        "healthy",
        "configs",
        "vs_noise",
    ]
    w1 = board[(board.metric == "w1") & (board.variant == "gan") & (board.dataset == "ring8")].iloc[0]
    own = runs[(runs.variant == "gan") & (runs.dataset == "ring8")]["w1"]
    assert w1["n"] == 2 and w1["mean"] == pytest.approx(own.mean())
    assert (out / "leaderboard.md").read_text().count("ring8") >= 1
    claims = pd.read_csv(out / "claims.csv")
    assert list(claims.columns) == CLAIMS_COLUMNS
    assert len(claims) == 2  # one claim x two datasets

    client, children = child_runs(out)
    assert len(children) == 8
    assert {r.info.run_id for r in children} == set(runs["mlflow_run_id"])
    one = children[0]
    assert one.data.params["train.loss"] in ("ns", "wgan") and one.data.params["seed"] in ("0", "1")
    assert one.data.tags["git_commit"] and one.data.tags["version.torch"]
    assert one.data.metrics["w1"] > 0  # the final value, as the run's summary metric
    history = client.get_metric_history(one.info.run_id, "w1")
    assert [m.step for m in history] == [STEPS]  # eval_every 30 = steps: one evaluation
    assert len(client.get_metric_history(one.info.run_id, "d_loss")) == STEPS
    assert [a.path for a in client.list_artifacts(one.info.run_id) if not a.is_dir][0].endswith(".png")
    assert not list((out.parent / "tmp").glob("ganbench-artifacts-*"))  # plots are not left behind


def test_rerun_trains_nothing_and_changes_nothing(finished):
    suite, out, _ = finished
    before = (out / "runs.csv").read_bytes()
    n_mlflow = len(mlflow_runs(out)[1])
    outcome = run_suite(suite, RunOptions(out=out, devices="cpu", runs_per_device=1, quiet=True))
    assert outcome.trained == 0
    assert (out / "runs.csv").read_bytes() == before
    assert len(mlflow_runs(out)[1]) == n_mlflow


def test_interrupted_suite_resumes_where_it_stopped(finished):
    suite, out, _ = finished
    run_ids = {s.run_id for s in suite.specs}
    records = sorted(p for p in (out / "records").glob("*.json") if p.stem in run_ids)
    kept = {p.stem: p.read_text() for p in records[:5]}
    for path in records[5:]:
        path.unlink()  # as if the suite had been killed after five runs
    outcome = run_suite(suite, RunOptions(out=out, devices="cpu", runs_per_device=1, quiet=True))
    assert outcome.trained == 3
    assert {p.stem: p.read_text() for p in records[:5]} == kept  # finished runs untouched
    assert len(run_ids & set(store.load(out))) == 8


def test_rerun_flag_retrains_with_same_numbers(finished):
    suite, out, outcome = finished
    again = run_suite(suite, RunOptions(out=out, devices="cpu", runs_per_device=1, quiet=True, rerun=True))
    assert again.trained == 8
    cols = ["run_id", "w1", "modes_covered", "hq_share"]
    pd.testing.assert_frame_equal(outcome.runs[cols], again.runs[cols])  # same seed, same numbers


def test_worker_processes_give_the_same_numbers(finished, tmp_path):
    suite, _, outcome = finished
    pooled = run_suite(
        suite, RunOptions(out=tmp_path / "pooled", devices="cpu", runs_per_device=2, quiet=True)
    )
    cols = ["run_id", "status", "w1", "modes_covered"]
    pd.testing.assert_frame_equal(outcome.runs[cols], pooled.runs[cols])


def test_failing_unit_is_recorded_not_raised(tmp_path, monkeypatch):
    import ganbench.runner.local as local

    def explode(*args, **kwargs):
        raise RuntimeError("CUDA error: out of memory (simulated)")

    monkeypatch.setattr(local, "train_group", explode)
    suite = load_suite(write(tmp_path, TINY_SUITE), steps=5)
    outcome = run_suite(
        suite, RunOptions(out=tmp_path / "o", devices="cpu", runs_per_device=1, quiet=True, retries=1)
    )
    runs = outcome.runs[outcome.runs["status"] != "reference"]
    assert set(runs["status"]) == {"failed"}
    assert runs["error"].str.contains("out of memory").all()


def test_cli_run_validate_list_leaderboard(tmp_path, capsys):
    path = write(tmp_path, TINY_SUITE)
    assert main(["validate", str(path)]) == 0
    assert "8 runs" in capsys.readouterr().out
    assert main(["list"]) == 0
    listed = capsys.readouterr().out
    assert "wgan-gp" in listed and "ring8" in listed and "modes_covered" in listed
    out = tmp_path / "o"
    assert (
        main(
            [
                "run",
                str(path),
                "--out",
                str(out),
                "--steps",
                "10",
                "--seeds",
                "1",
                "--devices",
                "cpu",
                "--quiet",
            ]
        )
        == 0
    )
    assert len(pd.read_csv(out / "runs.csv").query("status != 'reference'")) == 4
    published = tmp_path / "results" / "tiny.csv"
    assert main(["leaderboard", str(out), "-o", str(published)]) == 0
    assert pd.read_csv(published).equals(pd.read_csv(out / "leaderboard.csv"))


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["run", "{missing}"], "cannot read suite file"),
        (["run", "{suite}", "--devices", "cuda:7"], "--devices: cuda:7 not available"),
        (["run", "{suite}", "--steps", "-3"], "--steps: expected a positive integer"),
        (["leaderboard", "{missing_dir}"], "no runs.csv here"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path, argv, expected):
    suite = write(tmp_path, TINY_SUITE)
    argv = [
        a.format(missing=tmp_path / "nope.yaml", suite=suite, missing_dir=tmp_path / "nodir") for a in argv
    ]
    done = subprocess.run(
        [sys.executable, "-m", "ganbench.cli", *argv], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2
    assert expected in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "Traceback" not in done.stderr


def test_edited_claim_is_retabulated_without_training(finished, tmp_path):
    suite, out, _ = finished
    runs_mtime = (out / "runs.csv").stat().st_mtime_ns
    edited = load_suite(
        write(
            tmp_path,
            TINY_SUITE.replace("id: gan-beats-wgan", "id: gan-covers-more").replace(
                "metric: w1", "metric: modes_covered"
            ),
            "edited.yaml",
        ),
        steps=STEPS,
    )
    outcome = run_suite(edited, RunOptions(out=out, devices="cpu", runs_per_device=1, quiet=True))
    assert outcome.trained == 0
    assert (out / "runs.csv").stat().st_mtime_ns == runs_mtime  # same content: not rewritten
    claims = pd.read_csv(out / "claims.csv")
    assert len(claims) == 2 and set(claims["id"]) == {"gan-covers-more"}
