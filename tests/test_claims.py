"""Claims: exact permutation p-values against brute force, verdicts, directions, multiple
comparisons, the pooled / tuned / success_rate protocols, stability, power and notes."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from ganbench import claims as claims_lib
from ganbench.claims import (
    COLUMNS,
    adjust_p,
    claims_failed,
    evaluate_claims,
    rank_sum_permutation,
    signed_rank_signflip,
    stat_tests,
)
from ganbench.errors import BadInput
from ganbench.suite import ClaimConfig, load_suite
from tests.conftest import CLAIMS_COLUMNS, TINY_SUITE, write


def make_runs(
    values: dict[str, list[float]],
    metric: str = "modes_covered",
    dataset: str = "ring8",
    diverged: dict | None = None,
    health: dict | None = None,
) -> pd.DataFrame:
    """One finished run per value; `diverged` maps variant -> seeds that diverged, `health`
    variant -> one health label per seed."""
    diverged, health = diverged or {}, health or {}
    rows = [
        {
            "run_id": f"{variant}-{dataset}-{seed}",
            "suite": "s",
            "dataset": dataset,
            "variant": variant,
            "config": "",
            "seed": seed,
            "status": "diverged" if seed in diverged.get(variant, ()) else "finished",
            "health": health[variant][seed] if variant in health else "healthy",
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


def swept_runs(table: dict[str, dict[str, list[float]]], metric: str = "modes_covered") -> pd.DataFrame:
    """variant -> config label -> one value per seed (seeds 0, 1, ...)."""
    rows = [
        {"dataset": "ring8", "variant": variant, "config": config, "seed": seed, "status": "finished",
         "health": "healthy", metric: value, "diverged": 0}
        for variant, configs in table.items()
        for config, values in configs.items()
        for seed, value in enumerate(values)
    ]  # fmt: skip
    return pd.DataFrame(rows)


def claim(metric: str = "modes_covered", **kwargs) -> ClaimConfig:
    return ClaimConfig(id=kwargs.pop("id", "c"), metric=metric, better="a", worse="b", **kwargs)


def one(runs: pd.DataFrame, c: ClaimConfig, **options) -> pd.Series:
    table = evaluate_claims(runs, [c], **options)
    assert list(table.columns) == COLUMNS and len(table) == 1
    return table.iloc[0]


def brute_force_p(x: list[float], y: list[float]) -> tuple[float, float]:
    """(P(rank sum of x >= observed), P(<= observed)) over every split of the pooled values."""
    ranks = stats.rankdata(x + y)
    observed = ranks[: len(x)].sum()
    sums = np.array([ranks[list(idx)].sum() for idx in itertools.combinations(range(len(ranks)), len(x))])
    return float(np.mean(sums >= observed - 1e-9)), float(np.mean(sums <= observed + 1e-9))


def brute_force_signflip(d: list[float]) -> tuple[float, float]:
    """Every sign pattern of the nonzero d, signed-rank statistic (zeros ranked, never flipped)."""
    ranks = stats.rankdata(np.abs(d))
    nonzero = [i for i, v in enumerate(d) if v != 0]
    observed = sum(ranks[i] for i in nonzero if d[i] > 0)
    sums = np.array(
        [sum(ranks[i] for i, s in zip(nonzero, signs, strict=True) if s > 0)
         for signs in itertools.product((1, -1), repeat=len(nonzero))]
    )  # fmt: skip
    return float(np.mean(sums >= observed - 1e-9)), float(np.mean(sums <= observed + 1e-9))


HIGH = [8.0, 7.0, 8.0, 6.0, 8.0, 7.5]
LOW = [3.0, 2.0, 4.0, 3.5, 1.0, 2.5]


def test_columns_are_the_documented_ones() -> None:
    assert COLUMNS == CLAIMS_COLUMNS


# ----------------------------------------------------------------------------- exact tests


@pytest.mark.parametrize(
    "x,y,exact,normal",
    [([8.0] * 5, [6.0, 7.0, 7.0, 8.0, 8.0], 0.083, 0.035), ([8.0] * 3, [0.0] * 3, 0.05, 0.023)],
)
def test_exact_permutation_on_tied_small_samples(x, y, exact, normal) -> None:
    greater, less = brute_force_p(x, y)
    assert greater == pytest.approx(exact, abs=5e-4)
    result = rank_sum_permutation(np.array(x), np.array(y))
    assert result.test == "permutation-exact"
    assert result.p_greater == pytest.approx(greater, rel=1e-12) and result.p_less == pytest.approx(
        less, rel=1e-12
    )
    # scipy's default (normal approximation with ties) is anti-conservative here
    assert stats.mannwhitneyu(x, y, alternative="greater").pvalue == pytest.approx(normal, abs=5e-4)
    row = one(make_runs({"a": x, "b": y}), claim())
    assert row.test == "permutation-exact" and row.p_value == pytest.approx(greater, rel=1e-12)
    assert row.verdict == "inconclusive"  # 0.083 and 0.05 are not below alpha = 0.05


@pytest.mark.parametrize("seed", range(6))
def test_exact_permutation_matches_brute_force_on_random_tied_samples(seed: int) -> None:
    rng = np.random.default_rng(seed)
    nx, ny = rng.integers(2, 7, size=2)
    x, y = rng.integers(0, 4, nx).astype(float).tolist(), rng.integers(0, 5, ny).astype(float).tolist()
    result = rank_sum_permutation(np.array(x), np.array(y))
    assert (result.p_greater, result.p_less) == pytest.approx(brute_force_p(x, y), rel=1e-12)


@pytest.mark.parametrize(
    "d", [[0.5, 0.62, 0.7, 0.81, 0.9], [0.3, -0.3, 0.3, 0.0, 1.2, -0.1, 0.3], [-1.0, -2.0, 0.5]]
)
def test_signflip_matches_brute_force(d: list[float]) -> None:
    result = signed_rank_signflip(np.array(d))
    assert result.test == "signflip-exact"
    assert (result.p_greater, result.p_less) == pytest.approx(brute_force_signflip(d), rel=1e-12)


def test_monte_carlo_beyond_the_exact_budget(monkeypatch) -> None:
    x = np.array([5.1, 6.3, 4.8, 7.0, 5.5, 6.6, 5.0, 5.9])  # C(16, 8) = 12870 splits > 9999 resamples
    y = np.array([4.9, 5.0, 3.8, 6.1, 4.2, 4.0, 5.3, 4.4])
    exact = rank_sum_permutation(x, y)
    monkeypatch.setattr(stat_tests, "EXACT_BUDGET", 10)
    mc = rank_sum_permutation(x, y)
    assert mc.test == "permutation-mc" and mc == rank_sum_permutation(x, y)  # seeded
    ranks = stats.rankdata(np.concatenate([x, y]))
    scipy_mc = stats.permutation_test(
        (ranks[:8], ranks[8:]), lambda a, b, axis: np.sum(a, axis=axis), vectorized=True,
        n_resamples=claims_lib.PERMUTATION_RESAMPLES, alternative="greater",
        rng=np.random.default_rng(claims_lib.PERMUTATION_SEED),
    )  # fmt: skip
    assert mc.p_greater == pytest.approx(scipy_mc.pvalue)
    assert mc.p_greater == pytest.approx(exact.p_greater, abs=0.01)
    assert mc.p_less == pytest.approx(exact.p_less, abs=0.01)
    assert mc.p_greater * (1 + claims_lib.PERMUTATION_RESAMPLES) == pytest.approx(
        round(mc.p_greater * 10_000)
    )


# ----------------------------------------------------------------------------- verdicts


def test_separated_values_support_the_claim() -> None:
    row = one(make_runs({"a": HIGH, "b": LOW}), claim())
    assert row.verdict == "supported" and row.p_value == pytest.approx(1 / math.comb(12, 6))
    assert row.effect_size == 1.0 and (row.n_better, row.n_worse) == (6, 6)
    assert row.test == "permutation-exact" and row.protocol == "pooled"
    assert row.expected == "supported" and row.dataset == "ring8" and row.note == ""


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
    assert row.p_value == pytest.approx(expected, rel=1e-12) and row.test == test
    pairs = np.sign(np.subtract.outer(a, b))
    assert row.effect_size == pytest.approx(pairs.mean())


def test_lower_is_better_metric_flips_the_direction() -> None:
    small, large = [0.10, 0.12, 0.09, 0.11, 0.13], [0.30, 0.25, 0.40, 0.28, 0.35]
    row = one(make_runs({"a": small, "b": large}, metric="w1"), claim("w1"))
    assert row.verdict == "supported" and row.effect_size == 1.0
    assert row.p_value == pytest.approx(brute_force_p([-v for v in small], [-v for v in large])[0])
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
    expected = brute_force_p([-v for v in a], [-v for v in [0.30, 0.50, 0.50, 0.50, 0.40]])[0]
    assert row.p_value == pytest.approx(expected)


def test_divergence_rate_uses_fisher() -> None:
    runs = make_runs({"a": [8.0] * 6, "b": [8.0] * 6}, diverged={"b": range(5)})
    row = one(runs, claim("divergence_rate"))
    assert row.test == "fisher" and row.verdict == "supported"
    assert row.p_value == pytest.approx(stats.fisher_exact([[0, 6], [5, 1]], alternative="less").pvalue)
    assert row.effect_size == pytest.approx(5 / 6)
    assert (row.rate_better, row.rate_worse) == (0.0, pytest.approx(5 / 6))
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


def test_bootstrap_is_reproducible_and_refuses_small_samples() -> None:
    high, low = [*HIGH, 7.0, 8.0], [*LOW, 2.0, 3.0]
    runs = make_runs({"a": high, "b": low})
    first, second = one(runs, claim(test="bootstrap")), one(runs, claim(test="bootstrap"))
    assert first.verdict == second.verdict == "supported"
    assert first.p_value == second.p_value and 0 < first.p_value < 0.05
    small = one(make_runs({"a": HIGH, "b": LOW}), claim(test="bootstrap"))  # 6 a side
    assert small.verdict == "inconclusive" and np.isnan(small.p_value) and "bootstrap refused" in small.note
    alone = one(
        make_runs({"a": [0.4, 0.5, 0.45, 0.6, 0.55]}, metric="w1"),
        threshold_claim("w1", 1.0, test="bootstrap"),
    )
    assert alone.verdict == "inconclusive" and "bootstrap refused" in alone.note


@pytest.mark.parametrize(
    "metric,test",
    [("modes_covered", "permutation"), ("modes_covered", "mannwhitney"), ("modes_covered", "welch"),
     ("modes_covered", "bootstrap"), ("divergence_rate", "permutation"), ("modes_covered_std", "permutation")],
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


def test_failed_and_killed_runs_are_left_out_and_every_dataset_is_tested() -> None:
    runs = pd.concat(
        [make_runs({"a": HIGH, "b": LOW}), make_runs({"a": HIGH, "b": LOW}, dataset="grid25")],
        ignore_index=True,
    )
    runs.loc[runs.index[:2], "status"] = ["failed", "killed"]
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


def test_one_sample_claim_uses_the_signflip_test() -> None:
    corr = [0.5, 0.62, 0.7, 0.81, 0.9]
    runs = make_runs({"a": corr, "b": [0.0] * 5}, metric="w_quality_corr")
    row = one(runs, threshold_claim("w_quality_corr", 0.0))
    assert row.verdict == "supported" and row.test == "signflip-exact"
    assert row.p_value == pytest.approx(1 / 32) == brute_force_signflip(corr)[0]
    assert row.effect_size == 1.0 and (row.n_better, row.n_worse) == (5, 0)
    wilcoxon = one(runs, threshold_claim("w_quality_corr", 0.0, test="mannwhitney"))
    assert wilcoxon.test == "wilcoxon"
    assert wilcoxon.p_value == pytest.approx(stats.wilcoxon(corr, alternative="greater").pvalue)
    negative = one(
        make_runs({"a": [-c for c in corr]}, metric="w_quality_corr"), threshold_claim("w_quality_corr", 0.0)
    )
    assert negative.verdict == "contradicted"


@pytest.mark.parametrize("test", ["welch", "bootstrap"])
def test_one_sample_claim_other_tests(test: str) -> None:
    w1 = [0.4, 0.5, 0.45, 0.6, 0.55, 0.42, 0.58, 0.47]  # lower is better: "better than 1.0" means below it
    row = one(make_runs({"a": w1}, metric="w1"), threshold_claim("w1", 1.0, test=test))
    assert row.verdict == "supported"
    if test == "welch":
        assert row.p_value == pytest.approx(stats.ttest_1samp(w1, 1.0, alternative="less").pvalue)


def test_claim_needs_exactly_one_reference_and_a_registered_test() -> None:
    with pytest.raises(ValueError, match="exactly one of"):
        ClaimConfig(id="x", metric="w1", better="a", worse="b", threshold=1.0)
    with pytest.raises(ValueError, match="exactly one of"):
        ClaimConfig(id="x", metric="w1", better="a")
    with pytest.raises(ValueError, match="unknown claim test 'permutaton' \\(did you mean 'permutation'"):
        ClaimConfig(id="x", metric="w1", better="a", worse="b", test="permutaton")
    with pytest.raises(ValueError, match="selection_seeds"):
        ClaimConfig(id="x", metric="w1", better="a", worse="b", selection_seeds=2)
    assert set(claims_lib.CLAIM_TESTS) == {"permutation", "mannwhitney", "welch", "bootstrap"}


# ----------------------------------------------------------------------------- multiple comparisons


def test_holm_and_bh_against_hand_computed_values() -> None:
    p = [0.01, 0.04, 0.03, 0.005, np.nan]
    # Holm, m = 4: sorted 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> running max 0.06
    np.testing.assert_allclose(adjust_p(p, "holm"), [0.03, 0.06, 0.06, 0.02, np.nan])
    # BH: 0.005*4/1 = 0.02, 0.01*4/2 = 0.02, 0.03*4/3 = 0.04, 0.04*4/4 = 0.04 -> running min from the top
    np.testing.assert_allclose(adjust_p(p, "bh"), [0.02, 0.04, 0.04, 0.02, np.nan])
    np.testing.assert_allclose(adjust_p(p, "none"), p)
    np.testing.assert_allclose(adjust_p([0.5, 0.9], "holm"), [1.0, 1.0])  # capped at 1


def test_critical_levels_are_the_largest_raw_p_the_adjustment_lets_through() -> None:
    alphas = np.full(3, 0.05)
    # Holm over {p, 0.04}: 2p < 0.05 -> 0.025; 0.04's own: max(2 * 0.01, p) < 0.05 -> 0.05; the NaN
    # row joins as a third test: max(3 * 0.01, 2p) < 0.05 -> 0.025
    levels = claims_lib.critical_levels(np.array([0.01, 0.04, np.nan]), "holm", alphas)
    np.testing.assert_allclose(levels, [0.025, 0.05, 0.025], atol=1e-9)
    bh = claims_lib.critical_levels(np.array([0.01, 0.04]), "bh", alphas[:2])
    np.testing.assert_allclose(bh, [0.05, 0.05], atol=1e-9)  # BH lets anything below 0.05 through here


def test_the_verdict_uses_the_adjusted_p() -> None:
    # Two claims, each 4 vs 3 completely separated: p = 1/C(7, 3) = 0.029 each.
    runs = pd.concat(
        [make_runs({"a": [8.0, 7.0, 8.0, 6.0], "b": [1.0, 2.0, 0.0]}),
         make_runs({"a": [0.1, 0.2, 0.15, 0.12], "b": [0.5, 0.6, 0.7]}, metric="w1")],
        ignore_index=True,
    )  # fmt: skip
    claims = [claim(id="modes"), claim("w1", id="w1")]
    raw = 1 / math.comb(7, 3)
    holm = evaluate_claims(runs, claims)
    assert list(holm["p_value"]) == pytest.approx([raw, raw])
    assert list(holm["p_adjusted"]) == pytest.approx([2 * raw, 2 * raw])  # 0.057 > 0.05
    assert list(holm["verdict"]) == ["inconclusive", "inconclusive"]
    bh = evaluate_claims(runs, claims, p_adjust="bh")
    assert list(bh["p_adjusted"]) == pytest.approx([raw, raw]) and list(bh["verdict"]) == ["supported"] * 2
    assert list(evaluate_claims(runs, claims, p_adjust="none")["verdict"]) == ["supported"] * 2


def test_ci_smoke_claims_survive_holm_with_four_seeds_a_side() -> None:
    modes = make_runs({"a": [8.0, 7.0, 8.0, 7.0], "b": [0.0] * 4})
    w1 = make_runs({"a": [0.1, 0.12, 0.09, 0.11], "b": [1.5, 1.7, 1.6, 1.4]}, metric="w1")
    table = evaluate_claims(pd.concat([modes, w1], ignore_index=True), [claim(id="m"), claim("w1", id="w")])
    assert list(table["p_value"]) == pytest.approx([1 / 70, 1 / 70])
    assert list(table["p_adjusted"]) == pytest.approx([2 / 70, 2 / 70])
    assert list(table["verdict"]) == ["supported", "supported"] and list(table["stability"]) == [1.0, 1.0]


# ----------------------------------------------------------------------------- protocols


def test_pooled_protocol_is_the_permutation_test_of_all_configs_and_seeds() -> None:
    runs = swept_runs(
        {"a": {"lr=0.1": [6.0, 7.0, 8.0], "lr=0.01": [5.0, 8.0, 4.0]},
         "b": {"lr=0.1": [3.0, 5.0, 4.0], "lr=0.01": [6.0, 2.0, 4.0]}}
    )  # fmt: skip
    row = one(runs, claim())
    x, y = [6.0, 7.0, 8.0, 5.0, 8.0, 4.0], [3.0, 5.0, 4.0, 6.0, 2.0, 4.0]
    ranks = stats.rankdata(x + y)
    expected = stats.permutation_test(
        (ranks[:6], ranks[6:]), lambda a, b, axis: np.mean(a, axis=axis) - np.mean(b, axis=axis),
        vectorized=True, n_resamples=np.inf, alternative="greater",
    )  # fmt: skip
    assert row.protocol == "pooled" and (row.n_better, row.n_worse) == (6, 6)
    assert row.p_value == pytest.approx(expected.pvalue, rel=1e-12)
    assert row.effect_size == pytest.approx(np.sign(np.subtract.outer(x, y)).mean())


def test_success_rate_protocol_is_fisher_on_the_counts() -> None:
    w1 = {"a": [0.1, 0.2, 0.25, 0.5, 0.2, 0.1], "b": [0.2, 0.6, 0.7, 0.9, 0.35, 0.28]}
    runs = make_runs(w1, metric="w1", diverged={"a": [5]})  # a's last run diverged: a failure
    runs["hq_share"] = [0.9, 0.8, 0.7, 0.9, 0.3, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.2]
    success = {"w1": {"below": 0.3}, "hq_share": {"above": 0.5}}
    row = one(runs, claim("w1", protocol="success_rate"), success=success)
    # a: 0.1 ok, 0.2 ok, 0.25 ok, 0.5 too far, 0.2 but hq 0.3, diverged -> 3/6; b: 0.2 ok, 0.28 but hq 0.2 -> 1/6
    table = [[3, 3], [1, 5]]
    assert row.test == "fisher" and row.protocol == "success_rate"
    assert row.p_value == pytest.approx(stats.fisher_exact(table, alternative="greater").pvalue)
    assert row.rate_better == pytest.approx(0.5) and row.rate_worse == pytest.approx(1 / 6)
    ci = stats.binomtest(3, 6).proportion_ci(method="wilson")
    assert row.rate_better_ci95 == f"[{ci.low:.2f}, {ci.high:.2f}]"
    assert row.effect_size == pytest.approx(0.5 - 1 / 6) and row.verdict == "inconclusive"
    alone = one(runs, threshold_claim("w1", 0.1, protocol="success_rate"), success=success)
    assert alone.test == "binomial"
    assert alone.p_value == pytest.approx(stats.binomtest(3, 6, 0.1, alternative="greater").pvalue)
    with pytest.raises(ValueError, match="success"):
        evaluate_claims(runs, [claim("w1", protocol="success_rate")])


def test_tuned_protocol_picks_on_selection_seeds_and_tests_on_fresh_ones_only() -> None:
    # Seeds 0-1 select, 2-5 are fresh. On the selection seeds `a`'s config "good" looks best and
    # `b`'s config "lucky" looks best (an extreme 100); on fresh seeds the picks are compared.
    runs = swept_runs(
        {"a": {"good": [7.0, 7.0, 6.0, 7.0, 8.0, 7.5], "bad": [1.0, 2.0, 9.0, 9.0, 9.0, 9.0]},
         "b": {"lucky": [100.0, 100.0, 2.0, 3.0, 1.0, 2.5], "steady": [5.0, 5.0, 50.0, 50.0, 50.0, 50.0]}}
    )  # fmt: skip
    c = claim(protocol="tuned", selection_seeds=2)
    row = one(runs, c)
    fresh_a, fresh_b = [6.0, 7.0, 8.0, 7.5], [2.0, 3.0, 1.0, 2.5]
    assert (row.n_better, row.n_worse) == (4, 4)
    assert row.p_value == pytest.approx(brute_force_p(fresh_a, fresh_b)[0]) == pytest.approx(1 / 70)
    assert row.effect_size == 1.0  # the 100s of the selection seeds never entered
    assert "a: good" in row.note and "b: lucky" in row.note and "tested on seeds 2, 3, 4, 5" in row.note
    # default: half of the 6 seeds select (0, 1, 2), the other 3 are fresh
    default = one(runs, claim(protocol="tuned"))
    assert "tuned on seeds 0, 1, 2" in default.note and (default.n_better, default.n_worse) == (3, 3)
    pooled = one(runs, claim())
    assert pooled.n_better == 12 and pooled.p_value != row.p_value


def test_tuned_protocol_with_no_fresh_seed_is_inconclusive() -> None:
    runs = swept_runs({"a": {"x": [8.0, 8.0]}, "b": {"y": [1.0, 1.0]}})
    row = one(runs, claim(protocol="tuned", selection_seeds=2))
    assert row.verdict == "inconclusive" and np.isnan(row.p_value) and "no fresh seeds" in row.note


def test_reference_rows_can_be_the_worse_side() -> None:
    runs = make_runs({"a": HIGH, "noise": [5.0, 5.5, 5.0, 6.0, 5.5, 5.0]})
    runs.loc[runs["variant"] == "noise", ["status", "health"]] = "reference"
    row = one(runs, ClaimConfig(id="n", metric="modes_covered", better="a", worse="noise"))
    assert row.verdict == "supported" and row.n_worse == 6 and row.note == ""


def test_a_success_rate_claim_needs_the_suites_success_criterion(tmp_path) -> None:
    text = TINY_SUITE.replace(
        "    expect: inconclusive", "    expect: inconclusive\n    protocol: success_rate"
    )
    with pytest.raises(BadInput) as err:
        load_suite(write(tmp_path, text))
    message = str(err.value)
    assert (
        "\n" not in message
        and "suite.yaml: success: claims[0] (gan-beats-wgan) has protocol success_rate" in message
    )
    ok = load_suite(write(tmp_path, text + "success: {w1: {below: 0.3}}\np_adjust: bh\n", "ok.yaml"))
    assert ok.file.success == {"w1": {"below": 0.3}} and ok.file.p_adjust == "bh"
    with pytest.raises(BadInput, match="p_adjust"):
        load_suite(write(tmp_path, TINY_SUITE + "p_adjust: bonferroni\n", "bad.yaml"))
    with pytest.raises(BadInput, match="claims\\[0\\].test: unknown claim test"):
        load_suite(write(tmp_path, TINY_SUITE.replace("metric: w1", "metric: w1\n    test: ttest"), "t.yaml"))


# ----------------------------------------------------------------------------- stability, power, notes


def test_stability_is_one_for_an_overwhelming_effect_and_lower_for_a_borderline_one() -> None:
    strong = one(
        make_runs({"a": [8.0 + 0.1 * i for i in range(10)], "b": [1.0 + 0.1 * i for i in range(10)]}), claim()
    )
    assert strong.verdict == "supported" and strong.stability == 1.0
    a, b = [5.1, 6.3, 4.8, 7.0, 5.5, 6.2], [4.9, 5.0, 3.8, 6.1, 4.2, 5.2]  # p = 0.047
    borderline = one(make_runs({"a": a, "b": b}), claim())
    assert borderline.p_value == pytest.approx(brute_force_p(a, b)[0]) and borderline.p_value < 0.05
    assert 0 < borderline.stability < 0.8 and "unstable: supported in" in borderline.note
    again = one(make_runs({"a": a, "b": b}), claim())
    assert again.stability == borderline.stability  # seeded


def test_detectable_effect_and_seeds_needed() -> None:
    z = stats.norm.ppf(0.95) + stats.norm.ppf(0.8)
    a, b = [5.1, 6.3, 4.8, 7.0, 5.5], [4.9, 5.0, 3.8, 6.1, 4.2]
    row = one(make_runs({"a": a, "b": b}), claim())
    assert row.detectable_effect == pytest.approx(2 * z * math.sqrt(10 / (12 * 25)))  # Noether, delta
    delta = np.sign(np.subtract.outer(a, b)).mean()
    assert row.seeds_needed == math.ceil(2 * z**2 / (3 * delta**2))
    tiny = one(make_runs({"a": [8.0] * 3, "b": [0.0] * 3}), claim())
    assert np.isnan(tiny.detectable_effect) and "smallest p attainable with 3 vs 3 runs is 0.05" in tiny.note
    # delta = 1: Noether asks ceil(2 z^2 / 3) = 5 a side (4 would be the least where p < 0.05 is possible)
    assert tiny.seeds_needed == max(math.ceil(2 * z**2 / 3), 4) == 5


def test_health_note_when_most_runs_of_a_side_are_unhealthy() -> None:
    health = {"b": ["dead_critic", "dead_critic", "healthy", "dead_critic", "dead_critic", "diverged"]}
    row = one(make_runs({"a": HIGH, "b": LOW}, health=health), claim())
    assert "most runs of b unhealthy (dead_critic 4/6, diverged 1/6)" in row.note
    some = {"b": ["dead_critic", "healthy", "healthy", "dead_critic", "healthy", "diverged"]}  # 3/6: not most
    assert "unhealthy" not in one(make_runs({"a": HIGH, "b": LOW}, health=some), claim()).note
