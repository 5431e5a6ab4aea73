"""MLflow as its users expect it, on a real SQLite store: the experiment kind the UI reads, a
parent holding the leaderboard and the claims, children with real times and summary metrics,
the standard source tags, resumed suites linked to the interrupted one, and the trained
generator saved, logged and sampled again by `ganbench sample`."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from ganbench import api, samples, store
from ganbench.api import RunOptions, run_suite
from ganbench.cli import main
from ganbench.errors import Interrupted
from ganbench.results import RunResult
from ganbench.runner import interrupts
from ganbench.suite import load_suite
from ganbench.tracking import (
    BATCH,
    KIND,
    PARAM_BATCH,
    RESUMED_BY,
    RESUMES,
    Tracker,
    batches,
    flatten,
    metric_name,
    timeline,
)
from tests.conftest import TINY_SUITE, write

STEPS = 30
YEAR_2020_MS = 1_577_836_800_000


def options(out: Path) -> RunOptions:
    return RunOptions(out=out, devices="cpu", runs_per_device=1, quiet=True)


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    """The tiny suite (8 runs) trained once, in-process; the wall-clock window it ran in."""
    tmp = tmp_path_factory.mktemp("tracked")
    suite = load_suite(write(tmp, TINY_SUITE), steps=STEPS)
    out = tmp / "runs" / "tiny"
    before = time.time()
    outcome = run_suite(suite, options(out))
    return suite, out, outcome, (before, time.time())


def client_and_runs(out: Path, experiment: str = "tiny"):
    client = mlflow.tracking.MlflowClient(f"sqlite:///{out / 'mlflow.db'}")
    found = client.get_experiment_by_name(experiment)
    return client, found, client.search_runs([found.experiment_id], max_results=1000)


def parents_and_children(runs):
    parents = [r for r in runs if r.data.tags.get(KIND) == "suite"]
    children = [r for r in runs if r.data.tags.get(KIND) == "run"]
    return parents, children


def test_the_experiment_is_a_model_training_experiment_not_genai(ran):
    _, out, _, _ = ran
    _, experiment, _ = client_and_runs(out)
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"


def test_an_experiment_made_by_an_older_ganbench_gets_the_kind(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow.tracking.MlflowClient(uri)
    experiment = client.create_experiment("old", artifact_location=(tmp_path / "a").as_uri())
    assert "mlflow.experimentKind" not in client.get_experiment(experiment).tags
    Tracker(uri, "old", tmp_path / "a", out_dir=tmp_path)
    assert client.get_experiment(experiment).tags["mlflow.experimentKind"] == "custom_model_development"


def test_the_parent_holds_the_leaderboard_and_the_claims(ran):
    suite, out, outcome, _ = ran
    client, _, runs = client_and_runs(out)
    parents, children = parents_and_children(runs)
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    parent = parents[0]
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parent.info.run_id}
    metrics = parent.data.metrics
    board = pd.read_csv(out / "leaderboard.csv")
    cell = board[(board.variant == "gan") & (board.dataset == "grid9") & (board.metric == "w1")].iloc[0]
    assert metrics["gan/grid9/w1.mean"] == pytest.approx(cell["mean"])
    assert metrics["gan/grid9/w1.std"] == pytest.approx(cell["std"])
    finite = board[np.isfinite(board["mean"])]
    assert sum(name.endswith(".mean") for name in metrics) == len(finite)
    claims = pd.read_csv(out / "claims.csv")
    for row in claims.itertuples():
        assert metrics[f"claim/{row.id}/{row.dataset}/p_value"] == pytest.approx(row.p_value)
        verdict = parent.data.tags[f"claim.{row.id}.{row.dataset}"]
        assert verdict.startswith(row.verdict) and row.expected in verdict
    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"leaderboard.csv", "leaderboard.md", "claims.csv", "leaderboard.json", "claims.json"} <= artifacts
    table = json.loads(Path(client.download_artifacts(parent.info.run_id, "leaderboard.json")).read_text())
    assert len(table["data"]) == len(board)
    note = parent.data.tags["mlflow.note.content"]
    assert note.startswith(suite.file.description) and "ring8" in note and "|" in note


def test_children_carry_their_real_times(ran):
    _, out, _, (before, after) = ran
    client, _, runs = client_and_runs(out)
    _, children = parents_and_children(runs)
    records = store.load(out)
    assert len(children) == 8
    for child in children:
        rec = records[child.data.tags["run_id"]]
        assert before <= rec.started_at < rec.ended_at <= after
        assert child.info.start_time == int(rec.started_at * 1000)
        assert child.info.end_time == int(rec.ended_at * 1000)
        times = [m.timestamp for m in client.get_metric_history(child.info.run_id, "d_loss")]
        assert len(times) == STEPS and times == sorted(times)
        assert times[0] >= child.info.start_time >= YEAR_2020_MS and times[-1] <= child.info.end_time
        assert times[-1] - times[0] > 0  # spread over the training, not one fixed stamp


def test_final_values_are_summary_metrics_and_history_is_series(ran):
    _, out, _, _ = ran
    client, _, runs = client_and_runs(out)
    _, children = parents_and_children(runs)
    records = store.load(out)
    for child in children:
        rec = records[child.data.tags["run_id"]]
        assert not [name for name in child.data.metrics if name.startswith("final.")]
        for name, value in rec.metrics.items():
            if value == value:
                assert child.data.metrics[name] == pytest.approx(value), name
        assert len(client.get_metric_history(child.info.run_id, "w1_osc")) <= 1  # logged once
        w1 = client.get_metric_history(child.info.run_id, "w1")
        assert [m.step for m in w1] == [STEPS]  # one evaluation, not a second "final" point
        assert child.data.metrics["wall_s"] == pytest.approx(rec.wall_s, abs=1e-3)


def test_runs_carry_the_standard_source_tags(ran):
    _, out, _, _ = ran
    _, _, runs = client_and_runs(out)
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True
    ).stdout.strip()
    for run in runs:
        tags = run.data.tags
        assert tags["mlflow.source.git.commit"] == head == tags["git_commit"]
        assert tags["mlflow.source.type"] == "LOCAL" and tags["mlflow.source.name"]
        assert tags["version.mlflow"] == mlflow.__version__ and tags["version.torch"]


def test_the_generator_is_saved_and_logged(ran):
    _, out, outcome, _ = ran
    client, _, runs = client_and_runs(out)
    _, children = parents_and_children(runs)
    child = children[0]
    run_id = child.data.tags["run_id"]
    weights, shape = samples.load_generator(out, run_id)
    assert weights.dtype == np.float32 and weights.ndim == 1 and shape == (2,)
    logged = [a.path for a in client.list_artifacts(child.info.run_id, "generator")]
    assert logged == [f"generator/{run_id}.npz"]
    copy = np.load(client.download_artifacts(child.info.run_id, logged[0]))
    assert np.array_equal(copy["weights"], weights)
    # The local artifact store holds a hard link to the output dir's file, not a second copy.
    stored = Path(child.info.artifact_uri.removeprefix("file://")) / logged[0]
    assert stored.is_file() and stored.samefile(samples.generator_path(out, run_id))
    assert stored.stat().st_nlink == 2


def test_sample_draws_from_the_trained_generator(ran, tmp_path, capsys):
    """The first eval_samples drawn are the run's saved final samples, bit for bit: the weights
    are the trained ones and the noise is the evaluation's."""
    suite, out, outcome, _ = ran
    spec = suite.specs[3]
    target = tmp_path / "drawn.npy"
    # a unique prefix, found from the default-style root that holds the output dir
    code = main(["sample", spec.run_id[:8], "--out", str(out.parent), "-n", "1000", "-o", str(target)])
    assert code == 0, capsys.readouterr().err
    drawn = np.load(target)
    saved = samples.load(out, spec.run_id)
    n = spec.train.eval_samples
    assert drawn.shape == (1000, 2) and drawn.dtype == np.float32
    assert len(saved) == n and np.array_equal(drawn[:n], saved)
    assert not np.allclose(drawn[n : 2 * n], saved)  # later blocks draw fresh noise
    other = tmp_path / "other.npy"
    assert main(["sample", spec.run_id, "--out", str(out), "-n", "50", "-o", str(other), "--seed", "7"]) == 0
    assert not np.allclose(np.load(other), saved[:50])
    assert np.abs(drawn).max() < 10  # points near the rings/grid, not noise blown up


def test_sample_with_a_bad_run_id_is_one_line_and_exit_2(ran, tmp_path, capsys):
    _, out, _, _ = ran
    for run_id in ("ffffffffffff", "a/b*", ""):
        capsys.readouterr()
        assert main(["sample", run_id, "--out", str(out), "-n", "5", "-o", str(tmp_path / "x.npy")]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert main(["sample", "0", "--out", str(tmp_path / "missing"), "-n", "5", "-o", "x.npy"]) == 2
    assert not (tmp_path / "x.npy").exists()


def test_a_resumed_suite_links_its_parent_to_the_interrupted_one(tmp_path, monkeypatch):
    suite = load_suite(write(tmp_path, TINY_SUITE), steps=10, seeds=1)
    out = tmp_path / "out"
    saved = []
    real_save = api.samples.save

    def save_then_signal(out_dir, run_id, drawn):
        saved.append(run_id)
        if len(saved) == 2:  # SIGINT arrives while the second run is being recorded
            interrupts._state.pending = signal.SIGINT
        return real_save(out_dir, run_id, drawn)

    monkeypatch.setattr(api.samples, "save", save_then_signal)
    with pytest.raises(Interrupted):
        run_suite(suite, options(out))
    monkeypatch.undo()
    _, _, runs = client_and_runs(out)
    (first,) = parents_and_children(runs)[0]
    assert first.info.status == "KILLED"
    assert sum(r.status != "reference" for r in store.load(out).values()) == 2

    outcome = run_suite(suite, options(out))
    assert outcome.trained == 2
    _, _, runs = client_and_runs(out)
    parents = {r.info.run_id: r for r in parents_and_children(runs)[0]}
    assert len(parents) == 2
    (second,) = [r for r in parents.values() if r.info.run_id != first.info.run_id]
    assert second.info.status == "FINISHED"
    assert second.data.tags[RESUMES] == first.info.run_id
    assert parents[first.info.run_id].data.tags[RESUMED_BY] == second.info.run_id
    assert RESUMES not in first.data.tags

    run_suite(suite, RunOptions(out=out, devices="cpu", runs_per_device=1, quiet=True, rerun=True))
    _, _, runs = client_and_runs(out)
    third = max(parents_and_children(runs)[0], key=lambda r: r.info.start_time)
    assert RESUMES not in third.data.tags  # its predecessor finished: nothing to resume


def test_timeline_interpolates_between_the_evaluations(ran):
    suite, _, _, _ = ran
    result = RunResult(
        suite.specs[0],
        "finished",
        100,
        started_at=1_700_000_000.0,
        ended_at=1_700_000_012.0,
        step_times=[(50, 1_700_000_005.0), (100, 1_700_000_010.0)],
    )
    clock = timeline(result)
    assert clock(0) == 1_700_000_000_000 and clock(50) == 1_700_000_005_000
    assert clock(25) == 1_700_000_002_500 and clock(100) == 1_700_000_010_000
    diverged = RunResult(
        suite.specs[0], "diverged", 80, started_at=1_700_000_000.0, ended_at=1_700_000_009.0,
        step_times=[(50, 1_700_000_005.0)],
    )  # fmt: skip
    assert timeline(diverged)(80) == 1_700_000_009_000  # after the last evaluation: towards the end
    legacy = RunResult(suite.specs[0], "finished", 10)  # no times: now, never 1970
    assert timeline(legacy)(5) >= int(time.time() * 1000) - 60_000


def test_metric_names_are_sanitised():
    assert metric_name("gan", "ring8", "w1.mean") == "gan/ring8/w1.mean"
    assert metric_name("claim", "a:b", "ring(8)", "p_value") == "claim/a_b/ring_8_/p_value"
    assert metric_name("claim", "..", "", "x") == "claim/__/_/x"


def test_reconcile_closes_suites_and_runs_but_leaves_other_kinds_alone(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracker = Tracker(uri, "kinds", tmp_path / "a", out_dir=tmp_path)
    create = tracker.client.create_run
    study = create(tracker.experiment_id, tags={**tracker.tags, KIND: "study"}).info.run_id
    legacy = create(tracker.experiment_id, tags=dict(tracker.tags)).info.run_id  # before ganbench.kind
    parent = tracker.start_parent("kinds", {}, parent_run_id=study)  # nested, as a tuning trial's
    assert tracker.client.get_run(parent).data.tags["mlflow.parentRunId"] == study
    assert tracker.reconcile({}) == 2
    status = {r: tracker.client.get_run(r).info.status for r in (study, legacy, parent)}
    assert status == {study: "RUNNING", legacy: "KILLED", parent: "KILLED"}


def test_a_run_without_a_generator_cannot_be_sampled(ran, tmp_path, capsys):
    suite, out, _, _ = ran
    copy = tmp_path / "copy"
    shutil.copytree(out / "records", copy / "records")
    run_id = suite.specs[0].run_id  # its record, but no generators/ (a failed or older run)
    capsys.readouterr()
    assert main(["sample", run_id, "--out", str(copy), "-n", "5", "-o", str(tmp_path / "x.npy")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no generator was saved" in err and run_id in err


@pytest.mark.parametrize("n_params,n_points", [(0, 0), (5, 10), (90, 810), (95, 2000), (250, 0), (0, 2500)])
def test_log_batches_keep_mlflow_limits_and_order(n_params, n_points):
    params, points = [f"p{i}" for i in range(n_params)], [f"m{i}" for i in range(n_points)]
    payloads = list(batches(params, points))
    for some_params, some_points in payloads:
        assert len(some_params) <= 100 and len(some_params) + len(some_points) <= 1000
        assert some_params or some_points  # no empty call
    assert [p for ps, _ in payloads for p in ps] == params
    assert [m for _, ms in payloads for m in ms] == points
    expected_calls = max(-(-n_params // PARAM_BATCH), -(-(n_params + n_points) // BATCH))
    assert len(payloads) == expected_calls  # a small run's params and metrics: one call


def test_children_hold_every_param_of_their_resolved_spec(ran):
    suite, out, _, _ = ran
    _, _, runs = client_and_runs(out)
    _, children = parents_and_children(runs)
    specs = {s.run_id: s for s in suite.specs}
    for child in children:
        expected = flatten(specs[child.data.tags["run_id"]].resolved())
        assert {k: v for k, v in child.data.params.items() if k in expected} == expected
