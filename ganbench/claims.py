"""Claims: a verdict with statistics for "variant `better` beats variant `worse` on `metric`".

A claim is tested on each of its datasets separately, over the non-failed runs (one per seed).

Per-run metrics (``modes_covered``, ``w1``, ``*_osc``, ``w_quality_corr``, ...) compare the final
values of the two variants:

- A diverged run counts as the worst value of the metric: ``MetricInfo.worst`` when the registry
  gives one, else the worst value observed on either side (the minimum when higher is better, the
  maximum when lower is better). Its own last value is replaced too, finite or not: it measures a
  broken model. A finished run with a non-finite value is dropped (nothing was measured).
- Values are oriented (lower-is-better metrics times -1), so "better" always means larger.
- ``mannwhitney`` (default): scipy.stats.mannwhitneyu, one-sided.
- ``welch``: scipy.stats.ttest_ind(equal_var=False), one-sided.
- ``bootstrap``: the bootstrap test of a difference of means (Efron & Tibshirani 1993, 16.4):
  both sides are shifted to the pooled mean so that the null hypothesis holds, resampled with
  replacement ``BOOTSTRAP_RESAMPLES`` times by a numpy Generator with the fixed seed
  ``BOOTSTRAP_SEED`` (same numbers, same verdict, every time), and
  p = (1 + #{resampled difference >= observed difference}) / (1 + resamples).
- Effect size: Cliff's delta P(better > worse) - P(better < worse), in [-1, 1].

One-sample claims (``threshold:`` instead of ``worse:``) compare the ``better`` variant's final
values with a fixed value: ``mannwhitney`` becomes its one-sample counterpart, the Wilcoxon
signed-rank test (scipy.stats.wilcoxon); ``welch`` the one-sample t-test; ``bootstrap`` the
null-shifted bootstrap of the mean. Effect size: P(value > threshold) - P(value < threshold), the
one-sample analogue of Cliff's delta. ``n_worse`` is 0.

Variant-level metrics:

- ``divergence_rate``: Fisher's exact test on the 2x2 table diverged / not diverged per variant;
  effect size = difference of the rates.
- ``<metric>_std`` (seed-to-seed spread, lower is steadier): the Brown-Forsythe test,
  scipy.stats.levene(center="median"), on the per-run values above (so diverged runs widen the
  spread of the variant they belong to). It is two-sided; the one-sided p is p/2 when the sample
  stds are in the claimed order and 1 - p/2 otherwise. Effect size = difference of the stds.

Effect sizes are oriented so that a positive value supports the claim. The verdict is
``supported`` when the one-sided p of the claimed direction is below ``alpha``, ``contradicted``
when that of the opposite direction is, else ``inconclusive``; ``p_value`` is the claimed one.
Fewer than 2 runs on a side, identical values on both sides, or a test that is undefined on the
data (zero spread everywhere) give ``inconclusive`` with p_value NaN.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import NamedTuple, TypeVar

import numpy as np
import pandas as pd
from scipy import stats

from ganbench.leaderboard import diverged_flags
from ganbench.metrics import metric_info
from ganbench.suite import ClaimConfig

# claims.csv, as DESIGN.md fixes it
COLUMNS = [
    "id",
    "text",
    "dataset",
    "verdict",
    "expected",
    "test",
    "p_value",
    "effect_size",
    "n_better",
    "n_worse",
]
BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 0
MIN_RUNS = 2  # per side; below this no test says anything
T = TypeVar("T")


class Outcome(NamedTuple):
    test: str
    p_claimed: float  # one-sided p for "better beats worse"
    p_opposite: float  # one-sided p for "worse beats better"
    effect_size: float
    n_better: int
    n_worse: int


def evaluate_claims(runs: pd.DataFrame, claims: list[ClaimConfig]) -> pd.DataFrame:
    """One row per claim x dataset (``claim.datasets``, default every dataset in ``runs``)."""
    done = runs[runs["status"] != "failed"]
    rows = []
    for claim in claims:
        for dataset in claim.datasets or list(pd.unique(runs["dataset"])):
            outcome = evaluate_claim(done[done["dataset"] == dataset], claim)
            verdict = _verdict(outcome, claim.alpha)
            rows.append([claim.id, claim.text, dataset, verdict, claim.expect, *outcome])
    table = pd.DataFrame(rows, columns=["id", "text", "dataset", "verdict", "expected", *Outcome._fields])
    return table.rename(columns={"p_claimed": "p_value"})[COLUMNS]


def claims_failed(claims_table: pd.DataFrame) -> pd.DataFrame:
    """The rows whose verdict is not the expected one (what makes `ganbench check` exit 1)."""
    return claims_table[claims_table["verdict"] != claims_table["expected"]]


def evaluate_claim(runs: pd.DataFrame, claim: ClaimConfig) -> Outcome:
    """The statistics of one claim on the non-failed runs of one dataset."""
    if claim.threshold is not None:
        return _threshold_test(runs, claim)
    if claim.metric == "divergence_rate":
        return _divergence_test(runs, claim)
    if claim.metric not in runs and claim.metric.endswith("_std"):
        return _spread_test(runs, claim)
    return _location_test(runs, claim)


def _verdict(outcome: Outcome, alpha: float) -> str:
    if outcome.p_claimed < alpha:  # NaN compares False: inconclusive
        return "supported"
    if outcome.p_opposite < alpha:
        return "contradicted"
    return "inconclusive"


# ----------------------------------------------------------------------------- per-run values


def oriented_values(
    runs: pd.DataFrame, metric: str, better: str, worse: str
) -> tuple[np.ndarray, np.ndarray]:
    """Final values of each side, diverged runs set to the worst value, larger = better."""
    if metric not in runs:
        return np.empty(0), np.empty(0)
    info = metric_info(metric)
    sides = runs[runs["variant"].isin([better, worse])]
    values = pd.to_numeric(sides[metric], errors="coerce").to_numpy(float)
    worst = info.worst if info.worst is not None else _worst_observed(values, info.higher_is_better)
    values = np.where(diverged_flags(sides).to_numpy(), worst, values)
    values = values if info.higher_is_better else -values
    keep = np.isfinite(values)
    on_better, on_worse = (sides["variant"].eq(v).to_numpy() for v in (better, worse))
    return values[keep & on_better], values[keep & on_worse]


def _worst_observed(values: np.ndarray, higher_is_better: bool) -> float:
    finite = values[np.isfinite(values)]
    if finite.size == 0:  # every run on both sides diverged without a value: they tie
        return 0.0
    return float(finite.min() if higher_is_better else finite.max())


def _comparable(x: np.ndarray, y: np.ndarray) -> bool:
    both = np.concatenate([x, y])
    return min(x.size, y.size) >= MIN_RUNS and np.ptp(both) > 0


def _quietly(test: Callable[[], T]) -> T:
    """Run a test with scipy's degenerate-data warnings silenced: on such data (zero spread) a
    test returns NaN, which the verdict reads as inconclusive; the warning would only be noise."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return test()


# ----------------------------------------------------------------------------- location tests


def _location_test(runs: pd.DataFrame, claim: ClaimConfig) -> Outcome:
    x, y = oriented_values(runs, claim.metric, claim.better, claim.worse)
    effect = cliffs_delta(x, y) if x.size and y.size else np.nan
    p_claimed, p_opposite = (
        _quietly(lambda: _one_sided(claim.test, x, y)) if _comparable(x, y) else (np.nan, np.nan)
    )
    return Outcome(claim.test, p_claimed, p_opposite, effect, x.size, y.size)


def _one_sided(test: str, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(p for x > y, p for x < y)."""
    if test == "bootstrap":
        return bootstrap_p(x, y)

    def p(alternative: str) -> float:
        if test == "welch":
            return float(stats.ttest_ind(x, y, equal_var=False, alternative=alternative).pvalue)
        return float(stats.mannwhitneyu(x, y, alternative=alternative).pvalue)

    return p("greater"), p("less")


def bootstrap_p(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(p for mean x > mean y, p for mean x < mean y) by the seeded, null-shifted bootstrap."""
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    observed = x.mean() - y.mean()
    pooled = np.concatenate([x, y]).mean()
    x0, y0 = x - x.mean() + pooled, y - y.mean() + pooled
    x_means = rng.choice(x0, (BOOTSTRAP_RESAMPLES, x.size)).mean(axis=1)
    y_means = rng.choice(y0, (BOOTSTRAP_RESAMPLES, y.size)).mean(axis=1)
    diffs = x_means - y_means
    greater = (1 + np.sum(diffs >= observed)) / (1 + BOOTSTRAP_RESAMPLES)
    less = (1 + np.sum(diffs <= observed)) / (1 + BOOTSTRAP_RESAMPLES)
    return float(greater), float(less)


def _threshold_test(runs: pd.DataFrame, claim: ClaimConfig) -> Outcome:
    x, _ = oriented_values(runs, claim.metric, claim.better, claim.better)
    info = metric_info(claim.metric)
    d = x - (claim.threshold if info.higher_is_better else -claim.threshold)
    names = {"mannwhitney": "wilcoxon", "welch": "t-test", "bootstrap": "bootstrap"}
    effect = float(np.sign(d).mean()) if d.size else np.nan
    if d.size < MIN_RUNS or not np.any(d):
        return Outcome(names[claim.test], np.nan, np.nan, effect, d.size, 0)
    p_claimed, p_opposite = _quietly(lambda: _one_sample(claim.test, d))
    return Outcome(names[claim.test], p_claimed, p_opposite, effect, d.size, 0)


def _one_sample(test: str, d: np.ndarray) -> tuple[float, float]:
    """(p for location of d > 0, p for < 0)."""
    if test == "bootstrap":  # resample d shifted to mean 0 (the null), as in bootstrap_p
        means = (
            np.random.default_rng(BOOTSTRAP_SEED)
            .choice(d - d.mean(), (BOOTSTRAP_RESAMPLES, d.size))
            .mean(axis=1)
        )
        greater = (1 + np.sum(means >= d.mean())) / (1 + BOOTSTRAP_RESAMPLES)
        less = (1 + np.sum(means <= d.mean())) / (1 + BOOTSTRAP_RESAMPLES)
        return float(greater), float(less)

    def p(alternative: str) -> float:
        if test == "welch":
            return float(stats.ttest_1samp(d, 0.0, alternative=alternative).pvalue)
        return float(stats.wilcoxon(d, alternative=alternative).pvalue)

    return p("greater"), p("less")


def cliffs_delta(x: np.ndarray, y: np.ndarray) -> float:
    """P(x > y) - P(x < y) over all pairs."""
    return float(np.sign(x[:, None] - y[None, :]).mean())


# ----------------------------------------------------------------------------- variant-level tests


def _divergence_test(runs: pd.DataFrame, claim: ClaimConfig) -> Outcome:
    sign = 1.0 if metric_info(claim.metric).higher_is_better else -1.0
    flags = diverged_flags(runs)
    k_b, k_w = (int(flags[runs["variant"] == v].sum()) for v in (claim.better, claim.worse))
    n_b, n_w = (int((runs["variant"] == v).sum()) for v in (claim.better, claim.worse))
    if min(n_b, n_w) < MIN_RUNS:
        return Outcome("fisher", np.nan, np.nan, np.nan, n_b, n_w)
    table = [[k_b, n_b - k_b], [k_w, n_w - k_w]]
    # Odds ratio > 1: `better` diverges more often; the claimed side depends on the direction.
    claimed, opposite = ("greater", "less") if sign > 0 else ("less", "greater")
    p_claimed = float(stats.fisher_exact(table, alternative=claimed).pvalue)
    p_opposite = float(stats.fisher_exact(table, alternative=opposite).pvalue)
    return Outcome("fisher", p_claimed, p_opposite, sign * (k_b / n_b - k_w / n_w), n_b, n_w)


def _spread_test(runs: pd.DataFrame, claim: ClaimConfig) -> Outcome:
    sign = 1.0 if metric_info(claim.metric).higher_is_better else -1.0
    x, y = oriented_values(runs, claim.metric.removesuffix("_std"), claim.better, claim.worse)
    effect = sign * (np.std(x, ddof=1) - np.std(y, ddof=1)) if min(x.size, y.size) >= MIN_RUNS else np.nan
    if not _comparable(x, y):
        return Outcome("levene", np.nan, np.nan, effect, x.size, y.size)
    p = _quietly(lambda: float(stats.levene(x, y, center="median").pvalue))
    # Halve the two-sided p towards whichever side the sample stds lean (equal stds: neither).
    p_claimed = p / 2 if effect > 0 else 1 - p / 2
    p_opposite = p / 2 if effect < 0 else 1 - p / 2
    return Outcome("levene", p_claimed, p_opposite, effect, x.size, y.size)
