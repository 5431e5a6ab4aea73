"""`ganbench report DIR`: one self-contained HTML page from a finished output dir.

What a researcher reads first comes first: run health (counts per variant x dataset by class,
colour-coded) and the claims' verdicts with their notes. Then, per dataset, the pictures: final
metrics per seed with the mean and a 95% bootstrap interval over seeds, learning curves (mean and
± std over seeds), the critic's Wasserstein estimate on its own axis, and each variant's final
samples. The long tables (leaderboard, every run) come last, folded.

Intervals and bands are clipped to each metric's range from the metric catalogue
(``MetricInfo.bounds``: a share stays in [0, 1], a distance >= 0). The reference rows (``noise``,
``data``) are drawn as horizontal lines wherever their metric is. Sample panels come from
``samples/<run_id>.npy`` (ganbench.samples), or, for output dirs written before those existed,
from the MLflow sample pictures. Images are embedded as base64 PNGs so the file can be mailed or
published; the page is rendered from a Jinja2 template (ganbench/templates/report.html.j2) and has no
script. Figures are bare Agg Figures: no pyplot state, nothing that needs a display.

The package: ``tables.py`` (the text: summary, health grid, claims, failed runs, long tables),
``intervals.py`` (metric ranges, clipping, bootstrap intervals), ``figures.py`` (the pictures);
this file assembles the page.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from ganbench import store
from ganbench.errors import BadInput
from ganbench.files import read_runs_csv
from ganbench.report.figures import (
    DPI,
    Figure,
    _artifact_pictures,
    _critic_figure,
    _curves_figure,
    _finals_figure,
    _samples_figure,
    _scale,
)
from ganbench.report.intervals import BOOTSTRAP_SEED, RESAMPLES, bootstrap_interval, bounds_of, clip
from ganbench.report.tables import (
    COLOURS,
    HEALTH_ORDER,
    _claim_rows,
    _failed_rows,
    _health_rows,
    _read_table,
    _summary,
    _tables,
)
from ganbench.suite import REFERENCES

# The public API, and what tests read as report.X (figure internals and the interval constants).
__all__ = [
    "BOOTSTRAP_SEED",
    "DPI",
    "RESAMPLES",
    "Figure",
    "_curves_figure",
    "_scale",
    "bootstrap_interval",
    "bounds_of",
    "build_context",
    "clip",
    "render",
    "write_report",
]


def write_report(out_dir: Path, output: Path | None = None) -> Path:
    """Write the report (default out_dir/report.html) and return its path."""
    out_dir = Path(out_dir)
    runs = read_runs_csv(out_dir)
    runs_csv = out_dir / "runs.csv"
    if runs.empty:
        raise BadInput(f"{runs_csv}: no runs recorded yet; run the suite first")
    output = Path(output) if output else out_dir / "report.html"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render(build_context(out_dir, runs)))
    return output


def render(context: dict[str, Any]) -> str:
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=PackageLoader("ganbench", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template("report.html.j2").render(**context)


def build_context(out_dir: Path, runs: pd.DataFrame) -> dict[str, Any]:
    """Everything the template shows, figures already encoded."""
    records = store.load(out_dir)
    histories = {run_id: rec.history for run_id, rec in records.items()}
    runs = runs.copy()
    runs["variant"] = runs["variant"].astype(str)
    runs["dataset"] = runs["dataset"].astype(str)
    trained = runs[~runs["variant"].isin(REFERENCES)]
    datasets = list(dict.fromkeys(runs["dataset"]))
    title = ", ".join(map(str, runs["suite"].unique()))
    sections = []
    for dataset in datasets:
        rows = runs[runs["dataset"] == dataset]
        figures = [
            _finals_figure(rows),
            _curves_figure(rows, histories),
            _critic_figure(rows, histories),
            _samples_figure(out_dir, rows, records),
        ]
        sections.append(
            {
                "dataset": dataset,
                "figures": [f for f in figures if f is not None],
                "artifacts": _artifact_pictures(out_dir, rows),
            }
        )
    return {
        "title": title,
        "summary": _summary(runs, trained, datasets),
        "colours": COLOURS,
        "legend": [name for name in HEALTH_ORDER if name != "unknown"],
        "datasets": datasets,
        "health": _health_rows(trained, datasets),
        "claims": _claim_rows(_read_table(out_dir / "claims.csv")),
        "failed": _failed_rows(runs),
        "sections": sections,
        "tables": _tables(out_dir, runs),
    }
