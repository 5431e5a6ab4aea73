"""The named objective: one metric, on one dataset (or all of the suite's), aggregated over a
trial's runs, in the direction the metric catalogue gives (``ganbench list`` shows it).

A trial's score is the mean over its runs (seeds x datasets, and x configurations when the tuned
variant is swept) of each run's final value. A diverged run counts as the metric's registered
worst value (0 modes covered, ...): divergence is a property of the hyperparameters, and must
never be rewarded. A metric with no finite worst (w1, FID) cannot score a diverged run; such a
trial has no value and is marked pruned (TPE ranks pruned trials below complete ones). No pruner
runs: a trial trains all its seeds as one ensemble in a worker, so its value exists only at the
end, when there is nothing left to save by stopping it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ganbench.errors import BadInput
from ganbench.metrics import MetricInfo, metric_info
from ganbench.registry import METRICS, UnknownName
from ganbench.suite import ObjectiveConfig, Suite


class TrialFailed(Exception):
    """A run of the trial failed (raised, crashed): the trial is marked FAIL, the study goes on."""


@dataclass(frozen=True)
class Objective:
    metric: MetricInfo
    dataset: str | None  # label; None: every dataset of the suite
    source: str = ""  # the suite file, named in error messages

    @classmethod
    def of(cls, suite: Suite, config: ObjectiveConfig | None = None) -> Objective:
        """The suite's `tune.objective` (or `config`), its metric checked against the catalogue."""
        config = config or suite.file.tune.objective
        where = f"{suite.path}: tune.objective"
        try:
            info = metric_info(config.metric)
        except UnknownName as err:
            raise BadInput(f"{where}.metric: {err}") from None
        if info.scope != "run":  # the registry says: one value per variant, not per run
            raise BadInput(
                f"{where}.metric: {info.name!r} describes a variant, not a run; name a per-run metric"
            )
        if config.dataset is not None and config.dataset not in suite.datasets:
            raise BadInput(f"{where}.dataset: no dataset labelled {config.dataset!r} in the suite")
        return cls(info, config.dataset, str(suite.path))

    @property
    def direction(self) -> str:
        return "maximize" if self.metric.higher_is_better else "minimize"

    def describe(self) -> str:
        on = f"on {self.dataset}" if self.dataset else "over every dataset"
        return f"mean final {self.metric.name} {on} ({self.direction})"

    def run_values(self, runs: pd.DataFrame, variant: str) -> list[float]:
        """Each of the variant's runs' final value; a diverged run (or a non-finite value) counts
        as the worst, NaN when the metric has none. Failed runs raise TrialFailed."""
        rows = runs[runs["variant"] == variant] if not runs.empty else runs
        if self.dataset is not None and not rows.empty:
            rows = rows[rows["dataset"] == self.dataset]
        failed = rows[rows["status"] == "failed"] if not rows.empty else rows
        if len(failed):
            raise TrialFailed(f"{len(failed)} of {len(rows)} runs failed: {failed['error'].iloc[0]}")
        if rows.empty:
            raise TrialFailed("the trial has no runs")
        if self.metric.name not in rows.columns:
            raise BadInput(
                f"{self.source}: tune.objective.metric: {self.metric.name!r} is not a metric of these "
                f"runs; they report {', '.join(c for c in rows.columns if c in METRICS)}"
            )
        return [self._value(row) for _, row in rows.iterrows()]

    def _value(self, row: Any) -> float:
        value = row[self.metric.name]
        if row["status"] == "finished" and isinstance(value, (int, float)) and math.isfinite(value):
            return float(value)
        return math.nan if self.metric.worst is None else float(self.metric.worst)

    def score(self, values: list[float]) -> float:
        """The trial's value: the mean over its runs (NaN when any run has none)."""
        return float(np.mean(values))

    def better(self, a: float, b: float) -> bool:
        return a > b if self.metric.higher_is_better else a < b
