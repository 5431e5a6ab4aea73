"""`ganbench tune` on a real Optuna SQLite storage in tmp: trials, export, workers, bad input."""

from __future__ import annotations

import argparse
import json
import math

import optuna
import pytest

from ganbench.errors import BadInput
from ganbench.metrics import metric_info
from ganbench.suite import load_suite
from ganbench.train import RunResult
from ganbench.tune import final_value, learning_curve, suggest, tune_suite, variant_spaces
from tests.conftest import TINY_SUITE, write

TUNE = """
tune:
  variant: gan
  objective: {metric: w1, dataset: ring8}
  space:
    optimizer.lr: {log_uniform: [1.0e-4, 1.0e-2]}
    batch_size: {choice: [16, 32]}
    optimizer.betas: {choice: [[0.5, 0.999], [0.0, 0.9]]}
  trials: 3
  seeds: 1
"""


def tune_args(tmp_path, suite, **overrides) -> argparse.Namespace:
    values = dict(
        suite=suite,
        out=tmp_path / "tune",
        trials=None,
        workers=1,
        storage=None,
        study=None,
        per_variant=False,
        export=None,
        steps=10,
        quiet=True,
    )
    return argparse.Namespace(**{**values, **overrides})


def load(tmp_path, name: str = "tiny-gan") -> optuna.Study:
    return optuna.load_study(study_name=name, storage=f"sqlite:///{tmp_path / 'tune' / 'optuna.db'}")


def complete(study: optuna.Study) -> list:
    return [t for t in study.trials if t.state.name == "COMPLETE"]


def test_tune_writes_study_and_exports_best(tmp_path, capsys):
    suite = write(tmp_path, TINY_SUITE + TUNE)
    exported = tmp_path / "tuned.yaml"
    tune_suite(tune_args(tmp_path, suite, export=exported))
    study = load(tmp_path)
    assert len(complete(study)) == 3 and study.direction.name == "MINIMIZE"  # w1: lower is better
    best = study.best_params
    assert 1e-4 <= best["optimizer.lr"] <= 1e-2 and best["batch_size"] in (16, 32)
    assert best["optimizer.betas"] in ("[0.5, 0.999]", "[0.0, 0.9]")  # lists travel as JSON
    trial = study.best_trial
    assert len(trial.user_attrs["run_ids"]) == 1
    assert trial.user_attrs["values"] == [pytest.approx(study.best_value)]
    assert trial.intermediate_values  # the learning curve, one point per evaluation

    tuned = load_suite(exported)
    original = load_suite(suite)
    gan = tuned.variants["gan"]
    assert gan.optimizer.lr == pytest.approx(best["optimizer.lr"]) and gan.batch_size == best["batch_size"]
    assert list(gan.optimizer.betas) == pytest.approx(json.loads(best["optimizer.betas"]))
    assert tuned.variants["wgan"] == original.variants["wgan"]  # only the tuned variant changes
    assert tuned.file.claims == original.file.claims and tuned.file.tune == original.file.tune
    assert tuned.seeds == original.seeds
    assert gan.steps == original.variants["gan"].steps  # the suite's steps, not the tuning --steps
    assert "best w1 for gan" in capsys.readouterr().out


def test_tune_resumes_the_study_and_per_variant_spaces(tmp_path):
    text = TINY_SUITE + TUNE.replace("variant: gan", "variant: wgan").replace(
        "optimizer.betas: {choice: [[0.5, 0.999], [0.0, 0.9]]}", "clip: {uniform: [0.01, 0.1]}"
    )
    suite_path = write(tmp_path, text)
    suite = load_suite(suite_path)
    spaces = variant_spaces(suite, per_variant=True, steps=None)
    assert set(spaces["wgan"]) == {"optimizer.lr", "batch_size", "clip"}
    assert set(spaces["gan"]) == {"optimizer.lr", "batch_size"}  # gan never gets clipping switched on
    tune_suite(tune_args(tmp_path, suite_path, per_variant=True, trials=1, steps=5))
    tune_suite(tune_args(tmp_path, suite_path, per_variant=True, trials=1, steps=5))
    assert len(complete(load(tmp_path, "tiny-gan"))) == 2  # a second call adds trials to the study
    wgan = complete(load(tmp_path, "tiny-wgan"))
    assert len(wgan) == 2 and all(0.01 <= t.params["clip"] <= 0.1 for t in wgan)


def test_tune_with_two_workers_shares_the_storage(tmp_path):
    suite = write(tmp_path, TINY_SUITE + TUNE)
    tune_suite(tune_args(tmp_path, suite, workers=2, trials=2, steps=5))
    trials = complete(load(tmp_path))
    assert len(trials) == 2
    assert trials[0].params["optimizer.lr"] != trials[1].params["optimizer.lr"]  # samplers seeded 0 and 1


def test_divergence_scores_worst_or_prunes(tmp_path):
    spec = load_suite(write(tmp_path, TINY_SUITE)).specs[0]
    diverged = RunResult(
        spec,
        "diverged",
        5,
        {"modes_covered": 8.0, "w1": 0.1},
        {"w1": [(5, 0.3)], "modes_covered": [(5, 7.0)]},
    )
    finished = RunResult(
        spec,
        "finished",
        10,
        {"modes_covered": 6.0, "w1": 0.2},
        {"w1": [(5, 0.4), (10, 0.2)], "modes_covered": [(5, 5.0), (10, 6.0)]},
    )
    modes, w1 = metric_info("modes_covered"), metric_info("w1")
    assert final_value(diverged, modes) == 0.0 and final_value(finished, modes) == 6.0
    assert math.isnan(final_value(diverged, w1))  # no finite worst: the trial is pruned
    assert learning_curve([diverged, finished], modes) == [(5, 6.0), (10, 3.0)]
    assert learning_curve([diverged, finished], w1) == [(5, pytest.approx(0.35))]  # stops where undefined


def test_suggest_decodes_list_choices():
    space = {"optimizer.betas": {"choice": [[0.5, 0.999], [0.0, 0.9]]}, "n_critic": {"int": [1, 5]}}
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0))
    values = suggest(study.ask(), space)
    assert values["optimizer.betas"] in ([0.5, 0.999], [0.0, 0.9]) and 1 <= values["n_critic"] <= 5


def test_tune_bad_input(tmp_path):
    with pytest.raises(BadInput, match=r"suite.yaml: tune: .*no `tune:` section"):
        tune_suite(tune_args(tmp_path, write(tmp_path, TINY_SUITE)))
    cases = {
        "optimizer.lr: {": ("optimizer.lrr: {", "tune.space.optimizer.lrr"),
        "[1.0e-4, 1.0e-2]": ("[1.0e-2, 1.0e-4]", "low < high"),
        "metric: w1": ("metric: w2", "tune.objective.metric: unknown metric 'w2'"),
    }
    for old, (new, message) in cases.items():
        bad = write(tmp_path, TINY_SUITE + TUNE.replace(old, new), "bad.yaml")
        with pytest.raises(BadInput, match=message):
            tune_suite(tune_args(tmp_path, bad))
    suite = write(tmp_path, TINY_SUITE + TUNE)
    with pytest.raises(BadInput, match="--export: .* is the suite being tuned"):
        tune_suite(tune_args(tmp_path, suite, export=suite))


def test_a_trial_that_raises_fails_alone(tmp_path, monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise RuntimeError("CUDA out of memory")

    monkeypatch.setattr("ganbench.train.train_group", broken)
    tune_suite(tune_args(tmp_path, write(tmp_path, TINY_SUITE + TUNE), trials=2))
    trials = load(tmp_path).trials
    assert [t.state.name for t in trials] == ["FAIL", "FAIL"]
    assert trials[0].user_attrs["error"] == "RuntimeError: CUDA out of memory"
    assert "gan: no complete trial (2 fail)" in capsys.readouterr().out
