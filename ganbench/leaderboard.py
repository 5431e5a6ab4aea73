"""Leaderboard: aggregate runs.csv over seeds, render it, and gate CI on a baseline.

``aggregate`` turns one row per run into one row per variant x dataset x metric with the spread
over seeds. Failed runs carry no metrics and are left out; diverged runs keep their last metrics
(they are results) and are counted in the ``diverged`` column of their cell. The variant-level
``divergence_rate`` gets its own row per cell, with a Wilson interval instead of the t interval
(a t interval of a 0/1 mean is poor for a handful of seeds and can leave [0, 1]).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ganbench.metrics import metric_info
from ganbench.results import metric_columns
from ganbench.suite import ToleranceConfig

CELL = ("variant", "dataset")  # a leaderboard cell; configs add the config
KEYS = [*CELL, "metric"]  # a leaderboard row
# healthy: runs of the cell classified healthy (ganbench.health); configs: sweep configurations
# pooled in the cell; vs_noise: whether the cell's mean beats the noise reference's
# ("better" / "not better"; empty for the references and metrics noise is not scored on).
COLUMNS = [
    *KEYS,
    "n",
    "mean",
    "std",
    "ci95_low",
    "ci95_high",
    "median",
    "diverged",
    "healthy",
    "configs",
    "vs_noise",
]
REFERENCE_ROWS = ("noise", "data")

# Without a suite tolerance: 3 standard errors of the baseline mean, and an absolute floor so that
# zero-variance metrics (e.g. every seed covers 8 modes) do not fail on float noise.
DEFAULT_TOLERANCE = ToleranceConfig(k_se=3.0, absolute=1e-6)


def diverged_flags(runs: pd.DataFrame) -> pd.Series:
    """True for diverged runs: by status, or by the 0/1 ``diverged`` metric when it is there."""
    flags = runs["status"].eq("diverged")
    if "diverged" in runs:
        flags |= pd.to_numeric(runs["diverged"], errors="coerce").fillna(0).gt(0)
    return flags


# ----------------------------------------------------------------------------- aggregation


def aggregate(runs: pd.DataFrame, by: tuple[str, ...] = CELL) -> pd.DataFrame:
    """One row per cell (`by`: variant x dataset) x metric: n, mean, std, t-based ci95, median,
    diverged, healthy, configs and vs_noise, sorted by dataset, metric and variant."""
    done = runs[~runs["status"].isin(["failed", "killed"])].assign(
        diverged=lambda f: diverged_flags(f).astype(float),
        healthy=lambda f: f["health"].isin(["healthy", "reference"]) if "health" in f else True,
        config=lambda f: f["config"].fillna("").astype(str) if "config" in f else "",
    )
    cells = done.groupby(list(by), sort=False)
    counts = pd.concat(
        [
            cells["diverged"].sum().astype(int).rename("diverged"),
            cells["healthy"].sum().astype(int).rename("healthy"),
            cells["config"].nunique().rename("configs"),
        ],
        axis=1,
    )
    table = pd.concat([_metric_rows(done, by), _divergence_rows(done, by)], ignore_index=True)
    table = table.join(counts, on=list(by))
    table["vs_noise"] = _versus_noise(table)
    return (
        table[[*by, *COLUMNS[2:]]]
        .sort_values(["dataset", "metric", "variant"], kind="stable")
        .reset_index(drop=True)
    )


def aggregate_configs(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per variant x config x dataset x metric, for swept variants (leaderboard_configs.csv),
    grouped by config in the order configs first appear."""
    swept = runs[runs["config"].fillna("").astype(str).ne("")] if "config" in runs else runs.iloc[:0]
    if swept.empty:
        return pd.DataFrame(columns=["variant", "config", *COLUMNS[1:]])
    table = aggregate(swept, by=("variant", "config", "dataset"))
    order = {config: i for i, config in enumerate(swept["config"].astype(str).unique())}
    table = table.sort_values("config", key=lambda c: c.map(order), kind="stable")
    return table.reset_index(drop=True)


def _versus_noise(table: pd.DataFrame) -> pd.Series:
    noise = table[table["variant"] == "noise"].set_index(["dataset", "metric"])["mean"]
    out = []
    for variant, dataset, metric, mean in zip(
        table["variant"], table["dataset"], table["metric"], table["mean"], strict=True
    ):
        reference = noise.get((dataset, metric), np.nan)
        if variant in REFERENCE_ROWS or not (np.isfinite(reference) and np.isfinite(mean)):
            out.append("")
            continue
        better = mean > reference if metric_info(metric).higher_is_better else mean < reference
        out.append("better" if better else "not better")
    return pd.Series(out, index=table.index, dtype=object)


def not_better_than_noise(table: pd.DataFrame, metrics: tuple[str, ...] = ("w1", "fid")) -> pd.DataFrame:
    """Cells of the quality metrics (exact W1, FID) where a variant does not beat uniform noise."""
    return table[table["metric"].isin(metrics) & table["vs_noise"].eq("not better")]


def _metric_rows(done: pd.DataFrame, by: tuple[str, ...]) -> pd.DataFrame:
    metrics = [m for m in metric_columns(done.columns) if m != "diverged"]
    values = done[metrics].astype(float).replace([np.inf, -np.inf], np.nan)  # non-finite: not measured
    long = pd.concat([done[list(by)], values], axis=1).melt(list(by), var_name="metric")
    cells = long.groupby([*by, "metric"], sort=False)["value"].agg(
        n="count", mean="mean", std="std", median="median"
    )
    cells = cells.reset_index()
    # A metric nobody on this dataset reports (FID on a toy set) is not a cell; one that only some
    # variants lack (all their runs blew up to NaN) stays, with n = 0, so the gate notices.
    peers = [key for key in by if key != "variant"] + ["metric"]
    cells = cells[cells.groupby(peers)["n"].transform("sum") > 0]
    half = stats.t.ppf(0.975, cells["n"] - 1) * cells["std"] / np.sqrt(cells["n"])
    return cells.assign(ci95_low=cells["mean"] - half, ci95_high=cells["mean"] + half)


def _divergence_rows(done: pd.DataFrame, by: tuple[str, ...]) -> pd.DataFrame:
    done = done[~done["variant"].isin(REFERENCE_ROWS)]
    rate = metric_info("divergence_rate").compute  # the registered variant-scope computation
    cells = done.groupby(list(by), sort=False)["diverged"].agg(
        n="count", k="sum", mean=lambda flags: rate(list(flags)), std="std", median="median"
    )
    ci = [
        stats.binomtest(int(k), int(n)).proportion_ci(method="wilson")
        for k, n in zip(cells["k"], cells["n"], strict=True)
    ]
    cells["ci95_low"] = [c.low for c in ci]
    cells["ci95_high"] = [c.high for c in ci]
    return cells.drop(columns="k").reset_index().assign(metric="divergence_rate")


# ----------------------------------------------------------------------------- markdown


def to_markdown(leaderboard: pd.DataFrame, claims: pd.DataFrame | None = None) -> str:
    """leaderboard.md: a `mean ± std` table per dataset (variants as rows), then the claims."""
    parts = [
        "# Leaderboard",
        "",
        "mean ± std over seeds (and sweep configurations). `noise`: uniform over the data's bounding box; "
        "`data`: fresh real samples. healthy: runs classified healthy / runs. "
        "† the variant does not beat noise on this quality metric.",
        "",
    ]
    for dataset, cells in leaderboard.groupby("dataset", sort=False):
        parts += [f"## {dataset}", "", _dataset_table(cells).to_markdown(index=False), ""]
    if claims is not None and len(claims):
        parts += ["## Claims", "", _claims_table(claims).to_markdown(index=False, disable_numparse=True), ""]
    return "\n".join(parts)


def _dataset_table(cells: pd.DataFrame) -> pd.DataFrame:
    # Per-run oscillation columns are diagnostics; the main table shows final values only.
    main = cells[~cells["metric"].str.endswith("_osc")]
    text = [
        _cell_text(*row) + (" †" if vs == "not better" and metric in ("w1", "fid") else "")
        for *row, vs in zip(
            main["metric"],
            main["n"],
            main["mean"],
            main["std"],
            main["diverged"],
            main["vs_noise"],
            strict=True,
        )
        for metric in [row[0]]
    ]
    wide = main.assign(text=text).pivot(index="variant", columns="metric", values="text")
    order = [m for m in pd.unique(main["metric"]) if m != "divergence_rate"] + ["divergence_rate"]
    wide = wide.reindex(columns=[m for m in order if m in wide]).fillna("–")
    per_variant = cells.groupby("variant").agg(healthy=("healthy", "first"), runs=("n", "max"))
    wide.insert(
        0, "healthy", [f"{per_variant.at[v, 'healthy']}/{per_variant.at[v, 'runs']}" for v in wide.index]
    )
    # References first, then variants: every row is read against "noise" and "data".
    rows = [v for v in REFERENCE_ROWS if v in wide.index] + [v for v in wide.index if v not in REFERENCE_ROWS]
    return wide.loc[rows].reset_index()


def _cell_text(metric: str, n: int, mean: float, std: float, diverged: int) -> str:
    if metric == "divergence_rate":  # "1/5" says more than 0.2 ± 0.45
        return f"{diverged}/{n}"
    if not np.isfinite(mean):
        return "–"
    return f"{mean:.4g} ± {std:.2g}" if np.isfinite(std) else f"{mean:.4g}"


def _claims_table(claims: pd.DataFrame) -> pd.DataFrame:
    """The claims as leaderboard.md shows them; tolerates a claims.csv from before a column existed."""

    def verdict(row: pd.Series) -> str:  # bold where `check` fails
        return row["verdict"] if row["verdict"] == row["expected"] else f"**{row['verdict']}**"

    def column(name: str, default: object = np.nan) -> pd.Series:
        return claims[name] if name in claims else pd.Series(default, index=claims.index)

    def number(values: pd.Series, fmt: str) -> pd.Series:
        return pd.to_numeric(values, errors="coerce").map(lambda v: format(v, fmt) if np.isfinite(v) else "–")

    protocol = column("protocol", "pooled").fillna("pooled")
    test = column("test", "").fillna("").astype(str)
    return pd.DataFrame(
        {
            "claim": claims["text"].where(claims["text"].fillna("").ne(""), claims["id"]),
            "dataset": claims["dataset"],
            "verdict": claims.apply(verdict, axis=1),
            "expected": claims["expected"],
            "test": test.where(protocol.eq("pooled"), test + ", " + protocol.astype(str)),
            "p-value": number(claims["p_value"], ".3g"),
            "p adjusted": number(column("p_adjusted"), ".3g"),
            "effect size": number(claims["effect_size"], "+.2f"),
            "n (better/worse)": claims["n_better"].astype(str) + "/" + claims["n_worse"].astype(str),
            "stability": number(column("stability"), ".0%"),
            "note": column("note", "").fillna("").astype(str),
        }
    )


# ----------------------------------------------------------------------------- regression gate


def compare_to_baseline(
    leaderboard: pd.DataFrame, baseline: pd.DataFrame, tolerance: ToleranceConfig | None = None
) -> pd.DataFrame:
    """Each baseline cell against the current leaderboard; ``ok`` is False outside the band.

    The band is two-sided: an unexplained improvement is a change of behaviour too, and is
    accepted by committing a new baseline. A baseline cell missing now is a regression.
    """
    tol = tolerance or DEFAULT_TOLERANCE
    base = baseline if tol.metrics is None else baseline[baseline["metric"].isin(tol.metrics)]
    base = base[[*KEYS, "mean", "std", "n"]].rename(columns={"mean": "baseline_mean"})
    merged = base.merge(leaderboard[[*KEYS, "mean"]], on=KEYS, how="left", indicator=True)
    delta = merged["mean"] - merged["baseline_mean"]
    band = _band(merged, tol)
    # A cell with no finite value in both (every run NaN) is unchanged, not a regression.
    unchanged = merged["mean"].isna() & merged["baseline_mean"].isna()
    ok = merged["_merge"].eq("both") & (delta.abs().le(band) | unchanged)
    out = merged.assign(delta=delta, band=band, ok=ok)
    return out[[*KEYS, "baseline_mean", "mean", "delta", "band", "ok"]].reset_index(drop=True)


def _band(base: pd.DataFrame, tol: ToleranceConfig) -> pd.Series:
    """Half-width per row: the widest of the tolerance kinds given (a missing std counts as 0)."""
    widths = []
    if tol.absolute is not None:
        widths.append(pd.Series(tol.absolute, index=base.index))
    if tol.relative is not None:
        widths.append(tol.relative * base["baseline_mean"].abs())
    if tol.k_se is not None:
        widths.append(tol.k_se * base["std"] / np.sqrt(base["n"]))
    return pd.concat(widths, axis=1).max(axis=1).fillna(0.0)
