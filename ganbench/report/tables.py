"""The page's text: the summary line, the run-health grid, the claims' verdicts, the failed runs
and the folded long tables (leaderboard, per-config leaderboard, every run), as plain values
for the template."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from ganbench.report.intervals import bounds_of, clip
from ganbench.suite import REFERENCES

# Chips: health classes, statuses and verdicts.
COLOURS = {
    "healthy": "#c8e6c9",
    "diverged": "#ffcdd2",
    "dead_critic": "#ffe0b2",
    "collapsed": "#e1bee7",
    "diffuse": "#fff59d",
    "oscillating": "#bbdefb",
    "failed": "#ef9a9a",
    "killed": "#d7ccc8",
    "unknown": "#eeeeee",
    "reference": "#e0e0e0",
    "supported": "#a5d6a7",
    "contradicted": "#ef9a9a",
    "inconclusive": "#e0e0e0",
}
HEALTH_ORDER = (
    "healthy",
    "diverged",
    "dead_critic",
    "collapsed",
    "diffuse",
    "oscillating",
    "failed",
    "killed",
    "unknown",
)


def _read_table(path: Path) -> pd.DataFrame | None:
    """A CSV table, or None when it is absent or empty (a suite without claims)."""
    try:
        table = pd.read_csv(path)
    except (FileNotFoundError, pd.errors.EmptyDataError):
        return None
    return None if table.empty else table


def _summary(runs: pd.DataFrame, trained: pd.DataFrame, datasets: list[str]) -> str:
    status = trained["status"].value_counts().to_dict() if not trained.empty else {}
    counts = ", ".join(f"{n} {s}" for s, n in sorted(status.items())) or "none"
    variants = list(dict.fromkeys(trained["variant"]))
    seeds = trained["seed"].nunique() if not trained.empty else 0
    n_ref = int(runs["variant"].isin(REFERENCES).sum())
    return (
        f"{len(trained)} runs ({counts}): {len(variants)} variants x {len(datasets)} datasets x "
        f"{seeds} seeds, plus {n_ref} reference rows (noise, data)."
    )


def _health_of(row: pd.Series) -> str:
    status = str(row.get("status", ""))
    if status in ("failed", "killed"):
        return status
    health = row.get("health")
    return str(health) if isinstance(health, str) and health else "unknown"


def _health_rows(trained: pd.DataFrame, datasets: list[str]) -> list[dict[str, Any]]:
    if trained.empty:
        return []
    classes = trained.apply(_health_of, axis=1)
    rows = []
    for variant in dict.fromkeys(trained["variant"]):
        cells = []
        for dataset in datasets:
            mask = (trained["variant"] == variant) & (trained["dataset"] == dataset)
            counts = classes[mask].value_counts().to_dict()
            order = [*HEALTH_ORDER, *sorted(set(counts) - set(HEALTH_ORDER))]
            cells.append([(name, counts[name]) for name in order if counts.get(name)])
        rows.append({"variant": variant, "cells": cells})
    return rows


def _fmt(value: Any, digits: int = 3) -> str:
    number = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
    if pd.isna(number):
        return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)
    if float(number).is_integer() and abs(number) < 1e6:
        return str(int(number))
    return f"{number:.{digits}g}"


def _text(value: Any) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


def _claim_rows(claims: pd.DataFrame | None) -> list[dict[str, Any]]:
    if claims is None:
        return []
    rows = []
    for claim in claims.to_dict("records"):
        verdict, expected = _text(claim.get("verdict")), _text(claim.get("expected"))
        rows.append(
            {
                "id": _text(claim.get("id")),
                "text": _text(claim.get("text")),
                "dataset": _text(claim.get("dataset")),
                "verdict": verdict if verdict in COLOURS else "inconclusive",
                "expected": expected,
                "as_expected": not expected or verdict == expected,
                "test": _text(claim.get("test")),
                "p_value": _fmt(claim.get("p_value")),
                "p_adjusted": _fmt(claim.get("p_adjusted")),
                "effect_size": _fmt(claim.get("effect_size")),
                "stability": _fmt(claim.get("stability")),
                "n_better": _fmt(claim.get("n_better")),
                "n_worse": _fmt(claim.get("n_worse")),
                "note": _text(claim.get("note")),
            }
        )
    return rows


def _failed_rows(runs: pd.DataFrame) -> list[dict[str, Any]]:
    failed = runs[runs["status"].isin(["failed", "killed"])]
    return [
        {
            "run_id": _text(row.get("run_id")),
            "variant": _text(row.get("variant")),
            "dataset": _text(row.get("dataset")),
            "seed": _fmt(row.get("seed")),
            "status": _text(row.get("status")),
            "error": _text(row.get("error")).splitlines()[0] if _text(row.get("error")) else "",
        }
        for row in failed.to_dict("records")
    ]


def _tables(out_dir: Path, runs: pd.DataFrame) -> list[dict[str, Any]]:
    tables = []
    board = _read_table(out_dir / "leaderboard.csv")
    if board is not None:
        board = _clip_intervals(board)
        tables.append(
            {
                "title": "Leaderboard",
                "caption": "leaderboard.csv: variant x dataset x metric over seeds; the 95% interval "
                "is clipped to the metric's range.",
                "rows": len(board),
                "html": board.to_html(index=False, float_format="%.4g", na_rep="", border=0),
            }
        )
    configs = _read_table(out_dir / "leaderboard_configs.csv")
    if configs is not None:
        tables.append(
            {
                "title": "Leaderboard per sweep configuration",
                "caption": "leaderboard_configs.csv",
                "rows": len(configs),
                "html": configs.to_html(index=False, float_format="%.4g", na_rep="", border=0),
            }
        )
    tables.append(
        {
            "title": "Every run",
            "caption": "runs.csv: one row per run and reference row, final metrics.",
            "rows": len(runs),
            "html": runs.to_html(index=False, float_format="%.4g", na_rep="", border=0),
        }
    )
    return tables


def _clip_intervals(board: pd.DataFrame) -> pd.DataFrame:
    if not {"metric", "ci95_low", "ci95_high"} <= set(board.columns):
        return board
    board = board.copy()
    for column in ("ci95_low", "ci95_high"):
        board[column] = [
            clip(value, bounds_of(str(metric)))
            for metric, value in zip(
                board["metric"], pd.to_numeric(board[column], errors="coerce"), strict=True
            )
        ]
    return board
