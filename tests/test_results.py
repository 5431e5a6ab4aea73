"""One run-record type: a RunResult becomes a RunRecord, its JSON and its runs.csv row, and the
row read back from a CSV gives the same metrics, info and swept values."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from ganbench import store
from ganbench.results import FIRST, LAST, RunRecord, RunResult, metric_columns, runs_table
from ganbench.suite import load_suite
from tests.conftest import TINY_DEFAULTS


def _specs():
    return load_suite(
        {
            "name": "records",
            "defaults": TINY_DEFAULTS,
            "datasets": ["ring8"],
            "seeds": 2,
            "variants": {
                "wgan": {
                    "loss": "wgan",
                    "sweep": {"grid": {"clip": [0.01, 0.1], "optimizer.betas": [[0.5, 0.999]]}},
                }
            },
        }
    ).specs


def _result(spec, w1: float) -> RunResult:
    return RunResult(
        spec,
        "finished",
        10,
        metrics={"w1": np.float64(w1), "modes_covered": 3.0, "diverged": 0.0, "w1_osc": math.nan},
        info={"n_real": "50", "extractor": "none"},
        history={"w1": [(10, w1)]},
        health="healthy",
    )


def test_record_json_and_row_round_trip(tmp_path):
    specs = _specs()
    records = {
        s.run_id: RunRecord.from_result(_result(s, 0.1 * (i + 1)), f"ml{i}") for i, s in enumerate(specs)
    }
    for rec in records.values():
        store.save(tmp_path, rec)
    loaded = store.load(tmp_path)
    assert loaded.keys() == records.keys()
    for run_id, rec in records.items():
        back = loaded[run_id]
        assert back.metrics["w1"] == rec.metrics["w1"] and math.isnan(back.metrics["w1_osc"])
        assert back.spec == json.loads(json.dumps(rec.spec)) and back.swept == rec.swept
    table = runs_table(specs, loaded)
    # one column order: identity, the swept key paths after `config`, metrics, info, bookkeeping
    assert list(table.columns[:5]) == FIRST[:5]
    assert list(table.columns[5:7]) == ["clip", "optimizer.betas"]
    assert list(table.columns[-len(LAST) :]) == LAST
    assert metric_columns(table.columns) == ["w1", "modes_covered", "diverged", "w1_osc"]
    path = tmp_path / "runs.csv"
    table.to_csv(path, index=False)
    for row in pd.read_csv(path).to_dict("records"):
        back = RunRecord.from_row(row)
        rec = records[back.run_id]
        assert back.metrics["w1"] == rec.metrics["w1"] and back.metrics.keys() == {
            "w1",
            "modes_covered",
            "diverged",
        }
        assert back.info == {"n_real": 50, "extractor": "none"}  # info, not metrics
        assert back.swept == rec.swept and back.seed == rec.seed and back.mlflow_run_id == rec.mlflow_run_id


def test_a_record_that_is_not_one_is_quarantined(tmp_path):
    spec = _specs()[0]
    (tmp_path / "records").mkdir()
    (tmp_path / "records" / f"{spec.run_id}.json").write_text(
        json.dumps({"run_id": spec.run_id, "status": 3})
    )
    records, problems = store.load_checked(tmp_path)
    assert records == {} and "no status or metrics" in problems[0]
    assert (tmp_path / "records" / "corrupt" / f"{spec.run_id}.json").exists()
