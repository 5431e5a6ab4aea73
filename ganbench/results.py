"""The run record: what one run produced, in memory (``RunResult``) and on disk (``RunRecord``).

``RunResult`` is what training (or a reference's evaluation) returns, samples and snapshots
included. ``RunRecord`` is its durable form: one JSON file per run id in ``records/``, and one
row of runs.csv (``to_row``). Every table is rebuilt from records, and every reader of a table
(leaderboard, check, report) splits a row back the same way (``RunRecord.from_row``): a column is
a metric only if the metric registry knows it; everything else is identity, a swept value (the
keys its ``config`` label names) or info (``n_real``, ``extractor``, ...).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np

from ganbench.metrics import is_metric
from ganbench.suite import RunSpec

DONE = ("finished", "diverged")  # results; "failed" runs are tried again
# runs.csv column order: FIRST, the swept key paths (after `config`), metrics, info, LAST.
FIRST = ["run_id", "suite", "dataset", "variant", "config", "seed", "status", "health", "steps_done"]
# compute_precision: fp32 | bf16 forwards, not the `precision` metric
LAST = ["wall_s", "device", "compute_precision", "mlflow_run_id", "error"]


@dataclass
class RunResult:
    spec: RunSpec
    status: str  # finished | diverged | failed | reference
    steps_done: int
    metrics: dict[str, float] = field(default_factory=dict)
    history: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    samples: np.ndarray | None = None
    snapshots: list[tuple[int, np.ndarray]] = field(default_factory=list)  # images: (step, grid samples)
    wall_s: float = 0.0
    device: str = "cpu"
    precision: str = "fp32"  # of the forward passes: fp32 | bf16 (autocast, float32 weights)
    info: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    health: str = ""  # see ganbench.health (set for finished and diverged runs)
    # When it ran (epoch seconds): training start and end, and the wall-clock time at each
    # evaluation's step (MLflow's run times and metric timestamps come from these).
    started_at: float = 0.0
    ended_at: float = 0.0
    step_times: list[tuple[int, float]] = field(default_factory=list)
    # The trained generator's weights: one row of the ensemble's flat parameter (the EMA weights
    # when the spec averages), float32; None for failed runs and references.
    generator: np.ndarray | None = None


@dataclass
class RunRecord:
    run_id: str
    suite: str
    dataset: str
    variant: str
    config: str
    seed: int
    status: str
    health: str
    steps_done: int
    metrics: dict[str, float]
    info: dict[str, Any] = field(default_factory=dict)
    swept: dict[str, Any] = field(default_factory=dict)
    wall_s: float = 0.0
    device: str = "cpu"
    compute_precision: str = "fp32"
    mlflow_run_id: str = ""
    error: str = ""  # the first line; the whole traceback is in MLflow
    history: dict[str, list[list[float]]] = field(default_factory=dict)
    spec: dict[str, Any] = field(default_factory=dict)  # the resolved spec the run id hashes
    started_at: float = 0.0  # epoch seconds (RunResult's); not in runs.csv
    ended_at: float = 0.0

    @classmethod
    def from_result(cls, result: RunResult, mlflow_run_id: str = "") -> RunRecord:
        spec = result.spec
        return cls(
            run_id=spec.run_id,
            suite=spec.suite,
            dataset=spec.dataset,
            variant=spec.variant,
            config=spec.config,
            seed=spec.seed,
            status=result.status,
            health=result.health,
            steps_done=result.steps_done,
            metrics=dict(result.metrics),
            info=dict(result.info),
            swept=dict(spec.swept),
            wall_s=round(result.wall_s, 3),
            device=result.device,
            compute_precision=result.precision,
            mlflow_run_id=mlflow_run_id,
            error=(result.error or "").splitlines()[0] if result.error else "",
            history={k: [list(p) for p in v] for k, v in result.history.items()},
            spec=spec.resolved(),
            started_at=result.started_at,
            ended_at=result.ended_at,
        )

    @property
    def done(self) -> bool:
        return self.status in DONE

    def to_json(self) -> str:
        # numpy scalars become Python numbers; NaN/inf stay JSON-readable.
        return json.dumps(asdict(self), default=lambda value: value.item())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRecord:
        """A record read back from JSON; unknown keys (from a newer ganbench) are ignored, and a
        dict that is no record raises ValueError (the store quarantines it)."""
        if not isinstance(data, dict):
            raise ValueError(f"not a JSON object but {type(data).__name__}")
        if not isinstance(data.get("status"), str) or not isinstance(data.get("metrics"), dict):
            raise ValueError("no status or metrics")
        known = {f.name for f in fields(cls)}
        try:
            return cls(**{k: v for k, v in data.items() if k in known})
        except TypeError as err:  # a required field is missing
            raise ValueError(" ".join(str(err).split())) from None

    def to_row(self) -> dict[str, Any]:
        """This run's runs.csv row (columns in ``FIRST``, swept, metrics, info, ``LAST`` order)."""
        row: dict[str, Any] = {key: getattr(self, key) for key in FIRST}
        row.update({path: _cell(value) for path, value in self.swept.items()})
        row.update(self.metrics)
        row.update(self.info)
        row.update({key: getattr(self, key) for key in LAST})
        return row

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> RunRecord:
        """The record a runs.csv row was made from, without its history and spec (which the row
        does not hold). Empty cells (another run's metric) are left out."""
        cells = {k: v for k, v in row.items() if not _empty(v)}
        config = str(cells.get("config", ""))
        swept_keys = {part.split("=", 1)[0] for part in config.split(",") if "=" in part}
        identity = set(FIRST) | set(LAST)
        return cls(
            **{k: cells.get(k, _DEFAULTS[k]) for k in FIRST + LAST},
            metrics={k: float(v) for k, v in cells.items() if k not in identity and is_metric(k)},
            swept={k: _uncell(v) for k, v in cells.items() if k in swept_keys},
            info={
                k: v
                for k, v in cells.items()
                if k not in identity and k not in swept_keys and not is_metric(k)
            },
        )


def runs_table(specs: list[RunSpec], records: dict[str, RunRecord]) -> Any:
    """runs.csv as a DataFrame: one row per spec of the suite that has a record, in suite order."""
    import pandas as pd

    rows = [records[s.run_id].to_row() for s in specs if s.run_id in records]
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=FIRST + LAST)
    swept = list(dict.fromkeys(path for s in specs if s.run_id in records for path in s.swept))
    swept = [c for c in swept if c in frame.columns and c not in FIRST + LAST]
    middle = [c for c in frame.columns if c not in FIRST + LAST + swept]
    # Swept key paths right after `config`, so each row reads: variant, configuration, values.
    return frame[FIRST[:5] + swept + FIRST[5:] + middle + LAST]


def metric_columns(columns: Any) -> list[str]:
    """The columns of a runs table that are metrics: those the metric registry knows
    (``diverged`` included), in table order. A numeric column such as a swept ``optimizer.lr``
    or an info column such as ``n_fake`` is not a metric."""
    return [str(c) for c in columns if is_metric(str(c))]


_DEFAULTS: dict[str, Any] = {
    "run_id": "",
    "suite": "",
    "dataset": "",
    "variant": "",
    "config": "",
    "seed": 0,
    "status": "",
    "health": "",
    "steps_done": 0,
    "wall_s": 0.0,
    "device": "",
    "compute_precision": "",
    "mlflow_run_id": "",
    "error": "",
}


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value) or value == ""


def _uncell(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _cell(value: Any) -> Any:
    """A swept value as one CSV cell: lists (betas) as JSON text."""
    return json.dumps(value) if isinstance(value, (list, tuple, dict)) else value
