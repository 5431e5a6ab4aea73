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
published; the page is rendered from a Jinja2 template (templates/report.html.j2) and has no
script. Figures are bare Agg Figures: no pyplot state, nothing that needs a display.
"""

from __future__ import annotations

import base64
import io
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator

from ganbench import samples as samples_store
from ganbench.errors import BadInput
from ganbench.files import read_runs_csv
from ganbench.plots import image_grid
from ganbench.runner import store
from ganbench.suite import REFERENCES

# Final metrics drawn per dataset (those the runs report), and the ones drawn as learning curves.
FINALS = (
    "modes_covered",
    "modes_fair",
    "hq_share",
    "reverse_kl",
    "w1",
    "w_quality_corr",
    "classes_covered",
    "classifier_fid",
    "class_kl",
    "fid",
    "kid_mean",
    "is_mean",
)
CURVES = ("w1", "modes_covered", "hq_share", "classifier_fid", "fid", "classes_covered")
PER_ROW = 4  # panels per row of a figure
DPI = 120  # >= 110 so that text stays sharp
FONT_PT = 8.0  # the smallest text in a figure: 8 pt at 120 dpi = 13 px (>= 9 px at any dpi >= 82)
LEVEL = 0.95  # of the bootstrap intervals
RESAMPLES = 2000
BOOTSTRAP_SEED = 0  # the page is a function of the output dir: same intervals every time
SAMPLE_PANELS = 8  # variants with a sample panel per dataset (the first ones)

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
REFERENCE_STYLE = {"noise": ("#777777", "--"), "data": ("#2e7d32", ":")}


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
    histories = {run_id: rec.get("history", {}) for run_id, rec in records.items()}
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


# ----------------------------------------------------------------------------- tables


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


# ----------------------------------------------------------------------------- intervals


def bounds_of(metric: str) -> tuple[float | None, float | None]:
    """The metric's range from the catalogue; unbounded for names it does not know."""
    from ganbench.metrics import metric_info
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
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    means = x[rng.integers(0, len(x), size=(RESAMPLES, len(x)))].mean(axis=1)
    low, high = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return clip(low, bounds), clip(high, bounds)


# ----------------------------------------------------------------------------- figures


def _panels(n: int, height: float = 3.0, per_row: int = PER_ROW) -> tuple[Figure, list]:
    cols, rows = min(per_row, n), math.ceil(n / per_row)
    figure = Figure(figsize=(3.6 * cols, height * rows), dpi=DPI, layout="constrained")
    return figure, [figure.add_subplot(rows, cols, i + 1) for i in range(n)]


def _style(axes, title: str, xlabel: str = "", ylabel: str = "") -> None:
    axes.set_title(title, fontsize=FONT_PT + 1)
    axes.set_xlabel(xlabel, fontsize=FONT_PT)
    axes.set_ylabel(ylabel, fontsize=FONT_PT)
    axes.tick_params(labelsize=FONT_PT)


def _legend(axes) -> None:
    if axes.get_legend_handles_labels()[0]:
        axes.legend(fontsize=FONT_PT, framealpha=0.8)


def _finite(column: pd.Series) -> np.ndarray:
    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
    return values[np.isfinite(values)]


def _variants(rows: pd.DataFrame) -> list[str]:
    return [v for v in dict.fromkeys(rows["variant"]) if v not in REFERENCES]


def _reference_means(rows: pd.DataFrame, metric: str) -> dict[str, float]:
    means = {}
    for name in REFERENCES:
        if metric in rows:
            values = _finite(rows.loc[rows["variant"] == name, metric])
            if len(values):
                means[name] = float(values.mean())
    return means


def _reference_lines(axes, references: dict[str, float]) -> None:
    for name, value in references.items():
        colour, style = REFERENCE_STYLE[name]
        axes.axhline(value, color=colour, linestyle=style, linewidth=1.2, label=f"{name} reference")


def _finals_figure(rows: pd.DataFrame) -> dict[str, Any] | None:
    """Per metric: every seed as a dot, the mean as a bar with its bootstrap interval over seeds
    (clipped to the metric's range), the references as horizontal lines."""
    variants = _variants(rows)
    metrics = [m for m in FINALS if m in rows and len(_finite(rows.loc[rows["variant"].isin(variants), m]))]
    if not metrics or not variants:
        return None
    figure, axes_list = _panels(len(metrics), height=3.2)
    for axes, metric in zip(axes_list, metrics, strict=True):
        bounds = bounds_of(metric)
        for j, variant in enumerate(variants):
            points = _finite(rows.loc[rows["variant"] == variant, metric])
            if not len(points):
                continue
            jitter = np.linspace(-0.15, 0.15, len(points)) if len(points) > 1 else np.zeros(1)
            axes.scatter(j + jitter, points, s=14, alpha=0.6, color=f"C{j}", zorder=3)
            interval = bootstrap_interval(points, bounds)
            mean = float(points.mean())
            if interval is not None:
                low, high = interval
                axes.errorbar(
                    j + 0.28,
                    mean,
                    yerr=[[max(mean - low, 0.0)], [max(high - mean, 0.0)]],
                    fmt="o",
                    color="black",
                    markersize=4,
                    capsize=3,
                    zorder=4,
                )
            else:
                axes.plot(j + 0.28, mean, "o", color="black", markersize=4, zorder=4)
        _reference_lines(axes, _reference_means(rows, metric))
        axes.set_xticks(range(len(variants)), variants, rotation=25, ha="right")
        _style(axes, f"final {metric}")
        _legend(axes)
    caption = (
        "Final metrics: one dot per seed; black: the mean over seeds with its 95% percentile "
        "bootstrap interval, clipped to the metric's range; dashed grey: the noise reference, dotted "
        "green: the data reference (fresh real samples)."
    )
    return _encode(figure, "final metrics per variant", caption)


def _history_frame(curves: list[list]) -> pd.DataFrame:
    points = [(step, value) for curve in curves for step, value in curve]
    frame = pd.DataFrame(points, columns=["step", "value"]).apply(pd.to_numeric, errors="coerce")
    return frame[np.isfinite(frame["value"])]


def _by_variant(rows: pd.DataFrame, histories: dict[str, dict]) -> dict[str, list[dict]]:
    return {
        variant: [histories[r] for r in rows.loc[rows["variant"] == variant, "run_id"] if r in histories]
        for variant in _variants(rows)
    }


def _curves_figure(rows: pd.DataFrame, histories: dict[str, dict]) -> dict[str, Any] | None:
    """Learning curves: mean ± std over the seeds that have a finite value at each evaluation
    (diverged runs drop out), the band clipped to the metric's range."""
    by_variant = _by_variant(rows, histories)
    seen = {name for runs in by_variant.values() for history in runs for name in history if history[name]}
    panels = [c for c in CURVES if c in seen]
    if not panels:
        return None
    figure, axes_list = _panels(len(panels))
    for axes, metric in zip(axes_list, panels, strict=True):
        bounds = bounds_of(metric)
        for j, (variant, runs) in enumerate(by_variant.items()):
            frame = _history_frame([h.get(metric, []) for h in runs])
            if frame.empty:
                continue
            stats = frame.groupby("step")["value"].agg(["mean", "std"]).fillna(0.0)
            axes.plot(
                stats.index,
                stats["mean"],
                label=f"{variant} (n={len(runs)})",
                color=f"C{j}",
                marker="o" if len(stats) <= 12 else None,  # a few evaluations: show each
                markersize=3,
            )
            low = clip(stats["mean"] - stats["std"], bounds)
            high = clip(stats["mean"] + stats["std"], bounds)
            axes.fill_between(stats.index, low, high, alpha=0.2, color=f"C{j}")
        _reference_lines(axes, _reference_means(rows, metric))
        _style(axes, metric, "generator step")
        _legend(axes)
    caption = (
        "Learning curves: mean over seeds with a ± 1 std band (clipped to the metric's range); "
        "horizontal lines: the noise (dashed) and data (dotted) references' final values."
    )
    return _encode(figure, "learning curves", caption)


def _critic_figure(rows: pd.DataFrame, histories: dict[str, dict]) -> dict[str, Any] | None:
    """The critic's Wasserstein estimate on its own axis, over training and against the exact W1
    at each evaluation (a log axis where its values span decades): the estimate is only worth
    reading if it moves with the exact distance."""
    by_variant = {
        variant: runs
        for variant, runs in _by_variant(rows, histories).items()
        if any(h.get("critic_w") for h in runs)
    }
    if not by_variant:
        return None
    has_w1 = any(h.get("w1") for runs in by_variant.values() for h in runs)
    figure, axes_list = _panels(2 if has_w1 else 1, height=3.4, per_row=2)
    colours = {variant: f"C{j}" for j, variant in enumerate(_variants(rows))}
    over_steps, values = axes_list[0], []
    for variant, runs in by_variant.items():
        frame = _history_frame([h.get("critic_w", []) for h in runs])
        if frame.empty:
            continue
        mean = frame.groupby("step")["value"].mean()
        values += list(frame["value"])
        over_steps.plot(
            mean.index, mean.to_numpy(), color=colours[variant], label=f"{variant} (n={len(runs)})"
        )
    _scale(over_steps, values)
    _style(over_steps, "critic's estimate over training", "generator step", "mean D(real) - mean D(fake)")
    _legend(over_steps)
    if has_w1:
        against, values = axes_list[1], []
        for variant, runs in by_variant.items():
            xs, ys = _critic_vs_w1(runs)
            if xs:
                values += ys
                against.scatter(
                    xs, ys, s=9, alpha=0.6, color=colours[variant], label=_corr_label(variant, rows)
                )
        _scale(against, values)
        _style(against, "critic's estimate against the exact W1", "exact w1", "critic estimate")
        _legend(against)
    caption = (
        "The critic's Wasserstein estimate (WGAN losses only) on its own axis: over training (mean "
        "over seeds), and near each evaluation against the exact W1 of the samples (Spearman "
        "correlation per run, averaged, in the legend). A log (or symmetric log) axis is used where "
        "the values span decades."
    )
    return _encode(figure, "critic estimate", caption)


def _scale(axes, values: list[float]) -> None:
    """Log axis when the values are positive and span more than two decades; symmetric log when
    their magnitudes do and signs are mixed; linear otherwise."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    magnitudes = np.abs(v[v != 0])
    if len(magnitudes) < 2 or magnitudes.max() / magnitudes.min() <= 100:
        return
    if (v > 0).all():
        axes.set_yscale("log")
        return
    # Mixed signs: linear within the smallest decade, logarithmic beyond; ticks at 0 and at most
    # four decades a side (the default locator crowds them around the linear part).
    lowest = math.floor(math.log10(float(np.quantile(magnitudes, 0.1))))
    axes.set_yscale("symlog", linthresh=10.0**lowest, linscale=0.5)
    decades = list(range(lowest + 1, math.ceil(math.log10(float(magnitudes.max()))) + 1))
    decades = decades[::-1][:: max(1, math.ceil(len(decades) / 4))][::-1]
    limits = axes.get_ylim()
    axes.set_yticks(sorted([0.0, *(10.0**d for d in decades), *(-(10.0**d) for d in decades)]))
    axes.set_ylim(*limits)  # ticks beyond the data do not widen the axis
    axes.yaxis.set_minor_locator(NullLocator())


def _critic_vs_w1(histories: list[dict]) -> tuple[list[float], list[float]]:
    xs, ys = [], []
    for history in histories:
        critic = np.asarray(history.get("critic_w", []), dtype=float).reshape(-1, 2)
        if not len(critic):
            continue
        for step, w1 in history.get("w1", []):
            xs.append(w1)
            ys.append(float(critic[np.argmin(np.abs(critic[:, 0] - step)), 1]))
    return xs, ys


def _corr_label(variant: str, rows: pd.DataFrame) -> str:
    """Clipped critics estimate W1 only up to a scale, so the label carries the rank correlation."""
    corr = _finite(rows.loc[rows["variant"] == variant, "w_quality_corr"]) if "w_quality_corr" in rows else []
    return f"{variant} (Spearman {np.mean(corr):.2f})" if len(corr) else str(variant)


def _samples_figure(out_dir: Path, rows: pd.DataFrame, records: dict[str, dict]) -> dict[str, Any] | None:
    """Each variant's final samples (its first seed that has them): points over the mode centres
    for 2-D data, an image grid for images."""
    panels = []
    for variant in _variants(rows):
        candidates = rows[rows["variant"] == variant].sort_values("seed")
        for row in candidates.itertuples():
            found = samples_store.load(out_dir, str(row.run_id))
            if found is not None and len(found):
                panels.append((variant, int(row.seed), found, records.get(str(row.run_id), {})))
                break
        if len(panels) == SAMPLE_PANELS:
            break
    if not panels:
        return None
    figure, axes_list = _panels(len(panels), height=3.4)
    for axes, (variant, seed, points, record) in zip(axes_list, panels, strict=True):
        if points.ndim == 2:
            _scatter(axes, points, _centres(record))
        else:
            image_grid(axes, points)
        _style(axes, f"{variant} (seed {seed})")
    caption = (
        "Final samples of each variant's first seed: generated points (blue) over the mode centres "
        "(red crosses) for 2-D data, a grid of generated images for images."
    )
    return _encode(figure, "final samples per variant", caption)


def _centres(record: dict) -> np.ndarray | None:
    data = (record.get("spec") or {}).get("data")
    if not data:
        return None
    try:
        from ganbench.data import build_dataset

        centres = getattr(build_dataset(dict(data)), "centres", None)
    except Exception:  # noqa: BLE001 - a plugin dataset that no longer builds: draw no centres
        return None
    return None if centres is None else np.asarray(centres)


def _scatter(axes, points: np.ndarray, centres: np.ndarray | None) -> None:
    points = points[np.isfinite(points).all(axis=1)]
    axes.scatter(points[:, 0], points[:, 1], s=2, alpha=0.35, color="C0", label="generated", rasterized=True)
    if centres is not None and centres.shape[1] >= 2:
        axes.scatter(centres[:, 0], centres[:, 1], s=36, c="red", marker="x", label="modes")
        span = float(np.abs(centres).max()) * 1.5 + 0.5
        axes.set_xlim(-span, span)
        axes.set_ylim(-span, span)
    axes.set_aspect("equal")
    _legend(axes)


def _artifact_pictures(out_dir: Path, rows: pd.DataFrame) -> list[dict[str, str]]:
    """Output dirs without samples/*.npy: the MLflow pictures of each variant's first seed."""
    pictures = []
    root = out_dir / "mlartifacts"
    if not root.is_dir() or "mlflow_run_id" not in rows:
        return []
    for variant in _variants(rows):
        candidates = rows[rows["variant"] == variant].sort_values("seed")
        if any(samples_store.path_for(out_dir, str(r)).exists() for r in candidates["run_id"]):
            continue
        for row in candidates.itertuples():
            mlflow_id = _text(row.mlflow_run_id)
            found = sorted(root.glob(f"**/{mlflow_id}/artifacts/samples_*.png")) if mlflow_id else []
            if found:
                data = base64.b64encode(found[0].read_bytes()).decode()
                pictures.append({"alt": f"{variant} final samples", "src": f"data:image/png;base64,{data}"})
                break
    return pictures


def _encode(figure: Figure, alt: str, caption: str) -> dict[str, Any]:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    width, height = (int(round(v)) for v in figure.get_size_inches() * DPI)
    src = f"data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}"
    return {"alt": alt, "src": src, "caption": caption, "width": width, "height": height, "figure": figure}
