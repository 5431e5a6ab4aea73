"""MLflow records: one parent run per suite invocation, one child run per GAN run.

Only the parent process talks to MLflow (workers return results), so the SQLite store never sees
concurrent writers, and every child is logged in a few ``log_batch`` calls: per-call logging
costs about 5 ms a metric on SQLite.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import platform
import subprocess
import tempfile
import time
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

from ganbench.errors import OutputError
from ganbench.files import output_error
from ganbench.train import RunResult

BATCH = 900  # MLflow accepts at most 1000 metrics and 100 params per log_batch
PARAM_BATCH = 90
SETUP_TRIES = 8  # opening a store that other processes are creating or migrating
CALL_TRIES = 12  # one MLflow call while other processes hold SQLite's write lock (~6 s in all)
PACKAGES = ("ganbench", "torch", "torchvision", "numpy", "scipy", "mlflow", "torch-fidelity")


def default_uri(out_dir: Path) -> str:
    """--tracking-uri wins, then MLFLOW_TRACKING_URI, then an SQLite file inside the output dir."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{(out_dir / 'mlflow.db').resolve()}"


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = str(value)
    return flat


def provenance() -> dict[str, str]:
    """Git commit and package versions, recorded with every run."""
    tags = {"python": platform.python_version(), "platform": platform.platform()}
    try:
        root = Path(__file__).resolve().parent.parent
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True, timeout=5
        )
        tags["git_commit"] = commit.stdout.strip() or "unknown"
        tags["git_dirty"] = str(bool(dirty.stdout.strip()))
    except (OSError, subprocess.SubprocessError):
        tags["git_commit"] = "unknown"
    for package in PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            tags[f"version.{package}"] = metadata.version(package)
    return tags


class Tracker:
    """MLflow runs that follow the records: a child is FINISHED only once its record is saved.

    ``log_run(..., terminate=False)`` leaves the child RUNNING; the caller saves the record (the
    commit point) and then calls ``finish_run``. ``reconcile`` repairs what a killed invocation
    left: RUNNING children whose record was saved become FINISHED (FAILED), the others KILLED, as
    do RUNNING parents; of several FINISHED children of one run id the one the record names is
    kept and the others are deleted (soft: ``mlflow gc`` purges, ``mlflow runs restore`` undoes).
    Runs are tagged with their output dir (``ganbench.out_dir``), and only this output dir's runs
    are touched, so several output dirs can share one tracking store.
    """

    def __init__(self, uri: str, experiment: str, artifact_root: Path, out_dir: Path | None = None) -> None:
        import mlflow.tracking  # noqa: F401 - first: importing mlflow configures its loggers

        logging.getLogger("mlflow").setLevel(logging.WARNING)  # no schema-migration chatter
        logging.getLogger("alembic").setLevel(logging.WARNING)
        self.uri = uri
        self.out_dir = str(Path(out_dir).resolve()) if out_dir is not None else ""
        db = sqlite_path(uri)
        # Creating a fresh SQLite store runs schema migrations, which fail when several processes
        # do it at once ("duplicate column name"): set-up is serialised by a lock beside the file.
        with store_setup_lock(db):
            self.client, self.experiment_id = _open(uri, db, experiment, artifact_root)
        self.tags = provenance() | ({"ganbench.out_dir": self.out_dir} if self.out_dir else {})
        self.parent_id: str | None = None
        self._finished: dict[str, list[str]] = {}  # run id -> FINISHED children, from reconcile

    def start_parent(self, suite: str, params: dict[str, str]) -> str:
        run = self.client.create_run(
            self.experiment_id, run_name=f"{suite}", tags={"suite": suite, **self.tags}
        )
        self.parent_id = run.info.run_id
        self._log(run.info.run_id, params=params)
        return self.parent_id

    def end_parent(self, status: str = "FINISHED") -> None:
        if self.parent_id:
            self.client.set_terminated(self.parent_id, status)

    def log_run(self, result: RunResult, artifacts: list[Path], terminate: bool = True) -> str:
        spec = result.spec
        tags = {
            "suite": spec.suite,
            "run_id": spec.run_id,
            "variant": spec.variant,
            "dataset": spec.dataset,
            "seed": str(spec.seed),
            "config": spec.config,
            "status": result.status,
            "health": result.health,
            "device": result.device,
            "precision": result.precision,
            **self.tags,
        }
        if self.parent_id:
            tags["mlflow.parentRunId"] = self.parent_id
        if result.error:
            tags["error"] = result.error[:5000]
        run = self.client.create_run(
            self.experiment_id,
            run_name="/".join(filter(None, [spec.variant, spec.config, spec.dataset, f"seed{spec.seed}"])),
            tags=tags,
        )
        run_id = run.info.run_id
        params = flatten(spec.resolved()) | {f"metric_identity.{k}": v for k, v in result.info.items()}
        params |= {f"sweep.{path}": str(value) for path, value in spec.swept.items()}
        self._log(run_id, params=params, result=result)
        for path in artifacts:
            try:
                self.client.log_artifact(run_id, str(path))
            except OSError as err:
                raise output_error(Path(self.out_dir or "."), err) from None
        if terminate:
            self.finish_run(run_id, result.status)
        return run_id

    def finish_run(self, mlflow_id: str, status: str) -> None:
        """Close a child logged with terminate=False, once its record is saved."""
        self.client.set_terminated(mlflow_id, "FAILED" if status == "failed" else "FINISHED")

    def supersede(self, run_id: str, keep: str) -> None:
        """`keep` is now run_id's FINISHED child: delete the earlier ones (--rerun, lost records)."""
        for old in self._finished.get(run_id, []):
            if old != keep:
                self.client.delete_run(old)
        self._finished[run_id] = [keep]

    def reconcile(self, records: dict[str, dict[str, Any]], parent_status: str = "KILLED") -> int:
        """Make this output dir's MLflow runs agree with its records; returns how many changed.

        RUNNING runs are left by an invocation that was killed (or, with parent_status, by this
        one being stopped): a child whose record names it becomes FINISHED (FAILED for a failed
        run), any other child KILLED, a parent `parent_status`."""
        changed = 0
        for run in self._search("attributes.status = 'RUNNING'"):
            tags = run.data.tags
            if "mlflow.parentRunId" not in tags:
                status = parent_status
            else:
                rec = records.get(tags.get("run_id", ""), {})
                if rec.get("mlflow_run_id") == run.info.run_id:
                    status = "FAILED" if rec.get("status") == "failed" else "FINISHED"
                else:
                    status = "KILLED"
            self.client.set_terminated(run.info.run_id, status)
            changed += 1
        finished: dict[str, list[Any]] = {}
        for run in self._search("attributes.status = 'FINISHED'"):
            if "mlflow.parentRunId" in run.data.tags and run.data.tags.get("run_id"):
                finished.setdefault(run.data.tags["run_id"], []).append(run)
        self._finished = {}
        for run_id, runs in finished.items():
            named = records.get(run_id, {}).get("mlflow_run_id")
            runs.sort(key=lambda r: (r.info.run_id != named, -(r.info.start_time or 0)))
            for extra in runs[1:]:  # the record's child first, else the newest
                self.client.delete_run(extra.info.run_id)
                changed += 1
            self._finished[run_id] = [runs[0].info.run_id]
        return changed

    def _search(self, filter_string: str) -> list[Any]:
        """Runs of this experiment (and output dir) matching the filter, all pages."""
        if self.out_dir and "'" not in self.out_dir and "\\" not in self.out_dir:
            filter_string += f" and tags.`ganbench.out_dir` = '{self.out_dir}'"
        found, token = [], None
        while True:
            page = self.client.search_runs(
                [self.experiment_id], filter_string, max_results=1000, page_token=token
            )
            found += [r for r in page if r.data.tags.get("ganbench.out_dir", "") == self.out_dir]
            token = page.token
            if not token:
                return found

    def _log(self, run_id: str, params: dict[str, str], result: RunResult | None = None) -> None:
        from mlflow.entities import Metric, Param

        items = [Param(k, v[:6000]) for k, v in params.items()]
        for i in range(0, len(items), PARAM_BATCH):
            self.client.log_batch(run_id, params=items[i : i + PARAM_BATCH])
        if result is None:
            return
        now = 0  # fixed timestamps keep records reproducible; steps carry the order
        points = [
            Metric(name, value, now, step)
            for name, series in result.history.items()
            for step, value in series
            if value == value  # MLflow rejects NaN on some stores; a missing point says the same
        ]
        final_step = result.steps_done
        points += [
            Metric(f"final.{name}", value, now, final_step)
            for name, value in result.metrics.items()
            if value == value
        ]
        points.append(Metric("wall_s", result.wall_s, now, final_step))
        for i in range(0, len(points), BATCH):
            self.client.log_batch(run_id, metrics=points[i : i + BATCH])


def sqlite_path(uri: str) -> Path | None:
    """The database file of an sqlite:/// URI (None for any other store)."""
    if not uri.startswith("sqlite:///"):
        return None
    return Path(uri.removeprefix("sqlite:///").split("?", 1)[0] or "mlflow.db")


@contextlib.contextmanager
def store_setup_lock(db: Path | None) -> Iterator[None]:
    """An exclusive flock on `.<db>.setup-lock` beside the file (nothing for non-SQLite stores)."""
    if db is None:
        yield
        return
    lock = db.with_name(f".{db.name}.setup-lock")
    try:
        db.parent.mkdir(parents=True, exist_ok=True)
        handle = open(lock, "a")  # noqa: SIM115 - closed below
    except OSError as err:
        raise output_error(db.parent, err) from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def _open(uri: str, db: Path | None, experiment: str, artifact_root: Path) -> tuple[Any, str]:
    """(client, experiment id), creating the experiment if needed, with retries on a busy store
    and a one-line OutputError for a store that cannot be used."""
    from mlflow.tracking import MlflowClient

    for attempt in range(SETUP_TRIES):
        try:
            # An explicit client, never mlflow.set_tracking_uri: that also sets MLFLOW_TRACKING_URI
            # in the environment, and the next suite run in this process would log into this store.
            client = _Retrying(MlflowClient(tracking_uri=uri), db)
            found = client.get_experiment_by_name(experiment)
            if found is not None:
                return client, found.experiment_id
            location = artifact_root.resolve().as_uri() if db is not None else None
            return client, client.create_experiment(experiment, artifact_location=location)
        except OutputError:
            raise
        except Exception as err:  # noqa: BLE001 - whatever the store raised, one line
            if _transient(err) and attempt < SETUP_TRIES - 1:
                time.sleep(0.2 * (attempt + 1))
                continue
            _forget_store(uri)  # so that this process can use the store once it is repaired
            raise OutputError(_store_problem(uri, db, err)) from None
    raise AssertionError("unreachable")


def _forget_store(uri: str) -> None:
    """MLflow caches a store and an SQLAlchemy engine (open connections) per URI for the life of
    the process (private caches: best effort)."""
    with contextlib.suppress(Exception):
        from mlflow.tracking._tracking_service.utils import _tracking_store_registry

        _tracking_store_registry._get_store_with_resolved_uri.cache_clear()
    with contextlib.suppress(Exception):
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

        engine = SqlAlchemyStore._engine_map.pop(uri, None)
        if engine is not None:
            engine.dispose()


def _first_line(err: BaseException) -> str:
    text = " ".join(str(err).split("[SQL:")[0].split())
    return (text or type(err).__name__)[:200]


def _transient(err: BaseException) -> bool:
    text = str(err).lower()
    return "database is locked" in text or "already exists" in text or "duplicate column" in text


def _store_problem(uri: str, db: Path | None, err: BaseException) -> str:
    if db is None:
        return f"tracking store {uri}: {_first_line(err)}; check --tracking-uri / MLFLOW_TRACKING_URI"
    return (
        f"{db}: not a usable MLflow SQLite store ({_first_line(err)}); move it aside to start a fresh "
        "one (the records and tables of the output dir are kept), or pass another --tracking-uri"
    )


class _Retrying:
    """An MlflowClient whose calls are retried while SQLite says "database is locked" (several
    processes sharing one store), and whose write failures on a full or read-only disk are
    OutputErrors naming the database file."""

    def __init__(self, client: Any, db: Path | None) -> None:
        self._client, self._db = client, db

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)
        if not callable(method):
            return method

        def call(*args, **kwargs):
            for attempt in range(CALL_TRIES):
                try:
                    return method(*args, **kwargs)
                except Exception as err:  # noqa: BLE001 - classified below
                    text = str(err).lower()
                    if "database is locked" in text and attempt < CALL_TRIES - 1:
                        time.sleep(min(2.0, 0.05 * 2**attempt))
                        continue
                    if self._db is not None and any(
                        p in text
                        for p in ("readonly database", "disk is full", "disk i/o error", "unable to open")
                    ):
                        raise OutputError(
                            f"{self._db}: cannot write: {_first_line(err)} (the output dir must be "
                            "writable and have free space)"
                        ) from None
                    raise

        return call


def artifact_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="ganbench-artifacts-"))
