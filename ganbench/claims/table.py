"""claims.csv: every claim x dataset evaluated, adjusted together, and written as one row with its
verdict, statistics, stability, power and notes; and the rows that make `ganbench check` fail."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ganbench.claims.adjust import _verdicts, adjust_p, critical_levels
from ganbench.claims.evidence import Success, _evaluate, _prepare, _Row, _Stats
from ganbench.claims.stability import _health_note, _power, _stability
from ganbench.suite import ClaimConfig

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
EXCLUDED_STATUS = ("failed", "killed")  # runs that measured nothing
STABILITY_RESAMPLES = 200
STABLE = 0.8  # a verdict kept in fewer resamples than this is marked unstable


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


def _wilson(k: int, n: int) -> str:
    if n == 0:
        return ""
    ci = stats.binomtest(k, n).proportion_ci(method="wilson")
    return f"[{ci.low:.2f}, {ci.high:.2f}]"


def claims_failed(claims_table: pd.DataFrame) -> pd.DataFrame:
    """The rows whose verdict is not the expected one (what makes `ganbench check` exit 1)."""
    return claims_table[claims_table["verdict"] != claims_table["expected"]]
