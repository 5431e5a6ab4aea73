"""Claims: a verdict with statistics for "variant `better` beats variant `worse` on `metric`".

A claim is tested on each of its datasets separately (one row of claims.csv per claim x dataset)
over the runs that produced numbers: ``failed`` and ``killed`` runs are left out. Reference rows
(variants ``noise`` and ``data``, status ``reference``) are variants like any other, so a claim can
say "wgan_gp beats noise"; they count as healthy.

Per-run values
--------------
Per-run metrics (``modes_covered``, ``w1``, ``*_osc``, ``w_quality_corr``, ...) compare final values:

- A diverged run counts as the worst value of the metric: ``MetricInfo.worst`` when the registry
  gives one, else the worst value observed on either side (the minimum when higher is better, the
  maximum when lower is better). Its own last value is replaced too, finite or not: it measures a
  broken model. A finished run with a non-finite value is dropped (nothing was measured).
- Values are oriented (lower-is-better metrics times -1), so "better" always means larger.

Protocols (``protocol:``): how the configs x seeds of swept variants decide a claim
-------------------------------------------------------------------------------
- ``pooled`` (default): every run of a side, all configs and seeds, is one sample.
- ``tuned``: each side's best config is picked by its mean value on the *selection* seeds (the
  first ``selection_seeds`` of the sorted distinct seeds; default half of them, at least one), and
  the two picked configs are compared on the remaining, *fresh* seeds only. Picking the maximum
  of many configs and testing it on the same seeds would be biased towards the side with more
  configs (the winner's curse); the fresh seeds never took part in the choice. An unswept variant
  has one config and is compared on the fresh seeds as well, so both sides use the same seeds.
- ``success_rate``: the share of runs meeting the suite's ``success:`` criterion (every condition
  holds, e.g. ``{w1: {below: 0.3}}``; a diverged run or a missing value fails), compared by Fisher's
  exact test, one-sided; ``rate_*`` columns give each side's rate with its Wilson 95% interval. With
  ``threshold:`` instead of ``worse:`` the rate is tested against that proportion (exact binomial).
  ``metric`` is then only a label.

Tests (``test:``): the registry ``CLAIM_TESTS``, each with a two-sample and a one-sample form
-------------------------------------------------------------------------------------------
- ``permutation`` (default): the permutation test of the rank sum (midranks for ties), i.e. the
  Mann-Whitney/Wilcoxon statistic with its *exact conditional* null distribution: every way of
  splitting the pooled values into the two sides is equally likely under the null, and p is the
  share of splits whose rank sum is at least the observed one. Why exact: with 3-5 seeds and ties
  (mode counts are integers, many runs cover all modes) the normal approximation that scipy's
  ``mannwhitneyu`` falls back to is anti-conservative: [8,8,8,8,8] vs [6,7,7,8,8] gives 0.035
  there but 0.083 exactly, and [8,8,8] vs [0,0,0] gives 0.023 although no split of 3 vs 3 can
  give less than 1/20 = 0.05. The split distribution is not enumerated split by split but counted
  by a subset-sum recursion over the (doubled, hence integer) midranks, which is exact and costs
  n x min(k, n-k) x sum(ranks) cells instead of C(n, k) splits; so "exact" covers every suite
  that fits ``EXACT_BUDGET`` (about 100 runs in all). Beyond it p is a seeded Monte Carlo
  estimate from scipy.stats.permutation_test, p = (1 + #{resampled >= observed}) / (1 + R)
  (``PERMUTATION_RESAMPLES``). claims.csv says which: ``permutation-exact`` or ``permutation-mc``.
  One-sample form (``threshold:``): the sign-flip permutation test of d = value - threshold with
  the signed-rank statistic (Wilcoxon; zeros keep their rank but cannot flip, Pratt's
  treatment): all 2^n sign patterns are equally likely under a null symmetric about 0, counted by
  the same recursion (``signflip-exact``), Monte Carlo beyond the budget (``signflip-mc``).
- ``mannwhitney``: scipy.stats.mannwhitneyu (one-sample: scipy.stats.wilcoxon), for comparison
  with published numbers; anti-conservative with ties at small n, see above.
- ``welch``: scipy.stats.ttest_ind(equal_var=False) (one-sample: ttest_1samp).
- ``bootstrap``: the null-shifted bootstrap of a difference of means (Efron & Tibshirani 1993,
  16.4), seeded (``BOOTSTRAP_SEED``). The bootstrap is liberal at small n (resampling 5 values
  underestimates their spread by a factor (n-1)/n and the resampled means are very discrete), so
  below ``BOOTSTRAP_MIN_RUNS`` runs on a side it refuses: p is NaN, the verdict inconclusive and
  the note says why.
- Effect size (location claims): Cliff's delta P(better > worse) - P(better < worse), in [-1, 1];
  one-sample: P(value > threshold) - P(value < threshold).

Variant-level metrics: ``divergence_rate`` is Fisher's exact test on diverged / not diverged per
side (effect: difference of rates). ``<metric>_std`` (seed-to-seed spread, lower is steadier) is
the Brown-Forsythe test, scipy.stats.levene(center="median"), on the per-run values; it is
two-sided, and the one-sided p is p/2 when the sample stds are in the claimed order and 1 - p/2
otherwise (effect: difference of the stds). Effect sizes are oriented: positive supports the claim.

Multiple comparisons (the suite's ``p_adjust:``): ``p_adjusted`` adjusts the claimed-direction p
over all rows of the suite (claims x datasets). A suite of ten claims on two datasets makes twenty
tests; at alpha = 0.05 one of them is "supported" by chance more often than not. ``holm`` (the
default) controls the family-wise error rate (the chance of any false "supported") under any
dependence between the tests, like Bonferroni, but is uniformly more powerful: the i-th smallest
of m p-values is multiplied by m - i + 1, not m, and the results made monotone. ``bh``
(Benjamini-Hochberg, scipy.stats.false_discovery_control) controls the expected share of false
findings instead, for suites with many claims; ``none`` leaves p as it is. Rows whose test could
not be run (p NaN) are not counted. The opposite-direction p-values are adjusted the same way as
a family of their own.

Verdict: ``supported`` when the adjusted p of the claimed direction is below the claim's
``alpha``, ``contradicted`` when the adjusted p of the opposite direction is, else
``inconclusive``. Fewer than 2 runs on a side, identical values everywhere, or a test that is
undefined on the data give ``inconclusive`` with p_value NaN.

Stability (column ``stability``): the share of ``STABILITY_RESAMPLES`` bootstrap resamples of the
*seeds* that give the same verdict. A resample draws seed ids with replacement (seeded; a drawn
seed brings all its runs: every config, both sides), re-runs the claim's test (its cheap form:
exact when small, else the normal approximation of the same statistic) and the suite's p
adjustment, all rows together. For ``tuned`` claims selection and fresh seeds are resampled
separately and the pick is made again. Below ``STABLE`` the note calls the verdict unstable: a
seed or two decide it.

Power (columns ``detectable_effect``, ``seeds_needed``): closed forms at 80% power and at the
level the row had to reach, the multiple-comparison adjustment included (``critical_levels``: the
largest raw p that the suite's adjustment would still have let below alpha, the other rows' p as
they are; alpha itself with ``p_adjust: none``):

- rank-test claims: Noether's (1987) sample size formula for the Wilcoxon-Mann-Whitney test,
  N = (z_a + z_b)^2 / (12 c (1 - c) (P(X > Y) - 1/2)^2) with c = n_better / N, written for
  Cliff's delta = 2 P(X > Y) - 1: detectable delta = 2 (z_a + z_b) sqrt(N / (12 n_b n_w)),
  shown up to 1 (1 means only complete separation is detectable), and NaN when no outcome at all
  can reach the level (the smallest exact p, 1 / C(N, n_b), is too large);
- one-sample claims: the sign test's bound, detectable P(d > 0) - P(d < 0) = (z_a + z_b) / sqrt(n);
- rate claims (divergence, success): the normal approximation at a rate of 1/2 (the widest),
  detectable difference = (z_a + z_b) sqrt(1/4 (1/n_b + 1/n_w)); runs needed from Cohen's h of
  the observed rates, n = 2 (z_a + z_b)^2 / h^2 per side;
- spread claims: NaN.

``seeds_needed`` is the seeds per side that would give 80% power for the *observed* effect:
the runs needed per side divided by the side's configs (pooled: runs of all configs count,
treated as independent), plus the selection seeds (tuned); never fewer than the exact test
needs to be able to reach the level at all.

Notes (column ``note``, also printed): a side most of whose runs are not ``healthy`` ("most runs
of wgan_adam unhealthy (dead_critic 4/5)"), an unstable verdict, a refused bootstrap, the
configs a tuned claim picked, and too few runs to reach the level.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar

import numpy as np
import pandas as pd
from scipy import special, stats

from ganbench.leaderboard import diverged_flags
from ganbench.metrics import metric_info
from ganbench.registry import CLAIM_TESTS
from ganbench.suite import ClaimConfig

# claims.csv, a fixed output contract (README: What a run produces; rate columns: success_rate and
# divergence_rate claims)
COLUMNS = [
    "id",
    "text",
    "dataset",
    "verdict",
    "expected",
    "test",
    "protocol",
    "p_value",
    "effect_size",
    "p_adjusted",
    "n_better",
    "n_worse",
    "stability",
    "detectable_effect",
    "seeds_needed",
    "rate_better",
    "rate_better_ci95",
    "rate_worse",
    "rate_worse_ci95",
    "note",
]
MIN_RUNS = 2  # per side; below this no test says anything
EXCLUDED_STATUS = ("failed", "killed")  # runs that measured nothing
HEALTHY = frozenset({"healthy", "reference"})
PERMUTATION_RESAMPLES = 9_999  # Monte Carlo fallback beyond EXACT_BUDGET
PERMUTATION_SEED = 0
EXACT_BUDGET = 50_000_000  # cells of the exact recursion (~0.1 s); beyond it, Monte Carlo
FAST_EXACT_BUDGET = 100_000  # the same inside the stability loop; beyond it, the normal approximation
BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_FAST_RESAMPLES = 1_000
BOOTSTRAP_SEED = 0
BOOTSTRAP_MIN_RUNS = 8  # per side; below it the bootstrap is liberal and refuses
STABILITY_RESAMPLES = 200
STABILITY_SEED = 0
STABLE = 0.8  # a verdict kept in fewer resamples than this is marked unstable
POWER = 0.8
T = TypeVar("T")
Success = dict[str, dict[str, float]]  # the suite's `success:` criterion: {metric: {below|above: value}}


# ----------------------------------------------------------------------------- the test registry


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


# ----------------------------------------------------------------------------- multiple comparisons


def adjust_p(p_values: Any, method: str = "holm") -> np.ndarray:
    """Adjusted p-values over a family (NaN entries are not tests: they stay NaN, uncounted).

    holm: sort ascending, multiply the i-th (from 0) of m by m - i, take the running maximum (so
    the order is kept), cap at 1. bh: scipy.stats.false_discovery_control(method="bh").
    """
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    q = p[ok]
    if method == "none" or q.size == 0:
        out[ok] = q
        return out
    if method == "holm":
        order = np.argsort(q, kind="stable")
        stepped = np.maximum.accumulate((q.size - np.arange(q.size)) * q[order])
        adjusted = np.empty(q.size)
        adjusted[order] = np.minimum(stepped, 1.0)
    elif method == "bh":
        adjusted = stats.false_discovery_control(q, method="bh")
    else:
        raise ValueError(f"unknown p adjustment {method!r}; expected one of: holm, bh, none")
    out[ok] = adjusted
    return out


def _verdicts(p_claimed: np.ndarray, p_opposite: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):  # NaN compares False: inconclusive
        return np.where(
            p_claimed < alpha, "supported", np.where(p_opposite < alpha, "contradicted", "inconclusive")
        )


# ----------------------------------------------------------------------------- one claim x dataset


@dataclass
class _Side:
    variant: str
    seed: np.ndarray  # index into _Row.seeds; -1 for a run without a seed (always "fresh")
    config: np.ndarray  # index into configs
    configs: list[str]
    value: np.ndarray  # oriented value (larger = better), or a 0/1 flag for rate claims; NaN: not measured
    health: np.ndarray

    def weights(self, seed_weights: np.ndarray | None) -> np.ndarray:
        """How many times each run enters: its seed's multiplicity in a resample (1 without)."""
        if seed_weights is None:
            return np.ones(self.seed.size, dtype=np.int64)
        return np.where(self.seed >= 0, seed_weights[np.maximum(self.seed, 0)], 1)


@dataclass
class _Row:
    claim: ClaimConfig
    dataset: str
    kind: str  # location | threshold | spread | divergence | success | success_threshold
    sides: list[_Side]  # better, then worse (two-sample kinds)
    seeds: list[float]  # distinct seeds, sorted
    selection: np.ndarray | None  # per seed: True for selection seeds (tuned)
    sign: float  # +1 when the claim's metric is higher-is-better (variant-level kinds)


@dataclass
class _Stats:
    test: str
    p_claimed: float
    p_opposite: float
    effect: float = np.nan
    n_better: int = 0
    n_worse: int = 0
    counts: tuple[int, int, int, int] | None = None  # rate claims: k_better, n_better, k_worse, n_worse
    masks: list[np.ndarray] = field(default_factory=list)  # evidence runs per side
    notes: list[str] = field(default_factory=list)


def _kind(claim: ClaimConfig, runs: pd.DataFrame) -> str:
    if claim.protocol == "success_rate":
        return "success" if claim.worse is not None else "success_threshold"
    if claim.threshold is not None:
        return "threshold"
    if claim.metric == "divergence_rate":
        return "divergence"
    if claim.metric not in runs and claim.metric.endswith("_std"):
        return "spread"
    return "location"


def _prepare(runs: pd.DataFrame, claim: ClaimConfig, dataset: str, success: Success | None) -> _Row:
    """Everything a claim x dataset needs, as numpy arrays, so that resampling is cheap."""
    kind = _kind(claim, runs)
    names = [claim.better] if kind in ("threshold", "success_threshold") else [claim.better, claim.worse]
    frame = runs[runs["variant"].isin(names)]
    sign = 1.0 if metric_info(claim.metric).higher_is_better else -1.0
    if kind == "divergence":
        values = diverged_flags(frame).to_numpy(float)
    elif kind in ("success", "success_threshold"):
        values = success_flags(frame, success or {}).astype(float)
    else:
        values = _oriented(frame, claim.metric.removesuffix("_std") if kind == "spread" else claim.metric)
    seed_col = (
        pd.to_numeric(frame["seed"], errors="coerce") if "seed" in frame else pd.Series(np.nan, frame.index)
    )
    seeds = sorted(seed_col.dropna().unique().tolist())
    seed_idx = np.where(seed_col.notna(), np.searchsorted(seeds, seed_col.fillna(0).to_numpy()), -1)
    config = frame["config"].fillna("").astype(str) if "config" in frame else pd.Series("", frame.index)
    health = frame["health"].to_numpy(object) if "health" in frame else np.full(len(frame), None, object)
    sides = []
    for name in names:
        on = frame["variant"].eq(name).to_numpy()
        labels = sorted(set(config[on]))
        sides.append(
            _Side(
                name,
                seed_idx[on],
                np.searchsorted(labels, config[on].to_numpy()),
                labels,
                values[on],
                health[on],
            )
        )
    selection = None
    if claim.protocol == "tuned":
        n_selection = claim.selection_seeds or max(1, len(seeds) // 2)
        selection = np.arange(len(seeds)) < n_selection
    return _Row(claim, dataset, kind, sides, seeds, selection, sign)


def _oriented(frame: pd.DataFrame, metric: str) -> np.ndarray:
    """Final values, diverged runs set to the worst value, larger = better; NaN = not measured."""
    if metric not in frame:
        return np.full(len(frame), np.nan)
    info = metric_info(metric)
    values = pd.to_numeric(frame[metric], errors="coerce").to_numpy(float)
    worst = info.worst if info.worst is not None else _worst_observed(values, info.higher_is_better)
    values = np.where(diverged_flags(frame).to_numpy(), worst, values)
    values = values if info.higher_is_better else -values
    return np.where(np.isfinite(values), values, np.nan)


def _worst_observed(values: np.ndarray, higher_is_better: bool) -> float:
    finite = values[np.isfinite(values)]
    if finite.size == 0:  # every run on both sides diverged without a value: they tie
        return 0.0
    return float(finite.min() if higher_is_better else finite.max())


def success_flags(runs: pd.DataFrame, success: Success) -> np.ndarray:
    """True for runs meeting every condition of ``success`` ({metric: {below|above: value}});
    a diverged run, or a run without the metric, fails."""
    ok = ~diverged_flags(runs).to_numpy()
    for metric, bounds in success.items():
        values = pd.to_numeric(runs[metric], errors="coerce").to_numpy(float) if metric in runs else np.nan
        for side, limit in bounds.items():
            with np.errstate(invalid="ignore"):
                ok = ok & (values < limit if side == "below" else values > limit)
    return np.asarray(ok, dtype=bool)


def _evidence(row: _Row, side: _Side, weights: np.ndarray) -> tuple[np.ndarray, str | None]:
    """The runs of a side that the test sees, and the config a tuned claim picked."""
    if row.selection is None or not side.configs:
        return np.ones(side.seed.size, dtype=bool), None
    selecting = side.seed >= 0
    if row.selection.size:  # runs without a seed never select
        selecting &= row.selection[np.maximum(side.seed, 0)]
    best = 0
    if len(side.configs) > 1:
        scores = _config_scores(row, side, selecting, weights)
        best = int(np.argmax(np.where(np.isfinite(scores), scores, -np.inf)))  # ties: the first label
    return (side.config == best) & ~selecting, side.configs[best]


def _config_scores(row: _Row, side: _Side, selecting: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """How good each config looked on the selection seeds (larger = better): its mean value (its
    divergence rate, oriented; for spread claims its std, oriented), weighted by the resample."""
    use = selecting & np.isfinite(side.value) & (weights > 0)
    config, value, w = side.config[use], side.value[use], weights[use].astype(float)
    m = len(side.configs)
    count = np.bincount(config, weights=w, minlength=m)
    total = np.bincount(config, weights=w * value, minlength=m)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count
        if row.kind == "spread":
            squares = np.bincount(config, weights=w * value**2, minlength=m)
            var = (squares - count * mean**2) / (count - 1)
            return np.where(count >= MIN_RUNS, row.sign * np.sqrt(np.maximum(var, 0)), np.nan)
    return (row.sign if row.kind == "divergence" else 1.0) * mean


def _evaluate(row: _Row, seed_weights: np.ndarray | None = None, fast: bool = False) -> _Stats:
    """The statistics of one claim on one dataset, on the runs weighted by a seed resample."""
    samples, masks, picks = [], [], []
    for side in row.sides:
        weights = side.weights(seed_weights)
        mask, pick = _evidence(row, side, weights)
        values = np.repeat(side.value[mask], weights[mask])
        samples.append(values[np.isfinite(values)])
        masks.append(mask)
        picks.append(pick)
    result = _KINDS[row.kind](row, samples, fast)
    result.masks = masks
    if row.selection is not None and not fast:
        result.notes.insert(0, _tuned_note(row, picks))
    return result


def _tuned_note(row: _Row, picks: list[str | None]) -> str:
    if not row.seeds:
        return (
            "tuned: the runs carry no seeds to pick a config on (the first config of each side was compared)"
        )
    chosen = [
        f"{side.variant}: {pick}"
        for side, pick in zip(row.sides, picks, strict=True)
        if len(side.configs) > 1
    ]
    selection = [_seed_text(s) for s, sel in zip(row.seeds, row.selection, strict=True) if sel]
    fresh = [_seed_text(s) for s, sel in zip(row.seeds, row.selection, strict=True) if not sel]
    text = f"tuned on seeds {', '.join(selection)}" + (f" ({'; '.join(chosen)})" if chosen else "")
    return text + (f", tested on seeds {', '.join(fresh)}" if fresh else ", no fresh seeds left to test on")


def _seed_text(seed: float) -> str:
    return str(int(seed)) if float(seed).is_integer() else str(seed)


def _location(row: _Row, samples: list[np.ndarray], fast: bool) -> _Stats:
    x, y = samples
    effect = cliffs_delta(x, y) if x.size and y.size else np.nan
    if min(x.size, y.size) < MIN_RUNS or np.ptp(np.concatenate([x, y])) == 0:
        return _Stats(row.claim.test, np.nan, np.nan, effect, x.size, y.size)
    result = _quietly(lambda: CLAIM_TESTS.get(row.claim.test).two_sample(x, y, fast))
    notes = [result.note] if result.note else []
    return _Stats(result.test, result.p_greater, result.p_less, effect, x.size, y.size, notes=notes)


def _threshold(row: _Row, samples: list[np.ndarray], fast: bool) -> _Stats:
    info = metric_info(row.claim.metric)
    d = samples[0] - (row.claim.threshold if info.higher_is_better else -row.claim.threshold)
    effect = float(np.sign(d).mean()) if d.size else np.nan
    if d.size < MIN_RUNS or not np.any(d):
        return _Stats(row.claim.test, np.nan, np.nan, effect, d.size, 0)
    result = _quietly(lambda: CLAIM_TESTS.get(row.claim.test).one_sample(d, fast))
    notes = [result.note] if result.note else []
    return _Stats(result.test, result.p_greater, result.p_less, effect, d.size, 0, notes=notes)


def _spread(row: _Row, samples: list[np.ndarray], fast: bool) -> _Stats:
    x, y = samples
    enough = min(x.size, y.size) >= MIN_RUNS
    effect = row.sign * (np.std(x, ddof=1) - np.std(y, ddof=1)) if enough else np.nan
    if not enough or np.ptp(np.concatenate([x, y])) == 0:
        return _Stats("levene", np.nan, np.nan, effect, x.size, y.size)
    p = _quietly(lambda: float(stats.levene(x, y, center="median").pvalue))
    # Halve the two-sided p towards whichever side the sample stds lean (equal stds: neither).
    p_claimed = p / 2 if effect > 0 else 1 - p / 2
    p_opposite = p / 2 if effect < 0 else 1 - p / 2
    return _Stats("levene", p_claimed, p_opposite, effect, x.size, y.size)


def _rates(row: _Row, samples: list[np.ndarray], fast: bool) -> _Stats:
    """divergence_rate and success_rate: Fisher's exact test on the 2x2 table of counts."""
    (x, y), sign = samples, (row.sign if row.kind == "divergence" else 1.0)
    k_b, k_w, n_b, n_w = int(x.sum()), int(y.sum()), x.size, y.size
    counts = (k_b, n_b, k_w, n_w)
    if min(n_b, n_w) < MIN_RUNS:
        return _Stats("fisher", np.nan, np.nan, np.nan, n_b, n_w, counts)
    table = [[k_b, n_b - k_b], [k_w, n_w - k_w]]
    # Odds ratio > 1: `better` has the event more often; the claimed side depends on the direction.
    claimed, opposite = ("greater", "less") if sign > 0 else ("less", "greater")
    p_claimed = float(stats.fisher_exact(table, alternative=claimed).pvalue)
    p_opposite = float(stats.fisher_exact(table, alternative=opposite).pvalue)
    return _Stats("fisher", p_claimed, p_opposite, sign * (k_b / n_b - k_w / n_w), n_b, n_w, counts)


def _rate_threshold(row: _Row, samples: list[np.ndarray], fast: bool) -> _Stats:
    """success_rate against a fixed proportion: the exact binomial test."""
    x, rate = samples[0], row.claim.threshold
    k, n = int(x.sum()), x.size
    if n < MIN_RUNS:
        return _Stats("binomial", np.nan, np.nan, np.nan, n, 0, (k, n, 0, 0))
    greater, less = (float(stats.binomtest(k, n, rate, alternative=a).pvalue) for a in ("greater", "less"))
    return _Stats("binomial", greater, less, k / n - rate, n, 0, (k, n, 0, 0))


_KINDS: dict[str, Callable[[_Row, list[np.ndarray], bool], _Stats]] = {
    "location": _location,
    "threshold": _threshold,
    "spread": _spread,
    "divergence": _rates,
    "success": _rates,
    "success_threshold": _rate_threshold,
}


def cliffs_delta(x: np.ndarray, y: np.ndarray) -> float:
    """P(x > y) - P(x < y) over all pairs."""
    return float(np.sign(x[:, None] - y[None, :]).mean())


def _quietly(test: Callable[[], T]) -> T:
    """Run a test with scipy's degenerate-data warnings silenced: on such data (zero spread) a
    test returns NaN, which the verdict reads as inconclusive; the warning would only be noise."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return test()


# ----------------------------------------------------------------------------- stability, power, notes


def _resample_weights(row: _Row, b: int) -> np.ndarray | None:
    """Seed multiplicities of resample b: seeds drawn with replacement (selection and fresh seeds
    separately for tuned claims). Seeded by (b, seed counts), so rows over the same seeds draw the
    same seeds, as the runs of one seed share that seed in every claim."""
    m = len(row.seeds)
    if m == 0:
        return None
    strata = (
        [np.arange(m)]
        if row.selection is None
        else [np.flatnonzero(row.selection), np.flatnonzero(~row.selection)]
    )
    rng = np.random.default_rng([STABILITY_SEED, b, m, strata[0].size])
    weights = np.zeros(m, dtype=np.int64)
    for stratum in strata:
        if stratum.size:
            weights += np.bincount(rng.choice(stratum, stratum.size), minlength=m)
    return weights


def _stability(rows: list[_Row], verdicts: np.ndarray, method: str, resamples: int) -> np.ndarray:
    if resamples <= 0 or not rows:
        return np.full(len(rows), np.nan)
    p_claimed = np.full((resamples, len(rows)), np.nan)
    p_opposite = np.full((resamples, len(rows)), np.nan)
    for i, row in enumerate(rows):
        for b in range(resamples):
            result = _evaluate(row, _resample_weights(row, b), fast=True)
            p_claimed[b, i], p_opposite[b, i] = result.p_claimed, result.p_opposite
    alpha = np.array([row.claim.alpha for row in rows])
    same = [
        _verdicts(adjust_p(p_claimed[b], method), adjust_p(p_opposite[b], method), alpha) == verdicts
        for b in range(resamples)
    ]
    return np.mean(same, axis=0)


def critical_levels(p_values: np.ndarray, method: str, alphas: np.ndarray) -> np.ndarray:
    """Per row, the largest raw p that the adjustment would still let below its alpha, the other
    rows' p-values as they are (a row without a p joins the family for this): the level the row
    had to reach. Adjusted p-values grow with the row's own p, so bisection finds it."""
    p_values = np.asarray(p_values, dtype=float)
    levels = np.array(alphas, dtype=float)
    if method == "none":
        return levels
    for i, alpha in enumerate(levels.copy()):
        trial = p_values.copy()

        def passes(p: float, i: int = i, alpha: float = alpha, trial: np.ndarray = trial) -> bool:
            trial[i] = p
            return bool(adjust_p(trial, method)[i] < alpha)

        low, high = 0.0, alpha
        if passes(high):
            continue
        for _ in range(40):
            middle = (low + high) / 2
            low, high = (middle, high) if passes(middle) else (low, middle)
        levels[i] = low
    return levels


def _power(row: _Row, result: _Stats, level: float) -> tuple[float, float, str]:
    """(detectable_effect, seeds_needed, note) at one-sided `level` and POWER (see the module doc)."""
    level = max(level, 1e-12)
    z = float(stats.norm.ppf(1 - level) + stats.norm.ppf(POWER))
    n_b, n_w = result.n_better, result.n_worse
    kind = row.kind
    exact = kind in ("divergence", "success", "threshold", "location", "success_threshold") and (
        kind not in ("threshold", "location") or row.claim.test in ("permutation", "mannwhitney")
    )
    if kind in ("location", "divergence", "success"):
        if min(n_b, n_w) < MIN_RUNS:
            return np.nan, np.nan, ""
        smallest = 1 / math.comb(n_b + n_w, n_b)  # complete separation, no ties
        if kind == "location":
            detectable = 2 * z * math.sqrt((n_b + n_w) / (12 * n_b * n_w))
            delta = abs(result.effect)
            runs = math.ceil(2 * z**2 / (3 * delta**2)) if delta > 0 else None
        else:
            detectable = z * math.sqrt(0.25 * (1 / n_b + 1 / n_w))
            k_b, _, k_w, _ = result.counts
            h = abs(2 * math.asin(math.sqrt(k_b / n_b)) - 2 * math.asin(math.sqrt(k_w / n_w)))
            runs = math.ceil(2 * z**2 / h**2) if h > 0 else None
        reachable = 2  # runs per side for which an exact test can reach the level at all
        while 1 / math.comb(2 * reachable, reachable) >= level:
            reachable += 1
    elif kind in ("threshold", "success_threshold"):
        if n_b < MIN_RUNS:
            return np.nan, np.nan, ""
        base = 0.5 if kind == "threshold" else row.claim.threshold  # P(every run on the claimed side)
        smallest = base**n_b
        if kind == "threshold":
            detectable = z / math.sqrt(n_b)
            runs = math.ceil(z**2 / result.effect**2) if result.effect else None
        else:
            detectable = z * 0.5 / math.sqrt(n_b)
            rate = result.counts[0] / n_b
            h = abs(2 * math.asin(math.sqrt(rate)) - 2 * math.asin(math.sqrt(row.claim.threshold)))
            runs = math.ceil(z**2 / h**2) if h > 0 else None
        reachable = max(MIN_RUNS, math.floor(math.log(level) / math.log(base)) + 1)
    else:  # spread: no closed form worth printing
        return np.nan, np.nan, ""
    note = ""
    if exact and smallest >= level:
        detectable = np.nan
        shape = f"{n_b} vs {n_w} runs" if n_w else f"{n_b} runs"
        note = f"too few runs: the smallest p attainable with {shape} is {smallest:.2g} (level {level:.2g})"
    else:
        detectable = min(1.0, detectable)
    if runs is None:
        return detectable, np.nan, note
    runs = max(runs, reachable) if exact else runs
    return detectable, _seeds_for(row, runs), note


def _seeds_for(row: _Row, runs: int) -> int:
    """Seeds per side giving `runs` runs to the test (see the module doc)."""
    if row.selection is not None:
        return runs + int(row.selection.sum())
    return max(1, math.ceil(runs / max(1, *(len(side.configs) for side in row.sides))))


def _health_note(row: _Row, masks: list[np.ndarray]) -> str:
    notes = []
    for side, mask in zip(row.sides, masks, strict=True):
        health = side.health[mask]
        bad = Counter(h for h in health if isinstance(h, str) and h not in HEALTHY)
        if health.size and 2 * sum(bad.values()) > health.size:
            kinds = ", ".join(f"{h} {n}/{health.size}" for h, n in bad.most_common())
            notes.append(f"most runs of {side.variant} unhealthy ({kinds})")
    return "; ".join(notes)


def _wilson(k: int, n: int) -> str:
    if n == 0:
        return ""
    ci = stats.binomtest(k, n).proportion_ci(method="wilson")
    return f"[{ci.low:.2f}, {ci.high:.2f}]"


# ----------------------------------------------------------------------------- the table


def evaluate_claims(
    runs: pd.DataFrame,
    claims: list[ClaimConfig],
    *,
    p_adjust: str = "holm",
    success: Success | None = None,
    stability_resamples: int = STABILITY_RESAMPLES,
) -> pd.DataFrame:
    """claims.csv: one row per claim x dataset (``claim.datasets``, default every dataset in
    ``runs``); ``p_adjust`` and ``success`` are the suite's (SuiteFile.p_adjust / .success)."""
    done = runs[~runs["status"].isin(EXCLUDED_STATUS)]
    rows = []
    for claim in claims:
        if claim.protocol == "success_rate" and not success:
            raise ValueError(
                f"claim {claim.id!r}: protocol success_rate needs the suite's `success:` criterion"
            )
        for dataset in claim.datasets or list(pd.unique(runs["dataset"])):
            subset = done[done["dataset"] == dataset]
            if claim.healthy_only and "health" in subset:
                subset = subset[subset["health"].isin(["healthy", "reference"])]
            rows.append(_prepare(subset, claim, dataset, success))
    results = [_evaluate(row) for row in rows]
    p_value = np.array([r.p_claimed for r in results], dtype=float)
    p_adjusted = adjust_p(p_value, p_adjust)
    p_opposite = adjust_p([r.p_opposite for r in results], p_adjust)
    verdicts = _verdicts(p_adjusted, p_opposite, np.array([row.claim.alpha for row in rows]))
    stability = _stability(rows, verdicts, p_adjust, stability_resamples)
    levels = critical_levels(p_value, p_adjust, np.array([row.claim.alpha for row in rows]))
    table = [
        _table_row(row, result, verdict, p_value[i], p_adjusted[i], stability[i], levels[i])
        for i, (row, result, verdict) in enumerate(zip(rows, results, verdicts, strict=True))
    ]
    out = pd.DataFrame(table, columns=COLUMNS)
    out["seeds_needed"] = out["seeds_needed"].astype("Int64")
    return out


def _table_row(
    row: _Row,
    result: _Stats,
    verdict: str,
    p_value: float,
    p_adjusted: float,
    stability: float,
    level: float,
) -> list[Any]:
    claim = row.claim
    detectable, seeds_needed, power_note = _power(row, result, level)
    notes = [*result.notes, power_note, _health_note(row, result.masks)]
    if np.isfinite(stability) and stability < STABLE:
        notes.append(f"unstable: {verdict} in {stability:.0%} of seed resamples")
    rates: list[Any] = [np.nan, "", np.nan, ""]
    if result.counts is not None:
        k_b, n_b, k_w, n_w = result.counts
        rates = [
            k_b / n_b if n_b else np.nan,
            _wilson(k_b, n_b),
            k_w / n_w if n_w else np.nan,
            _wilson(k_w, n_w),
        ]
    return [
        claim.id,
        claim.text,
        row.dataset,
        str(verdict),
        claim.expect,
        result.test,
        claim.protocol,
        p_value,
        result.effect,
        p_adjusted,
        result.n_better,
        result.n_worse,
        stability,
        detectable,
        seeds_needed,
        *rates,
        "; ".join(n for n in notes if n),
    ]


def claims_failed(claims_table: pd.DataFrame) -> pd.DataFrame:
    """The rows whose verdict is not the expected one (what makes `ganbench check` exit 1)."""
    return claims_table[claims_table["verdict"] != claims_table["expected"]]
