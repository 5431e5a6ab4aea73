"""MLflow records: one parent run per suite invocation, one child run per GAN run.

One process talks to MLflow for a suite: the suite's own, or the side process it started so as
not to import MLflow itself (tracker_process.py); workers return results. So the SQLite store
never sees concurrent writers from one suite, and every child is logged in a few ``log_batch``
calls: per-call logging costs about 5 ms a metric on SQLite.

What MLflow's UI shows: the experiment (one per suite name) is tagged as a model-training
experiment, so MLflow 3 opens its runs table rather than the GenAI (traces) view. A parent run
holds the suite's leaderboard and claims (as metrics, as tables and in its description); a child
holds one GAN run: the flattened spec as params, loss curves and evaluations as series stamped
with the wall-clock time each step was reached, the final values as single summary metrics, the
sample plots and the trained generator as artifacts. Runs carry MLflow's standard source tags.
"""

from __future__ import annotations

import contextlib
import fcntl
import getpass
import logging
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from ganbench.errors import OutputError
from ganbench.files import cache_root, output_error
from ganbench.results import RunRecord, RunResult

BATCH = 900  # MLflow accepts at most 1000 metrics and 100 params per log_batch
PARAM_BATCH = 90
TAG_BATCH = 90
SETUP_TRIES = 8  # opening a store that other processes are creating or migrating
CALL_TRIES = 12  # one MLflow call while other processes hold SQLite's write lock (~6 s in all)
PACKAGES = ("ganbench", "torch", "torchvision", "numpy", "scipy", "mlflow", "torch-fidelity")
# MLflow 3's UI reads this experiment tag to choose between its model-training view (runs,
# metrics, charts) and its GenAI view (traces, evaluations); without it, it guesses.
EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}
KIND = "ganbench.kind"  # "suite" for a parent (one per invocation), "run" for a child (one GAN run)
RESUMES, RESUMED_BY = "ganbench.resumes", "ganbench.resumed_by"
NOTE = "mlflow.note.content"  # the run's (or experiment's) description in the UI, Markdown
NOTE_LIMIT = 7900  # MLflow keeps at most 8000 characters of a tag value
# Claim statistics logged on the parent as metrics (claim/<id>/<dataset>/<column>).
CLAIM_METRICS = ("p_value", "p_adjusted", "effect_size", "stability", "n_better", "n_worse")


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
    return tags | source_tags(tags["git_commit"])


def source_tags(commit: str) -> dict[str, str]:
    """MLflow's standard run tags, as ``mlflow.start_run`` would set them: the UI's Source and
    User columns and the commit link. The commit is ganbench's own (the code that trained)."""
    tags = {
        "mlflow.source.type": "LOCAL",
        "mlflow.source.name": sys.argv[0] if sys.argv and sys.argv[0] else "ganbench",
    }
    with contextlib.suppress(Exception):  # no user name in some containers
        tags["mlflow.user"] = getpass.getuser()
    if commit != "unknown":
        tags["mlflow.source.git.commit"] = commit
    return tags


def metric_name(*parts: str) -> str:
    """MLflow metric names allow letters, digits, `_ - . /` and spaces, and must read as a
    normalised path: anything else (a dataset label such as `ring(8)`, a claim id with `:`)
    becomes `_`, and empty or dot-only parts are replaced."""
    clean = [re.sub(r"[^A-Za-z0-9_\-. ]", "_", str(p)).strip() or "_" for p in parts]
    return "/".join(c if c.strip(".") else c.replace(".", "_") for c in clean)[:250]


def timeline(result: RunResult) -> Any:
    """step -> epoch milliseconds: the real times of the evaluations (and of the start and the
    end), linearly interpolated in between, so the loss-curve points get plausible times. A
    result without times (from an older ganbench) is stamped now, never 1970."""
    if result.started_at <= 0:
        now = int(time.time() * 1000)
        return lambda step: now
    anchors = [(0, result.started_at), *sorted(result.step_times)]
    end = max(result.steps_done, anchors[-1][0])
    if end > anchors[-1][0] or len(anchors) == 1:
        anchors.append((max(end, anchors[-1][0] + 1), max(result.ended_at, anchors[-1][1])))
    steps = np.array([a[0] for a in anchors], dtype=float)
    times = np.maximum.accumulate(np.array([a[1] for a in anchors], dtype=float))
    return lambda step: int(float(np.interp(step, steps, times)) * 1000)


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
            if db is not None and not db.exists():
                _copy_empty_store(db)
            self.client, self.experiment_id = _open(uri, db, experiment, artifact_root)
        self.tags = provenance() | ({"ganbench.out_dir": self.out_dir} if self.out_dir else {})
        self.parent_id: str | None = None
        self._finished: dict[str, list[str]] = {}  # run id -> FINISHED children, from reconcile
        self._ends: dict[str, int] = {}  # child -> its training's end (ms), set when it is closed
        self._repositories: dict[str, Any] = {}  # run -> its artifact repository, from create_run

    def start_parent(
        self,
        suite: str,
        params: dict[str, str],
        parent_run_id: str | None = None,
        description: str = "",
    ) -> str:
        """The suite invocation's run (nested under `parent_run_id`, e.g. a tuning study's run).
        When this output dir's previous invocation was interrupted (its parent KILLED or FAILED,
        after ``reconcile``), the two are linked both ways (``ganbench.resumes`` and
        ``ganbench.resumed_by``): the runs a resumed suite trains are spread over both."""
        previous = self._previous_parent(suite)
        tags = {"suite": suite, KIND: "suite", **self.tags}
        if description:
            tags[NOTE] = description
        if parent_run_id:
            tags["mlflow.parentRunId"] = parent_run_id
        if previous is not None and previous.info.status in ("KILLED", "FAILED"):
            tags[RESUMES] = previous.info.run_id
        run = self.client.create_run(self.experiment_id, run_name=suite, tags=tags)
        self.parent_id = run.info.run_id
        self._remember_repository(run)
        if RESUMES in tags:
            self.client.set_tag(tags[RESUMES], RESUMED_BY, self.parent_id)
        self._log(run.info.run_id, params=params)
        return self.parent_id

    def log_suite(self, leaderboard: Any, claims: Any, tables: list[Path], description: str = "") -> None:
        """The suite's results on the parent, before it ends: each leaderboard cell's mean and std
        as metrics (``<variant>/<dataset>/<metric>.mean``), each claim's statistics as metrics
        (``claim/<id>/<dataset>/p_value``, ...) and its verdict as a tag, the tables as artifacts
        (``leaderboard.csv``, ``claims.csv``, ``leaderboard.md``, and ``leaderboard.json`` /
        ``claims.json`` for the UI's table view) and the Markdown leaderboard in its description."""
        if not self.parent_id:
            return
        from mlflow.entities import Metric, RunTag

        now = int(time.time() * 1000)
        points = [Metric(name, value, now, 0) for name, value in suite_metrics(leaderboard, claims).items()]
        for i in range(0, len(points), BATCH):
            self.client.log_batch(self.parent_id, metrics=points[i : i + BATCH])
        tags = [RunTag(k, v) for k, v in claim_tags(claims).items()]
        markdown = next((p for p in tables if p.name == "leaderboard.md" and p.is_file()), None)
        if markdown is not None:
            tags.append(RunTag(NOTE, suite_note(description, markdown.read_text())))
        for i in range(0, len(tags), TAG_BATCH):
            self.client.log_batch(self.parent_id, tags=tags[i : i + TAG_BATCH])
        for name, frame in (("leaderboard.json", leaderboard), ("claims.json", claims)):
            if frame is not None and not frame.empty:
                self.client.log_table(self.parent_id, data=frame, artifact_file=name)
        for path in tables:
            if path.is_file():
                self._artifact(self.parent_id, path)

    def end_parent(self, status: str = "FINISHED") -> None:
        if self.parent_id:
            self.client.set_terminated(self.parent_id, status)

    def log_run(
        self, result: RunResult, artifacts: list[Path], terminate: bool = True, generator: Path | None = None
    ) -> str:
        """One child: started and (once closed) ended at the run's real training times, its
        curves as series, its final metrics as summary values, its plots (and its generator's
        weights, under ``generator/``) as artifacts."""
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
            KIND: "run",
            **self.tags,
        }
        if self.parent_id:
            tags["mlflow.parentRunId"] = self.parent_id
        if result.error:
            tags["error"] = result.error[:5000]
        started = int(result.started_at * 1000) if result.started_at > 0 else None
        run = self.client.create_run(
            self.experiment_id,
            start_time=started,
            run_name="/".join(filter(None, [spec.variant, spec.config, spec.dataset, f"seed{spec.seed}"])),
            tags=tags,
        )
        run_id = run.info.run_id
        self._remember_repository(run)
        if result.ended_at > 0:
            self._ends[run_id] = int(result.ended_at * 1000)
        params = flatten(spec.resolved()) | {f"metric_identity.{k}": v for k, v in result.info.items()}
        params |= {f"sweep.{path}": str(value) for path, value in spec.swept.items()}
        self._log(run_id, params=params, result=result)
        for path in artifacts:
            self._artifact(run_id, path)
        if generator is not None:
            self._artifact(run_id, generator, "generator", link=True)  # the weights: not twice on disk
        if terminate:
            self.finish_run(run_id, result.status)
        return run_id

    def finish_run(self, mlflow_id: str, status: str) -> None:
        """Close a child logged with terminate=False, once its record is saved."""
        self.client.set_terminated(
            mlflow_id,
            "FAILED" if status == "failed" else "FINISHED",
            end_time=self._ends.pop(mlflow_id, None),
        )
        self._repositories.pop(mlflow_id, None)

    def close(self) -> None:
        """Nothing to release in-process (MLflow keeps its store for the life of the process);
        tracker_process.TrackerProcess.close ends its process."""

    def _remember_repository(self, run: Any) -> None:
        """The artifact repository at the URI create_run returned, made once per run (MLflow's
        log_artifact would look the run up in the store again for every file)."""
        from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

        self._repositories[run.info.run_id] = get_artifact_repository(
            run.info.artifact_uri, tracking_uri=self.uri
        )

    def _artifact(self, run_id: str, path: Path, folder: str | None = None, link: bool = False) -> None:
        """Copy a file into a run's artifacts. With `link`, a local artifact store gets a hard link
        instead of a copy (one file on disk); only for files that are never changed in place
        (written atomically: a rewrite is a new file)."""
        try:
            repository = self._repositories[run_id]
            if link:
                _hard_link(repository, path, folder)
            repository.log_artifact(str(path), folder)  # where the link is there, MLflow does nothing
        except OSError as err:
            raise output_error(Path(self.out_dir or "."), err) from None

    def _previous_parent(self, suite: str) -> Any:
        """This output dir's most recent suite run, if any (the one a new invocation resumes)."""
        found = self._search(f"tags.`{KIND}` = 'suite'")
        parents = [r for r in found if r.data.tags.get("suite") == suite and r.info.run_id != self.parent_id]
        return max(parents, key=lambda r: r.info.start_time or 0, default=None)

    def supersede(self, run_id: str, keep: str) -> None:
        """`keep` is now run_id's FINISHED child: delete the earlier ones (--rerun, lost records)."""
        for old in self._finished.get(run_id, []):
            if old != keep:
                self.client.delete_run(old)
        self._finished[run_id] = [keep]

    def reconcile(self, records: dict[str, RunRecord], parent_status: str = "KILLED") -> int:
        """Make this output dir's MLflow runs agree with its records; returns how many changed.

        RUNNING runs are left by an invocation that was killed (or, with parent_status, by this
        one being stopped): a child whose record names it becomes FINISHED (FAILED for a failed
        run), any other child KILLED, a parent `parent_status`. Runs of other kinds (a tuning
        study's or trial's, ``ganbench.kind`` study / trial) are their owner's business."""
        changed = 0
        for run in self._search("attributes.status = 'RUNNING'"):
            tags, end, role = run.data.tags, None, _role(run)
            if role is None:
                continue
            if role == "suite":
                status = parent_status
            else:
                rec = records.get(tags.get("run_id", ""))
                if rec is not None and rec.mlflow_run_id == run.info.run_id:
                    status = "FAILED" if rec.status == "failed" else "FINISHED"
                    end = int(rec.ended_at * 1000) if rec.ended_at > 0 else None
                else:
                    status = "KILLED"
            self.client.set_terminated(run.info.run_id, status, end_time=end)
            changed += 1
        finished: dict[str, list[Any]] = {}
        for run in self._search("attributes.status = 'FINISHED'"):
            if _role(run) == "run" and run.data.tags.get("run_id"):
                finished.setdefault(run.data.tags["run_id"], []).append(run)
        self._finished = {}
        for run_id, runs in finished.items():
            named = records[run_id].mlflow_run_id if run_id in records else None
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
        points = []
        if result is not None:
            clock = timeline(result)
            points = [
                Metric(name, value, clock(step), step)
                for name, series in result.history.items()
                for step, value in series
                if value == value  # MLflow rejects NaN on some stores; a missing point says the same
            ]
            points += _summary(result, clock)
        for some_params, some_points in batches(items, points):
            self.client.log_batch(run_id, metrics=some_points, params=some_params)


def batches(params: list[Any], points: list[Any]) -> Iterator[tuple[list[Any], list[Any]]]:
    """log_batch payloads within MLflow's limits (100 params, 1000 entities in all): params
    first, metric points filling the room left, so that a small run's are one call (each call
    is a transaction with its own checks of the run)."""
    while params or points:
        some_params, params = params[:PARAM_BATCH], params[PARAM_BATCH:]
        room = BATCH - len(some_params)
        some_points, points = points[:room], points[room:]
        yield some_params, some_points


def _hard_link(repository: Any, path: Path, folder: str | None) -> None:
    """Link `path` into a local artifact repository's folder (MLflow's LocalArtifactRepository
    skips a file that is already its destination). Anything else (another file system, no hard
    links, a remote store) is left to the repository's copy."""
    root = getattr(repository, "artifact_dir", None)
    if root is None:
        return
    target = Path(root, folder or "", Path(path).name)
    with contextlib.suppress(OSError):
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(path, target)


def _summary(result: RunResult, clock: Any) -> list[Any]:
    """The final metrics as one point each, at the last step and the run's end time, so that
    they are what the UI's runs table and the run page show. A final value that its series
    already ends with is not logged again; one that differs (``critic_w``: the loss-curve point
    averages a window, the final value the steps since the last evaluation) is logged after it."""
    from mlflow.entities import Metric

    step = result.steps_done
    stamp = max(clock(step), int(result.ended_at * 1000))
    last = {name: series[-1] for name, series in result.history.items() if series}
    finals = dict(result.metrics) | {"wall_s": result.wall_s}
    return [
        Metric(name, value, stamp, step)
        for name, value in finals.items()
        if value == value and (name not in last or last[name][1] != value)
    ]


def _role(run: Any) -> str | None:
    """ "suite" (a parent) or "run" (a child), from its ``ganbench.kind`` tag or, for runs logged
    before that tag existed, from whether it has a parent run; None for any other kind."""
    kind = run.data.tags.get(KIND)
    if kind:
        return kind if kind in ("suite", "run") else None
    return "run" if "mlflow.parentRunId" in run.data.tags else "suite"


def suite_metrics(leaderboard: Any, claims: Any) -> dict[str, float]:
    """The parent's metrics: leaderboard means and stds, claim statistics (finite values only)."""
    out: dict[str, float] = {}
    if leaderboard is not None and not leaderboard.empty:
        for row in leaderboard.to_dict("records"):
            for column in ("mean", "std"):
                out[metric_name(row["variant"], row["dataset"], f"{row['metric']}.{column}")] = row.get(
                    column
                )
    if claims is not None and not claims.empty:
        for row in claims.to_dict("records"):
            for column in CLAIM_METRICS:
                if column in row:
                    out[metric_name("claim", row["id"], row.get("dataset", ""), column)] = row[column]
    return {k: float(v) for k, v in out.items() if _finite(v)}


def claim_tags(claims: Any) -> dict[str, str]:
    """`claim.<id>.<dataset>` -> verdict (and the expected one), searchable in the UI."""
    if claims is None or claims.empty:
        return {}
    tags = {}
    for row in claims.to_dict("records"):
        key = metric_name("claim", row["id"], row.get("dataset", "")).replace("/", ".")
        expected = row.get("expected")
        verdict = str(row.get("verdict", ""))
        tags[key] = verdict + (f" (expected {expected})" if isinstance(expected, str) and expected else "")
    return tags


def suite_note(description: str, markdown: str) -> str:
    """The parent's description: the suite's own, then its Markdown leaderboard (cut to fit)."""
    head = f"{description.strip()}\n\n" if description and description.strip() else ""
    text = head + markdown
    if len(text) <= NOTE_LIMIT:
        return text
    tail = "\n\n... (cut; the whole table is the artifact leaderboard.md)"
    return text[: NOTE_LIMIT - len(tail)] + tail


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


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


def _copy_empty_store(db: Path) -> None:
    """A new SQLite store as a copy of an empty, fully migrated one kept in the cache (one per
    MLflow version): creating a store runs MLflow's ~50 schema migrations, 1.5 s on a quiet
    machine and 7 s on a loaded one, where a copy takes milliseconds. Best effort: when the
    cache cannot be used, MLflow creates the store itself."""
    import mlflow
    from mlflow.tracking import MlflowClient

    template = cache_root() / f"mlflow-empty-{mlflow.__version__}.db"
    with contextlib.suppress(Exception):  # noqa: BLE001 - MLflow then creates the store itself
        with store_setup_lock(template):
            if not template.exists():
                tmp = template.with_name(f".{template.name}.{os.getpid()}.tmp")
                uri = f"sqlite:///{tmp}"
                try:
                    MlflowClient(tracking_uri=uri).search_experiments()  # creates and migrates it
                finally:
                    _forget_store(uri)  # closes its connections before the rename
                os.replace(tmp, template)
        copy = db.with_name(f".{db.name}.{os.getpid()}.tmp")
        shutil.copyfile(template, copy)
        os.replace(copy, db)


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
                for key, value in EXPERIMENT_KIND.items():  # created by an older ganbench
                    if found.tags.get(key) != value:
                        client.set_experiment_tag(found.experiment_id, key, value)
                return client, found.experiment_id
            location = artifact_root.resolve().as_uri() if db is not None else None
            return client, client.create_experiment(
                experiment, artifact_location=location, tags=EXPERIMENT_KIND
            )
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
