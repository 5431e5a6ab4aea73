"""`ganbench tune` as a client of the library: real Optuna (SQLite) and MLflow (SQLite) stores.

Every trial runs through ``api.run_suite``, so these tests check what tuning adds: the trial's
suite (one variant, the loader's overrides), the objective, the study's resume, MLflow nesting,
--export, the Ray backend and --data-root reaching the workers, and bad input in one line.
"""

from __future__ import annotations

import math
import signal

import numpy as np
import optuna
import pandas as pd
import pytest
import yaml
from mlflow.tracking import MlflowClient
from PIL import Image

from ganbench.api import RunOptions
from ganbench.cli import main
from ganbench.errors import Interrupted
from ganbench.metrics import metric_info
from ganbench.results import RunResult
from ganbench.suite import load_suite
from ganbench.tune import Objective, TuneOptions, tune_suite
from ganbench.tune.space import suggest
from ganbench.tune.trial import restrict
from tests.conftest import TINY_SUITE, write

# One seed of a non-saturating GAN on ring8: after 1 generator step it still sits near the origin
# (W1 about 1.9), 300 steps move it out towards the ring (W1 about 1.2). So steps=300 is the best.
KNOWN_BEST = """
name: tiny
defaults:
  steps: 300
  batch_size: 64
  eval_every: 300
  eval_samples: 400
  w1_points: 200
  model: {arch: mlp, hidden: 32, depth: 2, z_dim: 2}
datasets: [ring8, {name: grid, side: 3, spacing: 2.0, std: 0.05, label: grid9}]
seeds: 3
variants:
  gan: {loss: ns, optimizer: {name: adam, lr: 2.0e-3, betas: [0.5, 0.999]}}
  wgan: {loss: wgan, clip: 0.05, n_critic: 2, optimizer: {name: rmsprop, lr: 1.0e-3}}
claims:
  - {id: c, text: gan beats wgan, metric: w1, better: gan, worse: wgan, expect: inconclusive}
tune:
  variant: gan
  objective: {metric: w1, dataset: ring8}
  space: {steps: {choice: [1, 300]}}
  trials: 3
  seeds: 1
"""


def options(tmp_path, **kwargs) -> TuneOptions:
    run = RunOptions(out=tmp_path / "tune", devices="cpu", quiet=True)
    return TuneOptions(run=run, **kwargs)


def states(study: optuna.Study) -> list[str]:
    return [t.state.name for t in study.trials]


def test_study_finds_the_best_records_it_in_mlflow_exports_and_resumes(tmp_path):
    suite = write(tmp_path, KNOWN_BEST)
    tuned = tune_suite(suite, options(tmp_path, export=tmp_path / "best.yaml"))
    study = tuned.studies["gan"]
    first = study.trials  # a snapshot: the study object reads its storage anew each time
    storage = f"sqlite:///{tmp_path / 'tune' / 'optuna.db'}"
    assert optuna.load_study(study_name="tiny-gan", storage=storage).trials == study.trials  # stored
    assert states(study) == ["COMPLETE"] * 3 and study.direction.name == "MINIMIZE"  # w1: lower is better
    tried = {t.params["steps"] for t in study.trials}
    assert tried == {1, 300} and study.best_params == {"steps": 300}
    best = study.best_trial
    assert best.value < min(t.value for t in study.trials if t.params["steps"] == 1) - 0.2
    # The trial's runs are the suite cut to the tuned variant and the objective's dataset.
    runs = pd.read_csv(f"{best.user_attrs['dir']}/runs.csv")
    trained = runs[runs["status"] == "finished"]
    assert list(trained["variant"]) == ["gan"] and list(trained["dataset"]) == ["ring8"]
    assert int(trained["steps_done"].iloc[0]) == 300 and trained["w1"].iloc[0] == pytest.approx(best.value)

    client = MlflowClient(f"sqlite:///{tmp_path / 'tune' / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("tiny").experiment_id
    every = client.search_runs([experiment], max_results=1000)
    (parent,) = [r for r in every if r.info.run_name == "tiny-gan"]
    trials = {r.data.tags["optuna.trial"]: r for r in every if "optuna.trial" in r.data.tags}
    assert set(trials) == {"0", "1", "2"}
    for number, run in trials.items():
        trial = study.trials[int(number)]
        assert (
            run.data.tags["mlflow.parentRunId"] == parent.info.run_id
            and run.info.run_name == f"trial {number}"
        )
        assert run.data.params["steps"] == str(trial.params["steps"])
        assert run.data.metrics["w1"] == pytest.approx(trial.value)
    gan_runs = [r for r in every if r.data.tags.get("variant") == "gan"]
    assert {r.data.tags["mlflow.parentRunId"] for r in gan_runs} <= {r.info.run_id for r in trials.values()}
    assert len(gan_runs) == 2  # a repeated value reused its dir's finished run: 2 values, 2 GAN runs

    exported = yaml.safe_load((tmp_path / "best.yaml").read_text())
    assert exported == {"variants.gan.steps": 300}
    assert load_suite(suite, overrides=exported).variants["gan"].steps == 300

    tune_suite(suite, options(tmp_path, trials=4))  # the same storage: the study goes on
    resumed = optuna.load_study(study_name="tiny-gan", storage=storage)
    assert [t.number for t in resumed.trials] == [0, 1, 2, 3] and resumed.trials[:3] == first
    runs = client.search_runs([experiment], max_results=1000)
    assert [r.info.run_name for r in runs].count("tiny-gan") == 1  # the study's run was reopened
    (fourth,) = [r for r in runs if r.data.tags.get("optuna.trial") == "3"]
    assert fourth.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert tune_suite(suite, options(tmp_path, trials=4)).studies["gan"].trials == resumed.trials  # done


def write_images(folder, n: int = 24, size: int = 16) -> None:
    """An ImageFolder: one class of random 16x16 RGB images."""
    rng = np.random.default_rng(0)
    (folder / "blobs").mkdir(parents=True)
    for i in range(n):
        pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / "blobs" / f"{i}.png")


IMAGES = """
name: images
defaults:
  steps: 4
  batch_size: 8
  eval_every: 4
  eval_samples: 16
  image_metrics: []
  model: {arch: dcgan, z_dim: 4, width: 4}
datasets: [{name: imagefolder, path: shapes, size: 16, label: shapes}]
seeds: 1
variants:
  wgan: {loss: wgan-gp, optimizer: {name: adam, lr: 1.0e-4, betas: [0.0, 0.9]}}
tune:
  variant: wgan
  objective: {metric: critic_w}
  space: {optimizer.lr: {log_uniform: [1.0e-5, 1.0e-3]}}
  trials: 1
"""


def test_tune_on_ray_with_a_data_root(tmp_path, capsys):
    """The image folder's path is relative to --data-root: a trial whose workers (Ray tasks) did
    not get the data root would fail its runs and have no value."""
    write_images(tmp_path / "data" / "shapes")
    suite = write(tmp_path, IMAGES)
    flags = ["tune", str(suite), "--out", str(tmp_path / "out"), "--devices", "cpu", "--quiet"]
    assert main([*flags, "--backend", "ray", "--data-root", str(tmp_path / "data"), "--json"]) == 0
    summary = yaml.safe_load(capsys.readouterr().out)  # JSON is YAML
    assert summary["studies"]["wgan"]["trials"] == {"complete": 1}
    study = optuna.load_study(study_name="images-wgan", storage=f"sqlite:///{tmp_path / 'out' / 'optuna.db'}")
    runs = pd.read_csv(f"{study.trials[0].user_attrs['dir']}/runs.csv")
    trained = runs[runs["variant"] == "wgan"]
    assert list(trained["status"]) == ["finished"] and trained["critic_w"].iloc[0] == study.best_value
    assert not __import__("ray").is_initialized()  # the cluster tune started is gone
    assert main([*flags, "--trials", "2"]) == 2  # no data root: the trial's check stops it, one line
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "imagefolder: no images in" in err and "shapes" in err


@pytest.mark.parametrize(
    "old, new, message",
    [
        ("space: {steps: {choice: [1, 300]}}", "space: {stepz: {int: [1, 3]}}", "tune.space.stepz: "),
        ("space: {steps: {choice: [1, 300]}}", "space: {steps: {int: [3, 1]}}", "low < high"),
        ("space: {steps: {choice: [1, 300]}}", "space: {steps: {choice: [1, -1]}}", "tune.space.steps: "),
        ("{metric: w1,", "{metric: w2,", "tune.objective.metric: unknown metric 'w2'"),
        ("{metric: w1,", "{metric: w1_std,", "describes a variant"),
        (  # the sweep's value would silently replace the trial's
            "gan: {loss: ns, optimizer:",
            "gan: {loss: ns, sweep: {grid: {steps: [1, 2]}}, optimizer:",
            "tune.space.steps: variants.gan also sweeps 'steps'",
        ),
    ],
)
def test_bad_tune_input_is_exit_2_and_one_line(tmp_path, capsys, old, new, message):
    suite = write(tmp_path, KNOWN_BEST.replace(old, new))
    assert main(["tune", str(suite), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and str(suite) in err
    assert not (tmp_path / "out" / "trials").exists()  # nothing trained


def test_no_tune_section_export_over_the_suite_and_a_bad_storage_are_bad_input(tmp_path, capsys):
    plain = write(tmp_path, TINY_SUITE, "plain.yaml")
    assert main(["tune", str(plain)]) == 2 and "no `tune:` section" in capsys.readouterr().err
    suite = write(tmp_path, KNOWN_BEST)
    assert main(["tune", str(suite), "--export", str(suite)]) == 2
    assert "is the suite being tuned" in capsys.readouterr().err
    assert main(["tune", str(suite), "--out", str(tmp_path / "out"), "--storage", "nosuchdb://x"]) == 2
    assert "--storage nosuchdb://x: cannot open the Optuna storage" in capsys.readouterr().err


def test_failed_trials_fail_alone_and_an_interrupted_one_runs_again_first(tmp_path, monkeypatch):
    calls = []

    def broken(unit, device, context, progress=None):
        calls.append(unit)
        if len(calls) == 3:  # the third trial is stopped by Ctrl-C
            raise Interrupted(signal.SIGINT)
        return [RunResult(spec, "failed", 0, error="RuntimeError: CUDA out of memory") for spec in unit.specs]

    suite = write(tmp_path, KNOWN_BEST)
    monkeypatch.setattr("ganbench.runner.local.run_unit", broken)
    with pytest.raises(Interrupted):
        tune_suite(suite, options(tmp_path, trials=3))
    monkeypatch.undo()
    stopped = optuna.load_study(study_name="tiny-gan", storage=f"sqlite:///{tmp_path / 'tune' / 'optuna.db'}")
    assert states(stopped) == ["FAIL", "FAIL", "FAIL"]  # the failed trials did not stop the study
    assert "CUDA out of memory" in stopped.trials[0].user_attrs["error"]
    assert stopped.trials[2].user_attrs["interrupted"] and "error" not in stopped.trials[2].user_attrs
    client = MlflowClient(f"sqlite:///{tmp_path / 'tune' / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("tiny").experiment_id])
    (study_run,) = [r for r in runs if r.info.run_name == "tiny-gan"]
    failed = [r for r in runs if r.info.run_name in ("trial 0", "trial 1")]
    assert [r.data.tags["mlflow.parentRunId"] for r in failed] == [study_run.info.run_id] * 2
    assert study_run.info.status == "KILLED" and not any("w1" in r.data.metrics for r in failed)

    tuned = tune_suite(suite, options(tmp_path, trials=1))  # the same command resumes
    (again,) = tuned.studies["gan"].trials[3:]
    assert again.user_attrs["resumes"] == 2 and again.params == stopped.trials[2].params
    assert again.state.name == "COMPLETE" and tuned.summary()["gan"]["best_trial"] == 3


def test_trial_suite_and_per_variant_spaces(tmp_path):
    text = KNOWN_BEST.replace("space: {steps: {choice: [1, 300]}}", "space: {clip: {uniform: [0.01, 0.1]}}")
    suite = load_suite(write(tmp_path, text.replace("variant: gan", "variant: wgan")))
    trial = restrict(suite, "wgan", "ring8")
    assert set(trial.variants) == {"wgan"} and set(trial.datasets) == {"ring8"} and not trial.file.claims
    assert {(s.variant, s.dataset) for s in trial.specs} == {("wgan", "ring8")} and len(trial.specs) == 3
    from ganbench.tune.space import variant_spaces

    spaces = variant_spaces(
        suite, per_variant=True, load=lambda extra: load_suite(suite.path, overrides=extra)
    )
    assert set(spaces) == {"wgan"}  # gan never gets clipping switched on


def test_objective_counts_divergence_as_the_worst():
    runs = pd.DataFrame(
        {
            "variant": ["noise", "gan", "gan", "gan"],
            "dataset": ["ring8"] * 4,
            "status": ["reference", "finished", "diverged", "finished"],
            "modes_covered": [5.0, 6.0, 8.0, 4.0],
            "w1": [0.7, 0.2, 0.1, 0.4],
        }
    )
    modes, w1 = Objective(metric_info("modes_covered"), "ring8"), Objective(metric_info("w1"), None)
    assert modes.run_values(runs, "gan") == [6.0, 0.0, 4.0] and modes.direction == "maximize"
    assert math.isnan(w1.score(w1.run_values(runs, "gan")))  # no finite worst: the trial has no value
    assert w1.direction == "minimize" and w1.better(0.1, 0.2)


def test_suggest_decodes_list_choices():
    space = {"optimizer.betas": {"choice": [[0.5, 0.999], [0.0, 0.9]]}, "n_critic": {"int": [1, 5]}}
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0))
    values = suggest(study.ask(), space)
    assert values["optimizer.betas"] in ([0.5, 0.999], [0.0, 0.9]) and 1 <= values["n_critic"] <= 5
