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

The package, read top to bottom:

- ``stat_tests.py``: the claim tests (``PValues``, ``ClaimTest``, the registered built-ins);
- ``adjust.py``: multiple comparisons (Holm, BH), verdicts, the level each row had to reach;
- ``evidence.py``: one claim x dataset: its sides, the protocols, the statistics of its kind;
- ``stability.py``: the seed-bootstrap stability, detectable effect, seeds needed, health notes;
- ``table.py``: ``evaluate_claims``, one claims.csv row per claim x dataset, ``claims_failed``.
"""

from ganbench.claims.adjust import adjust_p, critical_levels
from ganbench.claims.evidence import Success, cliffs_delta, success_flags
from ganbench.claims.stat_tests import (
    PERMUTATION_RESAMPLES,
    PERMUTATION_SEED,
    ClaimTest,
    PValues,
    bootstrap_p,
    rank_sum_permutation,
    signed_rank_signflip,
    signflip_distribution,
    subset_sum_counts,
)
from ganbench.claims.table import COLUMNS, claims_failed, evaluate_claims
from ganbench.registry import CLAIM_TESTS

__all__ = [
    "CLAIM_TESTS",
    "COLUMNS",
    "PERMUTATION_RESAMPLES",
    "PERMUTATION_SEED",
    "ClaimTest",
    "PValues",
    "Success",
    "adjust_p",
    "bootstrap_p",
    "claims_failed",
    "cliffs_delta",
    "critical_levels",
    "evaluate_claims",
    "rank_sum_permutation",
    "signed_rank_signflip",
    "signflip_distribution",
    "subset_sum_counts",
    "success_flags",
]
