"""`ganbench report DIR`: one self-contained HTML page from a finished output dir.

Tables come from runs.csv, leaderboard.csv and claims.csv; the pictures (final metrics per seed,
learning curves with spread over seeds, the critic's estimate against the exact W1) from the run
records' histories. Images are embedded as base64 PNGs so the file can be mailed or published.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ganbench.errors import BadInput
from ganbench.runner import store

CURVES = ("w1", "modes_covered")


def write_report(out_dir: Path, output: Path | None = None) -> Path:
    out_dir = Path(out_dir)
    runs_csv = out_dir / "runs.csv"
    if not runs_csv.exists():
        raise BadInput(f"{runs_csv}: no runs.csv here; run `ganbench run SUITE --out {out_dir}` first")
    runs = pd.read_csv(runs_csv)
    records = store.load(out_dir)
    parts = [f"<h1>ganbench report: {html.escape(', '.join(map(str, runs['suite'].unique())))}</h1>"]
    parts.append(f"<p>{len(runs)} runs: {html.escape(runs['status'].value_counts().to_string())}</p>")
    for name in ("claims", "leaderboard"):
        path = out_dir / f"{name}.csv"
        if path.exists() and path.stat().st_size > 1:
            parts.append(f"<h2>{name}</h2>" + pd.read_csv(path).to_html(index=False, float_format="%.4g"))
    for dataset, rows in runs.groupby("dataset"):
        parts.append(f"<h2>{html.escape(str(dataset))}</h2>")
        parts.append(_img(_finals_figure(rows)))
        histories = {r: records[r]["history"] for r in rows["run_id"] if r in records}
        parts.append(_img(_curves_figure(rows, histories)))
    output = Path(output) if output else out_dir / "report.html"
    style = "body{font-family:sans-serif;max-width:1100px;margin:auto} table{border-collapse:collapse;font-size:12px} td,th{padding:2px 6px;border:1px solid #ccc}"
    output.write_text(f"<!doctype html><html><head><meta charset='utf-8'><style>{style}</style></head><body>{''.join(parts)}</body></html>")
    return output


def _finals_figure(rows: pd.DataFrame) -> Figure:
    metrics = [m for m in ("modes_covered", "hq_share", "reverse_kl", "w1", "fid", "classifier_fid") if m in rows]
    figure = Figure(figsize=(3.2 * max(1, len(metrics)), 3), dpi=80)
    variants = sorted(rows["variant"].unique())
    for i, metric in enumerate(metrics):
        axes = figure.add_subplot(1, len(metrics), i + 1)
        for j, variant in enumerate(variants):
            values = rows.loc[rows["variant"] == variant, metric].to_numpy(dtype=float)
            axes.scatter(np.full(len(values), j), values, s=14, alpha=0.7)
            axes.hlines(np.nanmean(values) if len(values) else np.nan, j - 0.3, j + 0.3, color="black")
        axes.set_xticks(range(len(variants)), variants, rotation=30, fontsize=7)
        axes.set_title(f"final {metric} (one dot per seed)", fontsize=8)
    return figure


def _curves_figure(rows: pd.DataFrame, histories: dict[str, dict]) -> Figure:
    figure = Figure(figsize=(12, 3), dpi=80)
    panels = [*CURVES, "critic_w vs w1"]
    for i, panel in enumerate(panels):
        axes = figure.add_subplot(1, len(panels), i + 1)
        for variant, group in rows.groupby("variant"):
            series = [histories[r] for r in group["run_id"] if r in histories]
            if panel == "critic_w vs w1":
                _critic_scatter(axes, series, str(variant))
            else:
                _mean_band(axes, [h.get(panel, []) for h in series], str(variant))
        axes.set_title(panel, fontsize=8)
        axes.legend(fontsize=6)
    return figure


def _mean_band(axes, curves: list[list], label: str) -> None:
    curves = [np.asarray(c, dtype=float) for c in curves if len(c)]
    if not curves:
        return
    length = min(len(c) for c in curves)
    stacked = np.stack([c[:length] for c in curves])  # [seeds, points, (step, value)]
    steps, values = stacked[0, :, 0], stacked[:, :, 1]
    mean, std = np.nanmean(values, axis=0), np.nanstd(values, axis=0)
    axes.plot(steps, mean, label=label)
    axes.fill_between(steps, mean - std, mean + std, alpha=0.2)


def _critic_scatter(axes, histories: list[dict], label: str) -> None:
    """The critic's estimate near each evaluation against the exact W1 then (WGAN variants)."""
    xs, ys = [], []
    for history in histories:
        critic = np.asarray(history.get("critic_w", []), dtype=float)
        for step, w1 in history.get("w1", []) if len(critic) else []:
            nearest = critic[np.argmin(np.abs(critic[:, 0] - step)), 1]
            xs.append(w1)
            ys.append(nearest)
    if xs:
        axes.scatter(xs, ys, s=8, alpha=0.6, label=label)
        axes.set_xlabel("exact w1", fontsize=7)


def _img(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return f"<img src='data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}'/>"
