"""Writing into the output dir: every file whole or not at all, and errors as one line.

Each file (records, runs.csv, the leaderboards, claims.csv) is written to a temporary file in
the same folder, flushed to disk and renamed over its target, so a kill, a full disk or a
read-only dir never leaves a half-written file behind. An OSError becomes an ``OutputError``
naming the path (exit code 3).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from ganbench.errors import BadInput, OutputError


def cache_root() -> Path:
    """What any suite on this machine can reuse (reference statistics, trained classifiers, an
    empty MLflow store): ``$GANBENCH_CACHE``, else ~/.cache/ganbench."""
    return Path(os.environ.get("GANBENCH_CACHE") or Path.home() / ".cache" / "ganbench")


def write_atomic(path: Path, data: str | bytes) -> None:
    path = Path(path)
    raw = data.encode() if isinstance(data, str) else data
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as handle:
            handle.write(raw)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as err:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise output_error(path, err) from None


def write_if_changed(path: Path, data: str | bytes) -> bool:
    """Write only when the content differs, so an untouched table keeps its bytes and mtime.
    An unreadable or undecodable old file simply counts as different."""
    raw = data.encode() if isinstance(data, str) else data
    try:
        if path.read_bytes() == raw:
            return False
    except OSError:
        pass
    write_atomic(path, raw)
    return True


def output_error(path: Path, err: OSError) -> OutputError:
    reason = err.strerror or str(err)
    return OutputError(
        f"{path}: cannot write: {reason} (the output dir must be writable and have free space)"
    )


def read_runs_csv(out_dir: Path) -> Any:
    """runs.csv of a finished output dir, for the commands that re-read it (leaderboard, report);
    a missing or corrupt table is one line saying how to rebuild it."""
    runs_csv = Path(out_dir) / "runs.csv"
    if not runs_csv.is_file():
        raise BadInput(f"{runs_csv}: no runs.csv here; run `ganbench run SUITE --out {out_dir}` first")
    try:
        import pandas as pd  # late: keeps the modules that only write files light

        return pd.read_csv(runs_csv)
    except (ValueError, OSError) as err:  # a corrupt table: ParserError, UnicodeDecodeError, ...
        reason = " ".join(str(err).split())[:120]
        raise BadInput(
            f"{runs_csv}: unreadable ({reason}); `ganbench run SUITE --out {out_dir}` rebuilds it from the records"
        ) from None
