"""Metrics of a run's training, computed once at its end from its curves: whether it diverged,
the critic's Wasserstein estimate and how well it tracks the exact W1, and each metric's
oscillation over the last evaluations (``<metric>_osc``)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ganbench.metrics import CORRELATION, SHARE, metric

OSC_WINDOW = 5  # last evaluations over which a metric's oscillation (and the critic ratio) is measured


@dataclass
class TrainingTrace:
    """One run's training, as the training-stage metrics see it.

    `series`: each evaluated metric's values at the run's evaluations, in order. `critic`: the
    critic's estimate (mean D(real) - mean D(fake)) averaged over the steps since the previous
    evaluation, one per evaluation; None when the loss is no Wasserstein loss (the estimate
    means nothing then)."""

    diverged: bool
    series: dict[str, list[float]] = field(default_factory=dict)
    critic: list[float] | None = None


def critic_at_evals(estimate: np.ndarray, eval_steps: list[int], evaluated: list[bool]) -> list[float]:
    """The critic's estimate (one value per step) averaged over the steps since the previous
    evaluation, for each evaluation at which the run was evaluated (a diverged run stops being)."""
    out, start = [], 0
    for step, was in zip(eval_steps, evaluated, strict=True):
        if was:
            out.append(float(np.mean(estimate[start:step])))
        start = step
    return out


def oscillation(trace: TrainingTrace) -> dict[str, float]:
    """``<metric>_osc``: std of each metric over the last OSC_WINDOW evaluations (NaN when not
    finite or fewer than two)."""
    out = {}
    for name, values in trace.series.items():
        tail = np.asarray(values[-OSC_WINDOW:], dtype=float)
        out[f"{name}_osc"] = float(np.std(tail)) if len(tail) > 1 and np.isfinite(tail).all() else math.nan
    return out


@metric(
    "diverged",
    higher_is_better=False,
    worst=1.0,
    bounds=SHARE,
    stage="training",
    shown=False,
    description="1 if the run hit a NaN/inf, else 0 (its mean is the divergence rate)",
)
def diverged(trace: TrainingTrace) -> float:
    return float(trace.diverged)


@metric(
    "divergence_rate",
    higher_is_better=False,
    worst=1.0,
    bounds=SHARE,
    scope="variant",
    stage="tables",
    description="share of a variant's runs that diverged (the leaderboard's Wilson interval)",
)
def divergence_rate(diverged_flags: list[float]) -> float:
    return float(np.mean(diverged_flags)) if len(diverged_flags) else math.nan


@metric(
    "critic_w",
    higher_is_better=False,
    stage="training",
    shown=False,
    description="the critic's Wasserstein estimate, mean D(real) - mean D(fake), over the steps before the last evaluation",
)
def critic_w(trace: TrainingTrace) -> float | None:
    if trace.critic is None:
        return None
    return trace.critic[-1] if trace.critic else math.nan


@metric(
    "critic_w1_ratio",
    higher_is_better=True,
    worst=0.0,
    stage="training",
    shown=False,
    description="the critic's estimate / the exact w1, median over the last evaluations",
)
def critic_w1_ratio(trace: TrainingTrace) -> float | None:
    if trace.critic is None:
        return None
    w1 = trace.series.get("w1", [])
    tail = [c / w for c, w in list(zip(trace.critic, w1, strict=False))[-OSC_WINDOW:] if w > 0]
    return float(np.median(tail)) if tail and np.isfinite(tail).all() else math.nan


@metric(
    "w_quality_corr",
    higher_is_better=True,
    worst=-1.0,
    bounds=CORRELATION,
    stage="training",
    description="Spearman correlation over training of the critic's W estimate and the exact w1",
)
def w_quality_corr(trace: TrainingTrace) -> float | None:
    if trace.critic is None:
        return None
    from scipy import stats

    pairs = [
        (c, w)
        for c, w in zip(trace.critic, trace.series.get("w1", []), strict=False)
        if np.isfinite(c) and np.isfinite(w)
    ]
    if len(pairs) < 3 or len({w for _, w in pairs}) < 2:
        return math.nan
    return float(stats.spearmanr(*zip(*pairs, strict=True)).statistic)
