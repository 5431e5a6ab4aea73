"""Finished runs on disk: one JSON record per run id, from which runs.csv is derived.

A record is written the moment its run's results arrive, so an interrupted suite resumes from
exactly the runs it had finished; runs.csv is always rebuilt from the records, never appended to.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pandas as pd

from ganbench.runner.files import write_atomic
from ganbench.suite import RunSpec
from ganbench.train import RunResult

DONE = ("finished", "diverged")  # results; "failed" runs are tried again
FIRST = ["run_id", "suite", "dataset", "variant", "config", "seed", "status", "health", "steps_done"]
LAST = [
    "wall_s",
    "device",
    "compute_precision",
    "mlflow_run_id",
    "error",
]  # compute_precision: fp32 | bf16 forwards, not the `precision` metric


def record(result: RunResult, mlflow_run_id: str) -> dict[str, Any]:
    spec = result.spec
    return {
        "run_id": spec.run_id,
        "suite": spec.suite,
        "dataset": spec.dataset,
        "variant": spec.variant,
        "config": spec.config,
        "swept": spec.swept,
        "seed": spec.seed,
        "status": result.status,
        "health": result.health,
        "steps_done": result.steps_done,
        "metrics": result.metrics,
        "info": result.info,
        "wall_s": round(result.wall_s, 3),
        "device": result.device,
        "compute_precision": result.precision,
        "mlflow_run_id": mlflow_run_id,
        "error": (result.error or "").splitlines()[0] if result.error else "",
        "history": result.history,
        "spec": spec.resolved(),
    }


def save(out_dir: Path, rec: dict[str, Any]) -> None:
    # numpy scalars become Python numbers; NaN/inf stay JSON-readable. Atomic: whole or absent.
    text = json.dumps(rec, default=lambda value: value.item())
    write_atomic(out_dir / "records" / f"{rec['run_id']}.json", text)


def load(out_dir: Path) -> dict[str, dict[str, Any]]:
    """Every readable record; a corrupt one is left out (``load_checked`` reports it)."""
    return _load(out_dir, quarantine=False)[0]


def load_checked(out_dir: Path) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """(records, one line per corrupt record). A corrupt record (truncated or garbled JSON, not a
    record) is moved to records/corrupt/, so that its run is trained again."""
    return _load(out_dir, quarantine=True)


def _load(out_dir: Path, quarantine: bool) -> tuple[dict[str, dict[str, Any]], list[str]]:
    folder = Path(out_dir) / "records"
    if not folder.is_dir():
        return {}, []
    records, problems = {}, []
    for path in sorted(folder.glob("*.json")):
        try:
            rec = json.loads(path.read_bytes())
            reason = _not_a_record(rec, path.stem)
        except (OSError, ValueError) as err:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            reason = " ".join(str(err).split())[:120] or type(err).__name__
        if reason is None:
            records[path.stem] = rec
        elif quarantine:
            problems.append(_quarantine(path, reason))
    return records, problems


def _not_a_record(rec: Any, stem: str) -> str | None:
    if not isinstance(rec, dict):
        return f"not a JSON object but {type(rec).__name__}"
    if rec.get("run_id") != stem:
        return "its run_id does not match its file name"
    if not isinstance(rec.get("status"), str) or not isinstance(rec.get("metrics"), dict):
        return "no status or metrics"
    return None


def _quarantine(path: Path, reason: str) -> str:
    corrupt = path.parent / "corrupt"
    target = corrupt / path.name
    if target.exists():
        target = corrupt / f"{path.stem}.{time.strftime('%Y%m%d-%H%M%S')}.{os.getpid()}.json"
    try:
        corrupt.mkdir(exist_ok=True)
        os.replace(path, target)
    except OSError as err:
        return f"{path} is corrupt ({reason}) and could not be moved aside ({err.strerror}); its run will be trained again"
    return f"{path} is corrupt ({reason}); moved to {target}, its run will be trained again"


def pending(specs: list[RunSpec], records: dict[str, dict[str, Any]], rerun: bool) -> list[RunSpec]:
    return [s for s in specs if rerun or records.get(s.run_id, {}).get("status") not in DONE]


def runs_table(specs: list[RunSpec], records: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """runs.csv: one row per spec of the suite that has a record, in suite order."""
    rows = []
    for spec in specs:
        rec = records.get(spec.run_id)
        if rec is None:
            continue
        row = {key: rec.get(key, "") for key in FIRST}
        row.update({path: _cell(value) for path, value in rec.get("swept", {}).items()})
        row.update(rec["metrics"])
        row.update(rec.get("info", {}))
        row.update({key: rec.get(key, "") for key in LAST})
        rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=FIRST + LAST)
    swept = list(dict.fromkeys(path for rec in records.values() for path in rec.get("swept", {})))
    swept = [c for c in swept if c in frame.columns and c not in FIRST + LAST]
    middle = [c for c in frame.columns if c not in FIRST + LAST + swept]
    # Swept key paths right after `config`, so each row reads: variant, configuration, values.
    order = FIRST[:5] + swept + FIRST[5:] + middle + LAST
    return frame[order]


def _cell(value: Any) -> Any:
    """A swept value as one CSV cell: lists (betas) as JSON text."""
    return json.dumps(value) if isinstance(value, (list, tuple, dict)) else value
