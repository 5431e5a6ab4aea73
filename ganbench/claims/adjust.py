"""Multiple comparisons: the suite's ``p_adjust`` (Holm, Benjamini-Hochberg or none) over all rows,
the verdict each row's adjusted p-values give, and the raw level a row had to reach (for power).
Why Holm by default: the package docstring (ganbench.claims, "Multiple comparisons")."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats


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
