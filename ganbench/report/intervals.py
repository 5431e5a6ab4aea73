"""Intervals on the page: a metric's range from the catalogue, clipping to it, and the seeded
percentile bootstrap of a mean over seeds (the page is a function of the output dir)."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from ganbench.metrics import metric_info

LEVEL = 0.95  # of the bootstrap intervals
RESAMPLES = 2000
BOOTSTRAP_SEED = 0  # the page is a function of the output dir: same intervals every time


def bounds_of(metric: str) -> tuple[float | None, float | None]:
    """The metric's range from the catalogue; unbounded for names it does not know."""
    from ganbench.registry import UnknownName

    try:
        return metric_info(metric).bounds
    except UnknownName:
        return (None, None)


def clip(value: Any, bounds: tuple[float | None, float | None]) -> Any:
    """`value` (a number or an array) clipped to `bounds`; NaN stays NaN."""
    low, high = bounds
    result = np.clip(
        np.asarray(value, dtype=float),
        -np.inf if low is None else low,
        np.inf if high is None else high,
    )
    return float(result) if result.ndim == 0 else result


def bootstrap_interval(
    values: Any, bounds: tuple[float | None, float | None] = (None, None), level: float = LEVEL
) -> tuple[float, float] | None:
    """Percentile bootstrap interval of the mean over seeds, clipped to `bounds`; None for fewer
    than two finite values. Deterministic (a fixed generator), like the rest of the page."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if len(x) < 2:
        return None
    if np.ptp(x) == 0:  # every seed alike: no spread to resample
        return clip(x[0], bounds), clip(x[0], bounds)
    result = stats.bootstrap(
        (x,),
        np.mean,
        n_resamples=RESAMPLES,
        confidence_level=level,
        method="percentile",
        rng=np.random.default_rng(BOOTSTRAP_SEED),
    )
    interval = result.confidence_interval
    return clip(interval.low, bounds), clip(interval.high, bounds)
