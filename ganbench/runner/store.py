"""Finished runs on disk: one JSON record per run id, from which runs.csv is derived.

A record is written the moment its run's results arrive, so an interrupted suite resumes from
exactly the runs it had finished; runs.csv is always rebuilt from the records, never appended to.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from ganbench.suite import RunSpec
from ganbench.train import RunResult

DONE = ("finished", "diverged")  # results; "failed" runs are tried again
FIRST = ["run_id", "suite", "dataset", "variant", "seed", "status", "steps_done"]
LAST = ["wall_s", "device", "precision", "mlflow_run_id", "error"]


def record(result: RunResult, mlflow_run_id: str) -> dict[str, Any]:
    spec = result.spec
    return {
        "run_id": spec.run_id,
        "suite": spec.suite,
        "dataset": spec.dataset,
        "variant": spec.variant,
        "seed": spec.seed,
        "status": result.status,
        "steps_done": result.steps_done,
        "metrics": result.metrics,
        "info": result.info,
        "wall_s": round(result.wall_s, 3),
        "device": result.device,
        "precision": result.precision,
        "mlflow_run_id": mlflow_run_id,
        "error": (result.error or "").splitlines()[0] if result.error else "",
        "history": result.history,
        "spec": spec.resolved(),
    }


def save(out_dir: Path, rec: dict[str, Any]) -> None:
    folder = out_dir / "records"
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{rec['run_id']}.json.tmp"
    tmp.write_text(
        json.dumps(rec, default=lambda value: value.item())
    )  # numpy scalars; NaN/inf stay JSON-readable
    os.replace(tmp, folder / f"{rec['run_id']}.json")  # atomic: a record is whole or absent


def load(out_dir: Path) -> dict[str, dict[str, Any]]:
    folder = out_dir / "records"
    if not folder.is_dir():
        return {}
    return {path.stem: json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))}


def pending(specs: list[RunSpec], records: dict[str, dict[str, Any]], rerun: bool) -> list[RunSpec]:
    return [s for s in specs if rerun or records.get(s.run_id, {}).get("status") not in DONE]


def runs_table(specs: list[RunSpec], records: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """runs.csv: one row per spec of the suite that has a record, in suite order."""
    rows = []
    for spec in specs:
        rec = records.get(spec.run_id)
        if rec is None:
            continue
        row = {key: rec[key] for key in FIRST}
        row.update(rec["metrics"])
        row.update(rec.get("info", {}))
        row.update({key: rec.get(key, "") for key in LAST})
        rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=FIRST + LAST)
    middle = [c for c in frame.columns if c not in FIRST + LAST]
    return frame[FIRST + middle + LAST]
