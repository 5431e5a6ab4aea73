"""Leaderboard: aggregation checked by hand, markdown, and the baseline regression gate."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from ganbench.leaderboard import COLUMNS, aggregate, compare_to_baseline, to_markdown
from ganbench.results import metric_columns
from ganbench.suite import ToleranceConfig
from tests.conftest import CLAIMS_COLUMNS


def run(variant: str, seed: int, status: str, modes: float, w1: float, dataset: str = "ring8") -> dict:
    return {
        "run_id": f"{variant}{seed}{dataset}",
        "suite": "s",
        "dataset": dataset,
        "variant": variant,
        "seed": seed,
        "status": status,
        "steps_done": 100,
        "modes_covered": modes,
        "w1": w1,
        "diverged": int(status == "diverged"),
        "wall_s": 2.5,
        "device": "cpu",
        "mlflow_run_id": "m",
    }


@pytest.fixture
def runs() -> pd.DataFrame:
    return pd.DataFrame(
        [
            run("gan", 0, "finished", 6, 0.30),
            run("gan", 1, "diverged", 2, np.inf),  # keeps its metrics; inf is not a measurement
            run("gan", 2, "finished", 7, 0.25),
            run("gan", 3, "failed", np.nan, np.nan),
            run("wgan", 0, "finished", 8, 0.10),
            run("wgan", 1, "finished", 8, 0.12),
            run("wgan", 2, "finished", 8, 0.11),
            run("wgan", 0, "finished", 25, 0.5, dataset="grid25"),
        ]
    )


def cell(board: pd.DataFrame, variant: str, metric: str, dataset: str = "ring8") -> pd.Series:
    hit = board[(board.variant == variant) & (board.metric == metric) & (board.dataset == dataset)]
    assert len(hit) == 1
    return hit.iloc[0]


def test_metric_columns_skip_bookkeeping(runs: pd.DataFrame) -> None:
    assert metric_columns(runs.columns) == ["modes_covered", "w1", "diverged"]


def test_aggregate_matches_numpy_and_scipy(runs: pd.DataFrame) -> None:
    board = aggregate(runs)
    assert list(board.columns) == COLUMNS
    values = np.array([6.0, 2.0, 7.0])  # the failed run is out, the diverged one in
    row = cell(board, "gan", "modes_covered")
    low, high = stats.t.interval(0.95, len(values) - 1, loc=values.mean(), scale=stats.sem(values))
    assert (row.n, row.diverged) == (3, 1)
    assert row["mean"] == pytest.approx(values.mean()) and row["std"] == pytest.approx(values.std(ddof=1))
    assert (row.ci95_low, row.ci95_high) == (pytest.approx(low), pytest.approx(high))
    assert row["median"] == 6.0
    w1 = cell(board, "gan", "w1")
    assert w1.n == 2 and w1["mean"] == pytest.approx(0.275)  # the inf is dropped
    steady = cell(board, "wgan", "modes_covered")
    assert (steady["std"], steady.ci95_low, steady.ci95_high, steady.diverged) == (0.0, 8.0, 8.0, 0)
    single = cell(board, "wgan", "w1", "grid25")
    assert single.n == 1 and np.isnan(single["std"]) and np.isnan(single.ci95_low)


def test_divergence_rate_row(runs: pd.DataFrame) -> None:
    board = aggregate(runs)
    assert "diverged" not in set(board.metric)
    rate = cell(board, "gan", "divergence_rate")
    assert (rate.n, rate.diverged) == (3, 1) and rate["mean"] == pytest.approx(1 / 3)
    wilson = stats.binomtest(1, 3).proportion_ci(method="wilson")
    assert (rate.ci95_low, rate.ci95_high) == (pytest.approx(wilson.low), pytest.approx(wilson.high))
    assert cell(board, "wgan", "divergence_rate")["mean"] == 0.0


def test_aggregate_sort_order(runs: pd.DataFrame) -> None:
    board = aggregate(runs)
    keys = list(zip(board.dataset, board.metric, board.variant, strict=True))
    assert keys == sorted(keys)


def test_markdown_has_tables_and_claims(runs: pd.DataFrame) -> None:
    claims = pd.DataFrame(
        [
            [
                "c1",
                "WGAN covers more modes",
                "ring8",
                "supported",
                "supported",
                "permutation-exact",
                "pooled",
                0.0123,
                1.0,
                0.0246,
                3,
                3,
                0.715,
                0.9,
                5,
                np.nan,
                "",
                np.nan,
                "",
                "most runs of gan unhealthy (dead_critic 2/3)",
            ]
        ],
        columns=CLAIMS_COLUMNS,
    )
    md = to_markdown(aggregate(runs), claims)
    assert "## ring8" in md and "## grid25" in md and "## Claims" in md
    assert f"{5.0:.4g} ± {np.std([6.0, 2.0, 7.0], ddof=1):.2g}" in md  # gan modes_covered
    assert "8 ± 0" in md and "1/3" in md and "0.275" in md
    assert "WGAN covers more modes" in md and "0.0123" in md and "3/3" in md
    assert "0.0246" in md and "72%" in md and "most runs of gan unhealthy (dead_critic 2/3)" in md
    assert "Claims" not in to_markdown(aggregate(runs), None)


def shifted(board: pd.DataFrame, metric: str, by: float) -> pd.DataFrame:
    out = board.copy()
    out.loc[out.metric == metric, "mean"] += by
    return out


def gate_row(report: pd.DataFrame, variant: str, metric: str) -> pd.Series:
    return report[(report.variant == variant) & (report.metric == metric) & (report.dataset == "ring8")].iloc[
        0
    ]


def test_default_gate_passes_identical_and_float_noise(runs: pd.DataFrame) -> None:
    base = aggregate(runs)
    report = compare_to_baseline(shifted(base, "modes_covered", 1e-12), base, None)
    assert list(report.columns) == [
        "variant",
        "dataset",
        "metric",
        "baseline_mean",
        "mean",
        "delta",
        "band",
        "ok",
    ]
    assert report.ok.all() and len(report) == len(base)


def test_k_se_band(runs: pd.DataFrame) -> None:
    base = aggregate(runs)
    se = np.std([6.0, 2.0, 7.0], ddof=1) / np.sqrt(3)
    tol = ToleranceConfig(k_se=2.0)
    inside = gate_row(
        compare_to_baseline(shifted(base, "modes_covered", 1.9 * se), base, tol), "gan", "modes_covered"
    )
    outside = gate_row(
        compare_to_baseline(shifted(base, "modes_covered", -2.1 * se), base, tol), "gan", "modes_covered"
    )
    assert inside.ok and inside.band == pytest.approx(2 * se) and not outside.ok
    assert outside.delta == pytest.approx(-2.1 * se)


def test_absolute_and_relative_bands_and_the_widest_wins(runs: pd.DataFrame) -> None:
    base = aggregate(runs)
    moved = shifted(base, "w1", 0.05)  # wgan w1 mean 0.11
    absolute = compare_to_baseline(moved, base, ToleranceConfig(absolute=0.06))
    relative = compare_to_baseline(moved, base, ToleranceConfig(relative=0.2))  # band 0.022
    both = compare_to_baseline(moved, base, ToleranceConfig(absolute=0.01, relative=0.5))  # band 0.055
    assert gate_row(absolute, "wgan", "w1").ok and not gate_row(relative, "wgan", "w1").ok
    assert gate_row(relative, "wgan", "w1").band == pytest.approx(0.022)
    assert gate_row(both, "wgan", "w1").band == pytest.approx(0.055) and gate_row(both, "wgan", "w1").ok


def test_missing_cell_fails_and_metrics_filter(runs: pd.DataFrame) -> None:
    base = aggregate(runs)
    current = base[~((base.variant == "wgan") & (base.metric == "w1"))]
    report = compare_to_baseline(current, base, None)
    assert not gate_row(report, "wgan", "w1").ok and report.ok.sum() == len(base) - 2  # ring8 and grid25
    only = compare_to_baseline(current, base, ToleranceConfig(k_se=3, metrics=["modes_covered"]))
    assert set(only.metric) == {"modes_covered"} and only.ok.all()


def test_per_config_rows_are_each_configs_own_leaderboard():
    """leaderboard_configs.csv, computed in one pass, row for row equals the leaderboard of each
    config's runs alone (a published sweep's runs: two variants, two datasets, random configs),
    configs in the order they first appear and the references (no config) left out."""
    from pathlib import Path

    from ganbench.leaderboard import aggregate_configs

    runs = pd.read_csv(Path(__file__).parent.parent / "results" / "wgan_optimizer_study_runs.csv")
    configs = runs["config"].dropna().unique()[:6]
    runs = pd.concat([runs[runs["config"].isin(configs)], runs[runs["config"].isna()]])
    table = aggregate_configs(runs)
    assert list(table["config"].unique()) == list(configs)
    assert not table["variant"].isin(["noise", "data"]).any()
    for config in configs:
        alone = aggregate(runs[runs["config"] == config]).drop(columns="vs_noise")
        ours = table[table["config"] == config].drop(columns=["config", "vs_noise"]).reset_index(drop=True)
        pd.testing.assert_frame_equal(ours, alone, check_exact=False, rtol=1e-12, atol=1e-15)
