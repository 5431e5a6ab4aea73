"""Claims: verdicts, p-values against scipy's own, directions, divergence and spread claims."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from ganbench.claims import COLUMNS, claims_failed, evaluate_claims
from ganbench.suite import ClaimConfig


def make_runs(
    values: dict[str, list[float]],
    metric: str = "modes_covered",
    dataset: str = "ring8",
    diverged: dict | None = None,
) -> pd.DataFrame:
    """One finished run per value; `diverged` maps variant -> seeds that diverged."""
    diverged = diverged or {}
    rows = [
        {
            "run_id": f"{variant}-{dataset}-{seed}",
            "suite": "s",
            "dataset": dataset,
            "variant": variant,
            "seed": seed,
            "status": "diverged" if seed in diverged.get(variant, ()) else "finished",
            "steps_done": 100,
            metric: value,
            "diverged": int(seed in diverged.get(variant, ())),
            "wall_s": 1.0,
            "device": "cpu",
            "mlflow_run_id": "",
        }
        for variant, vals in values.items()
        for seed, value in enumerate(vals)
    ]
    return pd.DataFrame(rows)


def claim(metric: str = "modes_covered", **kwargs) -> ClaimConfig:
    return ClaimConfig(id=kwargs.pop("id", "c"), metric=metric, better="a", worse="b", **kwargs)


def one(runs: pd.DataFrame, c: ClaimConfig) -> pd.Series:
    table = evaluate_claims(runs, [c])
    assert list(table.columns) == COLUMNS and len(table) == 1
    return table.iloc[0]


HIGH = [8.0, 7.0, 8.0, 6.0, 8.0, 7.5]
LOW = [3.0, 2.0, 4.0, 3.5, 1.0, 2.5]


def test_separated_values_support_the_claim() -> None:
    row = one(make_runs({"a": HIGH, "b": LOW}), claim())
    assert row.verdict == "supported" and row.p_value < 0.05
    assert row.effect_size == 1.0 and (row.n_better, row.n_worse) == (6, 6)
    assert row.test == "mannwhitney" and row.expected == "supported" and row.dataset == "ring8"


def test_reversed_values_contradict_the_claim() -> None:
    row = one(make_runs({"a": LOW, "b": HIGH}), claim())
    assert row.verdict == "contradicted" and row.p_value > 0.95 and row.effect_size == -1.0


def test_identical_values_are_inconclusive() -> None:
    row = one(make_runs({"a": [8.0] * 5, "b": [8.0] * 5}), claim())
    assert row.verdict == "inconclusive" and np.isnan(row.p_value) and row.effect_size == 0.0


@pytest.mark.parametrize("test", ["mannwhitney", "welch"])
def test_p_values_match_scipy(test: str) -> None:
    a, b = [5.1, 6.3, 4.8, 7.0, 5.5], [4.9, 5.0, 3.8, 6.1, 4.2]
    row = one(make_runs({"a": a, "b": b}), claim(test=test))
    if test == "welch":
        expected = stats.ttest_ind(a, b, equal_var=False, alternative="greater").pvalue
    else:
        expected = stats.mannwhitneyu(a, b, alternative="greater").pvalue
    assert row.p_value == pytest.approx(expected, rel=1e-12)
    pairs = np.sign(np.subtract.outer(a, b))
    assert row.effect_size == pytest.approx(pairs.mean())


def test_lower_is_better_metric_flips_the_direction() -> None:
    small, large = [0.10, 0.12, 0.09, 0.11, 0.13], [0.30, 0.25, 0.40, 0.28, 0.35]
    row = one(make_runs({"a": small, "b": large}, metric="w1"), claim("w1"))
    assert row.verdict == "supported" and row.effect_size == 1.0
    assert row.p_value == pytest.approx(stats.mannwhitneyu(small, large, alternative="less").pvalue)
    assert one(make_runs({"a": large, "b": small}, metric="w1"), claim("w1")).verdict == "contradicted"


def test_a_diverged_run_counts_as_the_registered_worst() -> None:
    # `b` diverged on every seed with good-looking last values: modes_covered's worst is 0.
    runs = make_runs({"a": [6.0, 6.0, 7.0, 6.0, 6.0], "b": [8.0] * 5}, diverged={"b": range(5)})
    row = one(runs, claim())
    assert row.verdict == "supported" and row.effect_size == 1.0 and row.n_worse == 5


def test_a_diverged_run_counts_as_the_worst_observed_without_a_registered_worst() -> None:
    # w1 has no registered worst: diverged runs take the largest w1 seen on either side, even a NaN one.
    a, b = [0.10, 0.20, 0.15, 0.12, 0.18], [0.30, 0.50, 0.01, np.nan, 0.40]
    row = one(make_runs({"a": a, "b": b}, metric="w1", diverged={"b": [2, 3]}), claim("w1"))
    assert row.n_worse == 5 and row.effect_size == 1.0 and row.verdict == "supported"
    expected = stats.mannwhitneyu(a, [0.30, 0.50, 0.50, 0.50, 0.40], alternative="less").pvalue
    assert row.p_value == pytest.approx(expected)


def test_divergence_rate_uses_fisher() -> None:
    runs = make_runs({"a": [8.0] * 6, "b": [8.0] * 6}, diverged={"b": range(5)})
    row = one(runs, claim("divergence_rate"))
    assert row.test == "fisher" and row.verdict == "supported"
    assert row.p_value == pytest.approx(stats.fisher_exact([[0, 6], [5, 1]], alternative="less").pvalue)
    assert row.effect_size == pytest.approx(5 / 6)
    assert (
        one(runs, ClaimConfig(id="c", metric="divergence_rate", better="b", worse="a")).verdict
        == "contradicted"
    )


def test_std_claim_compares_spread() -> None:
    steady, shaky = [7.9, 8.0, 8.1, 8.0, 7.95, 8.05], [2.0, 8.0, 4.0, 7.0, 1.0, 6.0]
    row = one(make_runs({"a": steady, "b": shaky}), claim("modes_covered_std"))
    assert row.test == "levene" and row.verdict == "supported"
    assert row.p_value == pytest.approx(stats.levene(steady, shaky, center="median").pvalue / 2)
    assert row.effect_size == pytest.approx(np.std(shaky, ddof=1) - np.std(steady, ddof=1))
    assert one(make_runs({"a": shaky, "b": steady}), claim("modes_covered_std")).verdict == "contradicted"


def test_bootstrap_is_reproducible() -> None:
    runs = make_runs({"a": HIGH, "b": LOW})
    first, second = one(runs, claim(test="bootstrap")), one(runs, claim(test="bootstrap"))
    assert first.verdict == second.verdict == "supported"
    assert first.p_value == second.p_value and 0 < first.p_value < 0.05
    noisy = make_runs({"a": [5.1, 6.3, 4.8, 7.0, 5.5], "b": [4.9, 5.0, 3.8, 6.1, 4.2]})
    assert one(noisy, claim(test="bootstrap")).p_value == one(noisy, claim(test="bootstrap")).p_value


@pytest.mark.parametrize(
    "metric,test",
    [("modes_covered", "mannwhitney"), ("modes_covered", "welch"), ("modes_covered", "bootstrap"),
     ("divergence_rate", "mannwhitney"), ("modes_covered_std", "mannwhitney")],
)  # fmt: skip
def test_fewer_than_two_seeds_is_inconclusive_without_warnings(metric: str, test: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        row = one(make_runs({"a": [8.0], "b": [2.0, 3.0]}), claim(metric, test=test))
        degenerate = one(make_runs({"a": [8.0, 8.0], "b": [2.0, 2.0]}), claim(metric, test=test))
    assert row.verdict == "inconclusive" and np.isnan(row.p_value) and row.n_better == 1
    assert degenerate.verdict in (
        "supported",
        "inconclusive",
    )  # zero spread: welch may call it, levene cannot


def test_failed_runs_are_left_out_and_every_dataset_is_tested() -> None:
    runs = pd.concat(
        [make_runs({"a": HIGH, "b": LOW}), make_runs({"a": HIGH, "b": LOW}, dataset="grid25")],
        ignore_index=True,
    )
    runs.loc[runs.index[:2], "status"] = "failed"
    table = evaluate_claims(runs, [claim()])
    assert list(table["dataset"]) == ["ring8", "grid25"] and list(table["n_better"]) == [4, 6]
    only = evaluate_claims(runs, [claim(datasets=["grid25"])])
    assert list(only["dataset"]) == ["grid25"]


def test_claims_failed_picks_rows_whose_verdict_differs() -> None:
    runs = make_runs({"a": HIGH, "b": LOW})
    claims = [claim(id="ok"), claim(id="bad", expect="contradicted"), claim(id="meh", expect="inconclusive")]
    table = evaluate_claims(runs, claims)
    assert list(claims_failed(table)["id"]) == ["bad", "meh"]
    assert claims_failed(table.iloc[:1]).empty


def threshold_claim(metric: str, threshold: float, **kwargs) -> ClaimConfig:
    return ClaimConfig(id="t", metric=metric, better="a", threshold=threshold, **kwargs)


def test_one_sample_claim_uses_wilcoxon() -> None:
    corr = [0.5, 0.62, 0.7, 0.81, 0.9]
    row = one(
        make_runs({"a": corr, "b": [0.0] * 5}, metric="w_quality_corr"),
        threshold_claim("w_quality_corr", 0.0),
    )
    assert row.verdict == "supported" and row.test == "wilcoxon"
    assert row.p_value == pytest.approx(stats.wilcoxon(corr, alternative="greater").pvalue)
    assert row.effect_size == 1.0 and (row.n_better, row.n_worse) == (5, 0)
    negative = one(
        make_runs({"a": [-c for c in corr]}, metric="w_quality_corr"), threshold_claim("w_quality_corr", 0.0)
    )
    assert negative.verdict == "contradicted"


@pytest.mark.parametrize("test", ["welch", "bootstrap"])
def test_one_sample_claim_other_tests(test: str) -> None:
    w1 = [0.4, 0.5, 0.45, 0.6, 0.55]  # lower is better: "better than 1.0" means below it
    row = one(make_runs({"a": w1}, metric="w1"), threshold_claim("w1", 1.0, test=test))
    assert row.verdict == "supported"
    if test == "welch":
        assert row.p_value == pytest.approx(stats.ttest_1samp(w1, 1.0, alternative="less").pvalue)


def test_claim_needs_exactly_one_reference() -> None:
    with pytest.raises(ValueError, match="exactly one of"):
        ClaimConfig(id="x", metric="w1", better="a", worse="b", threshold=1.0)
    with pytest.raises(ValueError, match="exactly one of"):
        ClaimConfig(id="x", metric="w1", better="a")
