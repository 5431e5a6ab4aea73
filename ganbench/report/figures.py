"""The page's pictures, per dataset: final metrics per seed with bootstrap intervals, learning
curves, the critic's Wasserstein estimate, final samples (or, for old output dirs, the MLflow
sample pictures), each encoded as a base64 PNG. Bare Agg Figures: no pyplot state, no display."""

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
from ganbench.metrics import metric_info, shown_metrics
from ganbench.plots import tile_images
from ganbench.report.intervals import bootstrap_interval, bounds_of, clip
from ganbench.report.tables import _text
from ganbench.results import RunRecord
from ganbench.suite import REFERENCES

PER_ROW = 4  # panels per row of a figure
DPI = 120  # >= 110 so that text stays sharp
FONT_PT = 8.0  # the smallest text in a figure: 8 pt at 120 dpi = 13 px (>= 9 px at any dpi >= 82)
SAMPLE_PANELS = 8  # variants with a sample panel per dataset (the first ones)
REFERENCE_STYLE = {"noise": ("#777777", "--"), "data": ("#2e7d32", ":")}


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
    metrics = [
        m for m in shown_metrics() if m in rows and len(_finite(rows.loc[rows["variant"].isin(variants), m]))
    ]
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
    # Learning curves of the shown metrics computed at each evaluation (not the training ones).
    panels = [c for c in shown_metrics() if c in seen and metric_info(c).stage == "samples"]
    if not panels:
        return None
    figure, axes_list = _panels(len(panels))
    for axes, metric in zip(axes_list, panels, strict=True):
        bounds = bounds_of(metric)
        for j, (variant, runs) in enumerate(by_variant.items()):
            frame = _history_frame([h.get(metric, []) for h in runs])
            if frame.empty:
                continue
            spread = frame.groupby("step")["value"].agg(["mean", "std"]).fillna(0.0)
            axes.plot(
                spread.index,
                spread["mean"],
                label=f"{variant} (n={len(runs)})",
                color=f"C{j}",
                marker="o" if len(spread) <= 12 else None,  # a few evaluations: show each
                markersize=3,
            )
            low = clip(spread["mean"] - spread["std"], bounds)
            high = clip(spread["mean"] + spread["std"], bounds)
            axes.fill_between(spread.index, low, high, alpha=0.2, color=f"C{j}")
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


def _samples_figure(
    out_dir: Path, rows: pd.DataFrame, records: dict[str, RunRecord]
) -> dict[str, Any] | None:
    """Each variant's final samples (its first seed that has them): points over the mode centres
    for 2-D data, an image grid for images."""
    panels = []
    for variant in _variants(rows):
        candidates = rows[rows["variant"] == variant].sort_values("seed")
        for row in candidates.itertuples():
            found = samples_store.load(out_dir, str(row.run_id))
            if found is not None and len(found):
                panels.append((variant, int(row.seed), found, records.get(str(row.run_id))))
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
            _image_grid(axes, points)
        _style(axes, f"{variant} (seed {seed})")
    caption = (
        "Final samples of each variant's first seed: generated points (blue) over the mode centres "
        "(red crosses) for 2-D data, a grid of generated images for images."
    )
    return _encode(figure, "final samples per variant", caption)


def _centres(record: RunRecord | None) -> np.ndarray | None:
    data = record.spec.get("data") if record is not None else None
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


def _image_grid(axes, images: np.ndarray) -> None:
    tiles = tile_images(images)
    axes.imshow(tiles.squeeze(), cmap="gray" if tiles.shape[2] == 1 else None)
    axes.axis("off")


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
