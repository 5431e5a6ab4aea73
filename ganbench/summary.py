"""What the commands print: the end-of-run summary, check failures, registries."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table

from ganbench import leaderboard as board
from ganbench.errors import BadInput

console = Console()
SUMMARY_METRICS = (
    "modes_covered",
    "hq_share",
    "reverse_kl",
    "w1",
    "fid",
    "classifier_fid",
    "classes_covered",
)


def print_outcome(outcome) -> None:
    runs, lb = outcome.runs, outcome.leaderboard
    status = runs["status"].value_counts().to_dict() if not runs.empty else {}
    console.print(
        f"[bold]{len(runs)} runs[/bold] in {outcome.out_dir} ({outcome.trained} trained now, "
        f"{outcome.wall_s:.1f} s): " + ", ".join(f"{n} {s}" for s, n in sorted(status.items()))
    )
    if not lb.empty:
        console.print(_leaderboard_table(lb))
    if not outcome.claims.empty:
        console.print(_claims_table(outcome.claims))


def _leaderboard_table(lb: pd.DataFrame) -> Table:
    shown = [m for m in SUMMARY_METRICS if m in set(lb["metric"])]
    table = Table(title="leaderboard (mean ± std over seeds)")
    for column in ["dataset", "variant", *shown, "diverged"]:
        table.add_column(column, justify="left" if column in ("dataset", "variant") else "right")
    for (dataset, variant), cell in lb.groupby(["dataset", "variant"], sort=True):
        by_metric = cell.set_index("metric")
        values = [
            f"{by_metric.at[m, 'mean']:.3g} ± {by_metric.at[m, 'std']:.2g}" if m in by_metric.index else ""
            for m in shown
        ]
        diverged = int(cell["diverged"].max()) if "diverged" in cell else 0
        table.add_row(dataset, variant, *values, str(diverged))
    return table


def _claims_table(claims: pd.DataFrame) -> Table:
    table = Table(title="claims")
    for column in ("id", "dataset", "verdict", "expected", "p_value", "effect_size", "n_better", "n_worse"):
        table.add_column(column)
    for row in claims.itertuples():
        colour = "green" if row.verdict == row.expected else "red"
        table.add_row(
            row.id,
            row.dataset,
            f"[{colour}]{row.verdict}[/{colour}]",
            row.expected,
            f"{row.p_value:.3g}",
            f"{row.effect_size:+.2f}",
            str(row.n_better),
            str(row.n_worse),
        )
    return table


def print_check(failed_claims: pd.DataFrame, regressions: pd.DataFrame) -> int:
    """Print what failed the gate; the exit code: 1 on any failure, else 0."""
    for row in failed_claims.itertuples():
        console.print(
            f"[red]CLAIM FAILED[/red] {row.id} on {row.dataset}: verdict {row.verdict}, expected {row.expected} (p={row.p_value:.3g})"
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
    runs_csv = out_dir / "runs.csv"
    if not runs_csv.exists():
        raise BadInput(f"{runs_csv}: no runs.csv here; run `ganbench run SUITE --out {out_dir}` first")
    lb = board.aggregate(pd.read_csv(runs_csv))
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
    from ganbench.metrics import EVALUATORS
    from ganbench.registry import ARCHS, DATASETS, LOSSES, METRICS, OPTIMIZERS, load_builtins

    load_builtins()
    for registry in (LOSSES, ARCHS, DATASETS, OPTIMIZERS, EVALUATORS):
        console.print(f"[bold]{registry.kind}s[/bold]: {', '.join(registry)}")
    table = Table(title="metrics")
    for column in ("metric", "better", "description"):
        table.add_column(column)
    for name, info in METRICS.items():
        table.add_row(name, "higher" if info.higher_is_better else "lower", info.description)
    console.print(table)
