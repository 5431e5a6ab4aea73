"""Finished runs on disk: one JSON record per run id, from which runs.csv is derived.

A record is written the moment its run's results arrive, so an interrupted suite resumes from
exactly the runs it had finished; runs.csv is always rebuilt from the records, never appended to.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from ganbench.files import write_atomic
from ganbench.results import DONE, RunRecord
from ganbench.suite import RunSpec

__all__ = ["DONE", "load", "load_checked", "pending", "save"]


def save(out_dir: Path, rec: RunRecord) -> None:
    """Atomic: the record is whole or absent."""
    write_atomic(Path(out_dir) / "records" / f"{rec.run_id}.json", rec.to_json())


def load(out_dir: Path) -> dict[str, RunRecord]:
    """Every readable record; a corrupt one is left out (``load_checked`` reports it)."""
    return _load(out_dir, quarantine=False)[0]


def load_checked(out_dir: Path) -> tuple[dict[str, RunRecord], list[str]]:
    """(records, one line per corrupt record). A corrupt record (truncated or garbled JSON, not a
    record) is moved to records/corrupt/, so that its run is trained again."""
    return _load(out_dir, quarantine=True)


def _load(out_dir: Path, quarantine: bool) -> tuple[dict[str, RunRecord], list[str]]:
    folder = Path(out_dir) / "records"
    if not folder.is_dir():
        return {}, []
    records, problems = {}, []
    for path in sorted(folder.glob("*.json")):
        reason = None
        try:
            rec = RunRecord.from_dict(json.loads(path.read_bytes()))
            if rec.run_id != path.stem:
                reason = "its run_id does not match its file name"
        except (OSError, ValueError) as err:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            reason = " ".join(str(err).split())[:120] or type(err).__name__
        if reason is None:
            records[path.stem] = rec
        elif quarantine:
            problems.append(_quarantine(path, reason))
    return records, problems


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


def pending(specs: list[RunSpec], records: dict[str, RunRecord], rerun: bool) -> list[RunSpec]:
    return [s for s in specs if rerun or not (s.run_id in records and records[s.run_id].done)]
