"""`ganbench tune` on a real Optuna SQLite storage, and `ganbench report`."""

from __future__ import annotations

import argparse

import optuna
import pytest

from ganbench.api import RunOptions, run_suite
from ganbench.errors import BadInput
from ganbench.report import write_report
from ganbench.suite import load_suite
from ganbench.tune import tune_suite
from tests.conftest import TINY_SUITE, write

TUNE = """
tune:
  variant: gan
  objective: {metric: w1, dataset: ring8}
  space:
    optimizer.lr: {log_uniform: [1.0e-4, 1.0e-2]}
    batch_size: {choice: [16, 32]}
  trials: 3
  seeds: 1
"""


def tune_args(tmp_path, suite, **overrides):
    values = dict(suite=suite, out=tmp_path / "tune", trials=None, workers=1, storage=None, study=None,
                  per_variant=False, export=None, steps=10, quiet=True)
    return argparse.Namespace(**{**values, **overrides})


def test_tune_writes_study_and_exports_best(tmp_path):
    suite = write(tmp_path, TINY_SUITE + TUNE)
    exported = tmp_path / "tuned.yaml"
    tune_suite(tune_args(tmp_path, suite, export=exported))
    study = optuna.load_study(study_name="tiny-gan", storage=f"sqlite:///{tmp_path / 'tune' / 'optuna.db'}")
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert len(complete) == 3
    assert 1e-4 <= study.best_params["optimizer.lr"] <= 1e-2 and study.best_params["batch_size"] in (16, 32)
    assert len(complete[0].user_attrs["run_ids"]) == 1
    tuned = load_suite(exported)
    assert tuned.variants["gan"].optimizer.lr == pytest.approx(study.best_params["optimizer.lr"])
    assert tuned.variants["gan"].batch_size == study.best_params["batch_size"]
    assert [c.expect for c in tuned.file.claims] == ["inconclusive"]  # claims untouched


def test_tune_with_two_workers_shares_the_storage(tmp_path):
    suite = write(tmp_path, TINY_SUITE + TUNE)
    tune_suite(tune_args(tmp_path, suite, workers=2, trials=2, steps=5))
    study = optuna.load_study(study_name="tiny-gan", storage=f"sqlite:///{tmp_path / 'tune' / 'optuna.db'}")
    assert len([t for t in study.trials if t.state.name == "COMPLETE"]) == 2


def test_tune_bad_input(tmp_path):
    with pytest.raises(BadInput, match="no `tune:` section"):
        tune_suite(tune_args(tmp_path, write(tmp_path, TINY_SUITE)))
    bad = write(tmp_path, TINY_SUITE + TUNE.replace("optimizer.lr", "optimizer.lrr"), "bad.yaml")
    with pytest.raises(BadInput, match="tune.space.optimizer.lrr"):
        tune_suite(tune_args(tmp_path, bad))


def test_report_has_tables_and_pictures(tmp_path):
    suite = load_suite(write(tmp_path, TINY_SUITE), steps=20)
    out = tmp_path / "out"
    run_suite(suite, RunOptions(out=out, devices="cpu", runs_per_device=1, quiet=True))
    page = write_report(out).read_text()
    assert page.count("<table") >= 2 and "gan-beats-wgan" in page
    assert page.count("data:image/png;base64,") == 4  # two figures per dataset
    with pytest.raises(BadInput, match="no runs.csv"):
        write_report(tmp_path / "nothing")
