"""The built-in claim tests, registered in ``CLAIM_TESTS``: ``permutation`` (exact by counting,
Monte Carlo beyond a budget), ``mannwhitney``, ``welch`` and ``bootstrap``, each with a two-sample
and a one-sample form. Why each exists and when it is exact: the package docstring
(ganbench.claims, "Tests").

Named ``stat_tests`` rather than ``tests`` so that it is never mistaken for a pytest module.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from scipy import special, stats

from ganbench.registry import CLAIM_TESTS

PERMUTATION_RESAMPLES = 9_999  # Monte Carlo fallback beyond EXACT_BUDGET
PERMUTATION_SEED = 0
EXACT_BUDGET = 50_000_000  # cells of the exact recursion (~0.1 s); beyond it, Monte Carlo
FAST_EXACT_BUDGET = 100_000  # the same inside the stability loop; beyond it, the normal approximation
BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_FAST_RESAMPLES = 1_000
BOOTSTRAP_SEED = 0
BOOTSTRAP_MIN_RUNS = 8  # per side; below it the bootstrap is liberal and refuses


class PValues(NamedTuple):
    """What a claim test returns: its name as claims.csv shows it, and both one-sided p-values."""

    test: str
    p_greater: float  # one-sided p for "x is larger" (the claimed direction)
    p_less: float
    note: str = ""


class ClaimTest(NamedTuple):
    """A claim test: ``two_sample(x, y, fast)`` and ``one_sample(d, fast)`` on oriented values.
    ``fast`` is set inside the stability loop, where a cheaper form of the same test will do."""

    two_sample: Callable[[np.ndarray, np.ndarray, bool], PValues]
    one_sample: Callable[[np.ndarray, bool], PValues]


# CLAIM_TESTS (declared in ganbench.registry, so suites validate without importing this module)


def rank_sum_permutation(x: np.ndarray, y: np.ndarray, fast: bool = False) -> PValues:
    """The permutation test of the rank sum of x (midranks), exact by counting when it fits."""
    ranks = stats.rankdata(np.concatenate([x, y]))
    scores = np.rint(2 * ranks).astype(np.int64)  # midranks are multiples of 1/2
    n, k = scores.size, x.size
    small, total, observed = min(k, n - k), int(scores.sum()), int(scores[:k].sum())
    if n * (small + 1) * (total + 1) <= (FAST_EXACT_BUDGET if fast else EXACT_BUDGET):
        counts = subset_sum_counts(scores, small)
        # counts[s]: splits whose `small` side sums to s; when that is y's side, x's sum is total - s.
        dist = counts if small == k else counts[::-1]
        dist = dist / dist.sum()
        return PValues("permutation-exact", _prob(dist[observed:]), _prob(dist[: observed + 1]))
    if fast:
        return PValues("permutation-normal", *_rank_sum_normal(ranks, k))
    return PValues("permutation-mc", *_monte_carlo((scores[:k], scores[k:]), "independent"))


def subset_sum_counts(scores: np.ndarray, k: int) -> np.ndarray:
    """counts[s] = the number of k-subsets of ``scores`` (non-negative integers) summing to s.

    ways[j, s] counts j-subsets of the items seen so far with sum s; adding an item of score v
    adds ways[j - 1, s - v] to ways[j, s]. Floats: exact up to 2^53, relative error 1e-16 beyond.
    """
    total = int(scores.sum())
    ways = np.zeros((k + 1, total + 1))
    ways[0, 0] = 1.0
    reach = 0
    for i, v in enumerate(int(s) for s in scores):
        top = min(i + 1, k)
        reach += v
        ways[1 : top + 1, v : reach + 1] += ways[:top, : reach + 1 - v].copy()
    return ways[k]


def signed_rank_signflip(d: np.ndarray, fast: bool = False) -> PValues:
    """The sign-flip permutation test of the signed-rank statistic of d (location > 0 or < 0)."""
    nonzero = d != 0
    if not nonzero.any():
        return PValues("signflip", np.nan, np.nan)
    ranks = stats.rankdata(np.abs(d))  # zeros keep their ranks but cannot flip (Pratt)
    scores = np.rint(2 * ranks[nonzero]).astype(np.int64)
    positive = d[nonzero] > 0
    total, observed = int(scores.sum()), int(scores[positive].sum())
    if scores.size * (total + 1) <= (FAST_EXACT_BUDGET if fast else EXACT_BUDGET):
        dist = signflip_distribution(scores)
        return PValues("signflip-exact", _prob(dist[observed:]), _prob(dist[: observed + 1]))
    if fast:
        sd = math.sqrt(float(np.sum(scores.astype(float) ** 2)) / 4)
        centred = observed - total / 2
        return PValues("signflip-normal", _ndtr(-(centred - 1) / sd), _ndtr((centred + 1) / sd))
    signed = np.where(positive, scores, -scores)
    return PValues("signflip-mc", *_monte_carlo((signed,), "samples"))


def signflip_distribution(scores: np.ndarray) -> np.ndarray:
    """P(sum of the scores whose sign is + = s) when each sign is + or - with probability 1/2."""
    probs = np.zeros(int(scores.sum()) + 1)
    probs[0] = 1.0
    reach = 0
    for v in (int(s) for s in scores):
        old = probs[: reach + 1].copy()
        probs[: reach + 1] *= 0.5
        probs[v : v + reach + 1] += 0.5 * old
        reach += v
    return probs


def _prob(mass: np.ndarray) -> float:
    return float(min(1.0, mass.sum()))


def _ndtr(z: float) -> float:
    return float(special.ndtr(z))


def _rank_sum_normal(ranks: np.ndarray, k: int) -> tuple[float, float]:
    """Normal approximation of the rank sum's permutation distribution (the finite-population
    variance, which accounts for ties), with a continuity correction of half a rank."""
    n = ranks.size
    mean = ranks.mean()
    var = k * (n - k) / (n * (n - 1)) * float(np.sum((ranks - mean) ** 2))
    if var <= 0:
        return np.nan, np.nan
    centred = float(ranks[:k].sum()) - k * mean
    sd = math.sqrt(var)
    return _ndtr(-(centred - 0.5) / sd), _ndtr((centred + 0.5) / sd)


def _monte_carlo(samples: tuple[np.ndarray, ...], permutation_type: str) -> tuple[float, float]:
    """Seeded Monte Carlo permutation p-values of the first sample's sum, p = (1 + #) / (1 + R).

    One scipy.stats.permutation_test call gives p for "greater"; its null distribution gives the
    other side (sums of integer scores: exact comparisons, no tolerance needed)."""

    def statistic(*args: np.ndarray, axis: int) -> np.ndarray:
        return np.sum(args[0], axis=axis)

    result = stats.permutation_test(
        samples,
        statistic,
        permutation_type=permutation_type,
        vectorized=True,
        n_resamples=PERMUTATION_RESAMPLES,
        alternative="greater",
        rng=np.random.default_rng(PERMUTATION_SEED),
    )
    null = result.null_distribution
    less = (1 + np.sum(null <= result.statistic)) / (1 + null.size)
    return float(result.pvalue), float(less)


def _mannwhitney(x: np.ndarray, y: np.ndarray, fast: bool) -> PValues:
    if fast:
        return PValues("mannwhitney", *_rank_sum_normal(stats.rankdata(np.concatenate([x, y])), x.size))
    greater, less = (float(stats.mannwhitneyu(x, y, alternative=a).pvalue) for a in ("greater", "less"))
    return PValues("mannwhitney", greater, less)


def _wilcoxon(d: np.ndarray, fast: bool) -> PValues:
    if fast:
        return signed_rank_signflip(d, fast=True)._replace(test="wilcoxon")
    greater, less = (float(stats.wilcoxon(d, alternative=a).pvalue) for a in ("greater", "less"))
    return PValues("wilcoxon", greater, less)


def _welch(x: np.ndarray, y: np.ndarray, fast: bool) -> PValues:
    if not fast:
        greater, less = (
            float(stats.ttest_ind(x, y, equal_var=False, alternative=a).pvalue) for a in ("greater", "less")
        )
        return PValues("welch", greater, less)
    vx, vy = x.var(ddof=1) / x.size, y.var(ddof=1) / y.size
    if vx + vy <= 0:
        return PValues("welch", np.nan, np.nan)
    t = (x.mean() - y.mean()) / math.sqrt(vx + vy)
    df = (vx + vy) ** 2 / (vx**2 / (x.size - 1) + vy**2 / (y.size - 1))
    return PValues("welch", float(special.stdtr(df, -t)), float(special.stdtr(df, t)))


def _t_one_sample(d: np.ndarray, fast: bool) -> PValues:
    if not fast:
        greater, less = (float(stats.ttest_1samp(d, 0.0, alternative=a).pvalue) for a in ("greater", "less"))
        return PValues("t-test", greater, less)
    sd = d.std(ddof=1)
    if sd <= 0:
        return PValues("t-test", np.nan, np.nan)
    t = d.mean() / (sd / math.sqrt(d.size))
    return PValues("t-test", float(special.stdtr(d.size - 1, -t)), float(special.stdtr(d.size - 1, t)))


def _bootstrap_refused(n: int) -> PValues | None:
    if n >= BOOTSTRAP_MIN_RUNS:
        return None
    note = f"bootstrap refused: liberal below {BOOTSTRAP_MIN_RUNS} runs a side (use test: permutation)"
    return PValues("bootstrap", np.nan, np.nan, note)


def _bootstrap_two(x: np.ndarray, y: np.ndarray, fast: bool) -> PValues:
    refused = _bootstrap_refused(min(x.size, y.size))
    resamples = BOOTSTRAP_FAST_RESAMPLES if fast else BOOTSTRAP_RESAMPLES
    return refused or PValues("bootstrap", *bootstrap_p(x, y, resamples))


def _bootstrap_one(d: np.ndarray, fast: bool) -> PValues:
    refused = _bootstrap_refused(d.size)
    if refused:
        return refused
    resamples = BOOTSTRAP_FAST_RESAMPLES if fast else BOOTSTRAP_RESAMPLES
    rng = np.random.default_rng(BOOTSTRAP_SEED)  # resample d shifted to mean 0 (the null)
    means = rng.choice(d - d.mean(), (resamples, d.size)).mean(axis=1)
    greater = (1 + np.sum(means >= d.mean())) / (1 + resamples)
    less = (1 + np.sum(means <= d.mean())) / (1 + resamples)
    return PValues("bootstrap", float(greater), float(less))


def bootstrap_p(x: np.ndarray, y: np.ndarray, resamples: int = BOOTSTRAP_RESAMPLES) -> tuple[float, float]:
    """(p for mean x > mean y, p for mean x < mean y) by the seeded, null-shifted bootstrap:
    both sides shifted to the pooled mean, p = (1 + #{resampled diff >= observed}) / (1 + R)."""
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    observed = x.mean() - y.mean()
    pooled = np.concatenate([x, y]).mean()
    x0, y0 = x - x.mean() + pooled, y - y.mean() + pooled
    diffs = rng.choice(x0, (resamples, x.size)).mean(axis=1) - rng.choice(y0, (resamples, y.size)).mean(
        axis=1
    )
    greater = (1 + np.sum(diffs >= observed)) / (1 + resamples)
    less = (1 + np.sum(diffs <= observed)) / (1 + resamples)
    return float(greater), float(less)


CLAIM_TESTS.add("permutation", ClaimTest(rank_sum_permutation, signed_rank_signflip))
CLAIM_TESTS.add("mannwhitney", ClaimTest(_mannwhitney, _wilcoxon))
CLAIM_TESTS.add("welch", ClaimTest(_welch, _t_one_sample))
CLAIM_TESTS.add("bootstrap", ClaimTest(_bootstrap_two, _bootstrap_one))
