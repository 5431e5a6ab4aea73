"""One claim x dataset: the two sides' runs as numpy arrays (``_prepare``), the runs a protocol
lets the test see (pooled, tuned, success_rate), and the statistics of the claim's kind (location,
threshold, spread, rates) on them (``_evaluate``), optionally weighted by a resample of the seeds.
The per-run values and protocols are described in the package docstring (ganbench.claims)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
import pandas as pd
from scipy import stats

from ganbench.leaderboard import diverged_flags
from ganbench.metrics import metric_info
from ganbench.registry import CLAIM_TESTS
from ganbench.suite import ClaimConfig

MIN_RUNS = 2  # per side; below this no test says anything
T = TypeVar("T")
Success = dict[str, dict[str, float]]  # the suite's `success:` criterion: {metric: {below|above: value}}


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
