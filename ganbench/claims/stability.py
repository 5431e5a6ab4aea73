"""What stands behind a verdict besides its p-value: its stability under a bootstrap of the seeds,
the effect the runs could detect and the seeds that would be needed (closed forms at ``POWER``),
and the note when most runs of a side are not healthy. The formulas and their sources: the package
docstring (ganbench.claims, "Stability" and "Power")."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
from scipy import stats

from ganbench.claims.adjust import _verdicts, adjust_p
from ganbench.claims.evidence import MIN_RUNS, _evaluate, _Row, _Stats

HEALTHY = frozenset({"healthy", "reference"})
STABILITY_SEED = 0
POWER = 0.8


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


def _power(row: _Row, result: _Stats, level: float) -> tuple[float, float, str]:
    """(detectable_effect, seeds_needed, note) at one-sided `level` and POWER (ganbench.claims, "Power")."""
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
    """Seeds per side giving `runs` runs to the test (see ganbench.claims, "Power")."""
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
