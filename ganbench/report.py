"""`ganbench report DIR`: one self-contained HTML page from a finished output dir.

Tables come from runs.csv, leaderboard.csv and claims.csv; the pictures (final metrics per seed,
learning curves with spread over seeds, the critic's estimate against the exact W1) from the run
records' histories. Images are embedded as base64 PNGs so the file can be mailed or published.
Figures are bare Agg Figures: no pyplot state, nothing that needs a display.
"""

from __future__ import annotations

import base64
import html
import io
import math
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ganbench.errors import BadInput
from ganbench.runner import store

# Final metrics drawn per dataset (those the runs report), and the ones drawn as learning curves.
FINALS = (
    "modes_covered",
    "hq_share",
    "reverse_kl",
    "w1",
    "classes_covered",
    "classifier_fid",
    "fid",
    "kid_mean",
    "is_mean",
)
CURVES = ("w1", "modes_covered", "classifier_fid", "fid")
PER_ROW = 4  # panels per row of a figure
STYLE = (
    "body{font-family:sans-serif;max-width:1200px;margin:auto;padding:0 1em}"
    "table{border-collapse:collapse;font-size:12px;margin-bottom:1em}"
    "td,th{padding:2px 6px;border:1px solid #ccc} img{max-width:100%}"
)


def write_report(out_dir: Path, output: Path | None = None) -> Path:
    """Write the report (default out_dir/report.html) and return its path."""
    out_dir = Path(out_dir)
    runs_csv = out_dir / "runs.csv"
    if not runs_csv.is_file():
        raise BadInput(f"{runs_csv}: no runs.csv here; run `ganbench run SUITE --out {out_dir}` first")
    runs = pd.read_csv(runs_csv)
    if runs.empty:
        raise BadInput(f"{runs_csv}: no runs recorded yet; run the suite first")
    histories = {run_id: rec.get("history", {}) for run_id, rec in store.load(out_dir).items()}
    suites = ", ".join(map(str, runs["suite"].unique()))
    parts = [f"<h1>ganbench report: {html.escape(suites)}</h1>", _status_table(runs)]
    for name in ("claims", "leaderboard"):
        table = _read_table(out_dir / f"{name}.csv")
        if table is not None:
            parts.append(f"<h2>{name}</h2>" + table.to_html(index=False, float_format="%.4g", na_rep=""))
    for dataset, rows in runs.groupby("dataset", sort=False):
        parts.append(f"<h2>dataset {html.escape(str(dataset))}</h2>")
        finals = _finals_figure(rows)
        curves = _curves_figure(rows, histories)
        parts += [_img(figure) for figure in (finals, curves) if figure is not None]
    output = Path(output) if output else out_dir / "report.html"
    output.parent.mkdir(parents=True, exist_ok=True)
    body = "\n".join(parts)
    output.write_text(
        f"<!doctype html><html><head><meta charset='utf-8'><title>ganbench report: {html.escape(suites)}</title>"
        f"<style>{STYLE}</style></head><body>\n{body}\n</body></html>\n"
    )
    return output


def _read_table(path: Path) -> pd.DataFrame | None:
    """A CSV table, or None when it is absent or empty (a suite without claims)."""
    try:
        table = pd.read_csv(path)
    except (FileNotFoundError, pd.errors.EmptyDataError):
        return None
    return None if table.empty else table


def _status_table(runs: pd.DataFrame) -> str:
    """Runs per variant, dataset and status, then the first error line of each failed run."""
    counts = runs.pivot_table(
        index=["variant", "dataset"], columns="status", values="run_id", aggfunc="count", fill_value=0
    )
    counts.columns.name = None
    text = "<h2>runs</h2>" + counts.reset_index().to_html(index=False)
    failed = runs[runs["status"] == "failed"]
    if not failed.empty and "error" in failed:
        text += failed[["run_id", "variant", "dataset", "seed", "error"]].to_html(index=False)
    return text


# ----------------------------------------------------------------------------- figures


def _panels(n: int, height: float = 3.0) -> tuple[Figure, list]:
    cols, rows = min(PER_ROW, n), math.ceil(n / PER_ROW)
    figure = Figure(figsize=(3.4 * cols, height * rows), dpi=80, layout="constrained")
    return figure, [figure.add_subplot(rows, cols, i + 1) for i in range(n)]


def _finals_figure(rows: pd.DataFrame) -> Figure | None:
    """Per metric: a box per variant over its seeds, with every seed drawn as a dot on top."""
    metrics = [m for m in FINALS if m in rows and pd.to_numeric(rows[m], errors="coerce").notna().any()]
    if not metrics:
        return None
    variants = list(dict.fromkeys(rows["variant"]))
    figure, axes_list = _panels(len(metrics))
    for axes, metric in zip(axes_list, metrics, strict=True):
        values = [_finite(rows.loc[rows["variant"] == v, metric]) for v in variants]
        axes.boxplot(values, positions=range(len(variants)), widths=0.5, showfliers=False)
        for j, points in enumerate(values):
            jitter = np.linspace(-0.12, 0.12, len(points)) if len(points) > 1 else np.zeros(len(points))
            axes.scatter(j + jitter, points, s=12, alpha=0.7, zorder=3, color=f"C{j}")
        axes.set_xticks(range(len(variants)), variants, rotation=30, fontsize=7)
        axes.set_title(f"final {metric} (one dot per seed)", fontsize=8)
    return figure


def _finite(column: pd.Series) -> np.ndarray:
    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
    return values[np.isfinite(values)]


def _curves_figure(rows: pd.DataFrame, histories: dict[str, dict]) -> Figure | None:
    """Learning curves (mean ± std over seeds per variant), and for WGAN variants the critic's
    estimate against the exact W1 at each evaluation: the estimate is only useful if they move together."""
    groups = dict(list(rows.groupby("variant", sort=False)))
    by_variant = {
        variant: [histories[r] for r in group["run_id"] if r in histories]
        for variant, group in groups.items()
    }
    seen = {name for runs in by_variant.values() for history in runs for name in history if history[name]}
    panels = [c for c in CURVES if c in seen] + (["critic_w vs w1"] if {"critic_w", "w1"} <= seen else [])
    if not panels:
        return None
    figure, axes_list = _panels(len(panels))
    for axes, panel in zip(axes_list, panels, strict=True):
        for j, (variant, runs) in enumerate(by_variant.items()):  # colour j: as in the finals figure
            if panel == "critic_w vs w1":
                _critic_scatter(axes, runs, _corr_label(variant, groups[variant]), f"C{j}")
            else:
                _mean_band(axes, [h.get(panel, []) for h in runs], str(variant), f"C{j}")
        axes.set_title(panel, fontsize=8)
        axes.set_xlabel("exact w1" if panel == "critic_w vs w1" else "generator step", fontsize=7)
        if axes.get_legend_handles_labels()[0]:
            axes.legend(fontsize=6)
    return figure


def _mean_band(axes, curves: list[list], label: str, color: str) -> None:
    """Mean ± std over the runs that have a finite value at each step (diverged runs drop out)."""
    points = [(step, value) for curve in curves for step, value in curve]
    if not points:  # reference rows have no curves
        return
    frame = pd.DataFrame(points, columns=["step", "value"]).apply(pd.to_numeric, errors="coerce")
    frame = frame[np.isfinite(frame["value"])]
    if frame.empty:
        return
    stats = frame.groupby("step")["value"].agg(["mean", "std"]).fillna(0.0)
    axes.plot(stats.index, stats["mean"], label=f"{label} (n={len(curves)})", color=color)
    axes.fill_between(
        stats.index, stats["mean"] - stats["std"], stats["mean"] + stats["std"], alpha=0.2, color=color
    )


def _corr_label(variant: str, rows: pd.DataFrame) -> str:
    """Clipped critics estimate W1 only up to a scale, so the label carries the rank correlation."""
    corr = _finite(rows["w_quality_corr"]) if "w_quality_corr" in rows else np.array([])
    return f"{variant} (mean Spearman {corr.mean():.2f})" if len(corr) else str(variant)


def _critic_scatter(axes, histories: list[dict], label: str, color: str) -> None:
    """The critic's estimate near each evaluation against the exact W1 then (WGAN variants only:
    other losses record no critic_w)."""
    xs, ys = [], []
    for history in histories:
        critic = np.asarray(history.get("critic_w", []), dtype=float).reshape(-1, 2)
        if not len(critic):
            continue
        for step, w1 in history.get("w1", []):
            xs.append(w1)
            ys.append(critic[np.argmin(np.abs(critic[:, 0] - step)), 1])
    if xs:
        axes.scatter(xs, ys, s=8, alpha=0.6, label=label, color=color)
        axes.set_ylabel("critic estimate", fontsize=7)


def _img(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return f"<img alt='figure' src='data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}'/>"
