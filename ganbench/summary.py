"""What the commands print: the end-of-run summary, check failures, registries."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:  # imported where used: `ganbench list` needs neither (tests/test_cold_start.py)
    import pandas as pd

# Piped output (nohup, CI logs) gets a wide console instead of 80 columns that cut every cell.
console = Console(width=None if sys.stdout.isatty() else 160)


def print_outcome(outcome) -> None:
    from ganbench import leaderboard as board

    runs, lb = outcome.runs, outcome.leaderboard
    status = runs["status"].value_counts().to_dict() if not runs.empty else {}
    console.print(
        f"[bold]{len(runs)} runs[/bold] in {outcome.out_dir} ({outcome.trained} trained now, "
        f"{outcome.wall_s:.1f} s): " + ", ".join(f"{n} {s}" for s, n in sorted(status.items()))
    )
    if not lb.empty:
        console.print(_leaderboard_table(lb))
        for row in board.not_better_than_noise(lb).itertuples():
            console.print(
                f"[yellow]not better than noise[/yellow]: {row.variant} on {row.dataset} "
                f"({row.metric} {row.mean:.3g}; uniform noise scores "
                f"{lb[(lb.variant == 'noise') & (lb.dataset == row.dataset) & (lb.metric == row.metric)]['mean'].iloc[0]:.3g})"
            )
        unhealthy = (
            runs[~runs["health"].isin(["healthy", "reference"])] if "health" in runs else runs.iloc[:0]
        )
        for (variant, dataset), cell in unhealthy.groupby(["variant", "dataset"], sort=True):
            counts = ", ".join(f"{health} {n}" for health, n in cell["health"].value_counts().items())
            total = int(((runs["variant"] == variant) & (runs["dataset"] == dataset)).sum())
            console.print(f"[yellow]unhealthy runs[/yellow]: {variant} on {dataset}: {counts} (of {total})")
    if not outcome.claims.empty:
        console.print(_claims_table(outcome.claims))


def print_failures(outcome) -> int:
    """Name every failed run of the suite with its first error line; returns how many failed."""
    runs = outcome.runs
    if runs.empty or "status" not in runs:
        return 0
    failed = runs[runs["status"] == "failed"]
    for _, row in failed.iterrows():
        error = escape(str(row.get("error", "") or "no error recorded"))
        console.print(
            f"[red]FAILED[/red] {escape(str(row['variant']))}/{escape(str(row['dataset']))} seed {row['seed']} "
            f"({row['run_id']}) after {row.get('steps_done', 0)} steps: {error}"
        )
    if len(failed):
        console.print(f"[red]{len(failed)} run(s) failed[/red]; run the same command to retry them")
    return len(failed)


def _leaderboard_table(lb: pd.DataFrame) -> Table:
    from ganbench.metrics import shown_metrics

    shown = [m for m in shown_metrics() if m in set(lb["metric"])]
    table = Table(title="leaderboard (mean ± std over seeds)")
    for column in ["dataset", "variant", *shown, "healthy", "diverged"]:
        table.add_column(column, justify="left" if column in ("dataset", "variant") else "right")
    for (dataset, variant), cell in lb.groupby(["dataset", "variant"], sort=True):
        by_metric = cell.set_index("metric")
        values = [
            f"{by_metric.at[m, 'mean']:.3g} ± {by_metric.at[m, 'std']:.2g}" if m in by_metric.index else ""
            for m in shown
        ]
        diverged = int(cell["diverged"].max()) if "diverged" in cell else 0
        healthy = f"{int(cell['healthy'].max())}/{int(cell['n'].max())}" if "healthy" in cell else ""
        table.add_row(dataset, variant, *values, healthy, str(diverged))
    return table


def _claims_table(claims: pd.DataFrame) -> Table:
    """Verdicts with the adjusted p, stability and notes (unhealthy sides, unstable verdicts)."""
    columns = ("id", "dataset", "verdict", "expected", "test", "p_value", "p_adjusted", "effect_size")
    table = Table(title="claims")
    for column in (*columns, "n", "stability", "note"):
        table.add_column(column)
    for row in claims.to_dict("records"):
        colour = "green" if row["verdict"] == row["expected"] else "red"
        protocol = row.get("protocol", "pooled")
        table.add_row(
            str(row["id"]),
            str(row["dataset"]),
            f"[{colour}]{row['verdict']}[/{colour}]",
            str(row["expected"]),
            str(row["test"]) + ("" if protocol in ("pooled", None) else f", {protocol}"),
            _number(row.get("p_value"), ".3g"),
            _number(row.get("p_adjusted"), ".3g"),
            _number(row.get("effect_size"), "+.2f"),
            f"{row['n_better']}/{row['n_worse']}",
            _number(row.get("stability"), ".0%"),
            f"[yellow]{escape(row['note'])}[/yellow]"
            if isinstance(row.get("note"), str) and row["note"]
            else "",
        )
    return table


def _number(value: object, fmt: str) -> str:
    try:
        value = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "–"
    return format(value, fmt) if value == value and abs(value) != float("inf") else "–"


def print_check(failed_claims: pd.DataFrame, regressions: pd.DataFrame) -> int:
    """Print what failed the gate; the exit code: 1 on any failure, else 0."""
    for row in failed_claims.itertuples():
        console.print(
            f"[red]CLAIM FAILED[/red] {row.id} on {row.dataset}: verdict {row.verdict}, expected {row.expected} (p={row.p_value:.3g}, adjusted {row.p_adjusted:.3g})"
        )
    for row in regressions.itertuples():
        console.print(
            f"[red]REGRESSION[/red] {row.variant}/{row.dataset} {row.metric}: {row.mean:.4g} vs baseline "
            f"{row.baseline_mean:.4g} (delta {row.delta:+.4g}, band ±{row.band:.3g})"
        )
    failed = len(failed_claims) + len(regressions)
    console.print(
        "[green]check passed[/green]" if not failed else f"[red]check failed: {failed} problem(s)[/red]"
    )
    return 1 if failed else 0


def publish_leaderboard(out_dir: Path, fmt: str, output: Path | None) -> None:
    import pandas as pd

    from ganbench import leaderboard as board
    from ganbench.files import read_runs_csv

    runs = read_runs_csv(out_dir)
    lb = board.aggregate(runs)
    claims_csv = out_dir / "claims.csv"
    claims = pd.read_csv(claims_csv) if claims_csv.exists() else None
    text = lb.to_csv(index=False) if fmt == "csv" else board.to_markdown(lb, claims)
    if output:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text)
        console.print(f"wrote {output}")
    else:
        print(text)


def print_registries() -> None:
    """Names only: no implementation (and so no torch) is imported."""
    from ganbench.metrics import EVALUATORS
    from ganbench.registry import ARCHS, BACKENDS, DATASETS, LOSSES, METRICS, OPTIMIZERS, PENALTIES

    for registry in (LOSSES, PENALTIES, ARCHS, DATASETS, OPTIMIZERS, EVALUATORS, BACKENDS):
        plural = {"penalty": "penalties"}.get(registry.kind) or registry.kind + (
            "es" if registry.kind.endswith("s") else "s"
        )
        console.print(f"[bold]{plural}[/bold]: {', '.join(registry.names())}")
    table = Table(title="metrics")
    for column in ("metric", "better", "range", "description"):
        table.add_column(column)
    for name, info in METRICS.items():
        low, high = info.bounds
        span = "" if low is None and high is None else f"[{_bound(low, '-inf')}, {_bound(high, 'inf')}]"
        table.add_row(name, "higher" if info.higher_is_better else "lower", span, info.description)
    console.print(table)


def _bound(value: float | None, unbounded: str) -> str:
    return unbounded if value is None else f"{value:g}"


def _plain(value: object) -> object:
    """A JSON-safe scalar: numpy numbers as Python ones, NaN and inf as null."""
    if hasattr(value, "item"):
        value = value.item()  # type: ignore[union-attr]
    if isinstance(value, float) and (value != value or abs(value) == float("inf")):
        return None
    return value


def outcome_summary(outcome) -> dict:
    """`--json` for run and check: counts of the runs by status and health, the claims' verdicts,
    the failed runs with their first error line."""
    runs = outcome.runs

    def counts(column: str) -> dict:
        if runs.empty or column not in runs:
            return {}
        return {str(k): int(n) for k, n in sorted(runs[column].value_counts().items())}

    failed = runs[runs["status"] == "failed"] if not runs.empty and "status" in runs else runs.iloc[:0]
    claim_keys = ("id", "dataset", "verdict", "expected", "protocol", "p_value", "p_adjusted", "effect_size")
    return {
        "out_dir": str(outcome.out_dir),
        "wall_s": round(float(outcome.wall_s), 3),
        "trained": int(outcome.trained),
        "runs": {"total": len(runs), "status": counts("status"), "health": counts("health")},
        "failed_runs": [
            {
                "run_id": str(row.get("run_id")),
                "variant": str(row.get("variant")),
                "dataset": str(row.get("dataset")),
                "seed": _plain(row.get("seed")),
                "error": str(row.get("error", "") or ""),
            }
            for row in failed.to_dict("records")
        ],
        "claims": [
            {key: _plain(row.get(key)) for key in claim_keys if key in row}
            for row in (outcome.claims.to_dict("records") if not outcome.claims.empty else [])
        ],
    }


def check_summary(failed_claims: pd.DataFrame, regressions: pd.DataFrame) -> dict:
    """`--json` for check's gate: what failed it."""
    claim_keys = ("id", "dataset", "verdict", "expected", "p_value", "p_adjusted")
    regression_keys = ("variant", "dataset", "metric", "mean", "baseline_mean", "delta", "band")
    return {
        "passed": len(failed_claims) + len(regressions) == 0,
        "failed_claims": [
            {k: _plain(row.get(k)) for k in claim_keys if k in row}
            for row in failed_claims.to_dict("records")
        ],
        "regressions": [
            {k: _plain(row.get(k)) for k in regression_keys if k in row}
            for row in regressions.to_dict("records")
        ],
    }
