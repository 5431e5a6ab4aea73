"""What the commands do, as library calls: suite -> specs -> units -> results -> records -> tables.

The CLI only parses flags and calls these; tests and notebooks call them directly.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import pandas as pd

from ganbench import checkpoint, samples, store
from ganbench import claims as claims_lib
from ganbench import leaderboard as board
from ganbench.data import build_dataset
from ganbench.errors import BadInput, Interrupted
from ganbench.files import cache_root, write_atomic, write_if_changed
from ganbench.main_module import spawn_safe
from ganbench.metrics import EvalContext, metric_identity
from ganbench.plots import sample_figure
from ganbench.references import evaluate_references, reference_specs
from ganbench.results import DONE, RunRecord, RunResult, runs_table
from ganbench.runner import interrupts, lock, parse_devices, plan_units, small_job
from ganbench.suite import Suite
from ganbench.tracker_process import connect, discard
from ganbench.tracking import default_uri

# Present while an invocation trains (names its tracking URI), removed once its MLflow runs are
# closed: a later invocation with nothing to train still closes what a killed one left RUNNING.
INFLIGHT = ".ganbench.inflight"


@dataclass
class RunOptions:
    out: Path | None = None
    tracking_uri: str | None = None
    devices: str = "auto"
    runs_per_device: int = 0  # 0: CPU cores, or 4 per GPU
    backend: str = "local"  # a name in registry.BACKENDS (local, ray, slurm, a plugin's) or an import path
    ray_address: str | None = None
    slurm_executor: str = "auto"  # slurm | local (submitit's, for tests and laptops) | auto
    slurm_partition: str | None = None  # None: the cluster's default partition
    slurm_time: int = 60  # minutes per job
    slurm_gpus_per_job: int = 0
    slurm_cpus_per_job: int = 1
    slurm_folder: Path | None = None  # job scripts, pickles and logs; None: OUT/slurm_logs
    rerun: bool = False
    retries: int = 0
    quiet: bool = False
    data_root: str | None = None
    inception_weights: str | None = None
    precision: str = "auto"
    wait: bool = False  # another run holds the output dir: wait for it instead of raising Locked
    # Generator steps between checkpoints of a training unit (0: none; None: one a minute, see
    # checkpoint.AUTO_SECONDS): a killed unit resumes from its last one with the same numbers.
    checkpoint_every: int | None = None
    parent_run_id: str | None = None  # MLflow run to nest this invocation's parent under (a tune study)

    def __post_init__(self) -> None:
        """An unknown backend is bad input at once, before anything trains (a built-in name imports
        nothing; an import path is imported to check it)."""
        from ganbench.registry import BACKENDS, UnknownName

        try:
            BACKENDS.check(self.backend)
        except UnknownName as err:
            raise BadInput(str(err)) from None


@dataclass
class Outcome:
    out_dir: Path
    runs: pd.DataFrame
    leaderboard: pd.DataFrame
    claims: pd.DataFrame
    trained: int
    wall_s: float
    notes: list[str] = field(default_factory=list)

    def __repr__(self) -> str:  # a notebook shows this, not three whole DataFrames
        status = self.runs["status"].value_counts().to_dict() if "status" in self.runs else {}
        counts = ", ".join(f"{n} {s}" for s, n in sorted(status.items()))
        verdicts = self.claims["verdict"].value_counts().to_dict() if "verdict" in self.claims else {}
        claims = ", ".join(f"{n} {v}" for v, n in sorted(verdicts.items())) or "none"
        return (
            f"Outcome(out_dir={str(self.out_dir)!r}, runs: {len(self.runs)} ({counts}), "
            f"leaderboard: {len(self.leaderboard)} rows, claims: {claims})"
        )


def output_dir(suite: Suite, out: Path | None) -> Path:
    return Path(out) if out else Path("runs") / suite.name


def eval_context(suite: Suite, options: RunOptions, out_dir: Path) -> EvalContext:
    """Machine-specific paths: the CLI flag wins over the environment, which wins over the suite."""
    return EvalContext(
        data_root=options.data_root or os.environ.get("GANBENCH_DATA_ROOT") or suite.file.data_root,
        inception_weights=options.inception_weights
        or os.environ.get("GANBENCH_INCEPTION_WEIGHTS")
        or suite.file.inception_weights,
        # Reference statistics and trained classifiers are shared by every suite on the machine.
        cache_dir=str(cache_root()),
        precision=options.precision,
        checkpoint_dir=str(out_dir / "checkpoints"),
        checkpoint_every=options.checkpoint_every or 0,
        checkpoint_seconds=checkpoint.AUTO_SECONDS if options.checkpoint_every is None else 0.0,
    )


def run(suite: str | Path | Mapping[str, Any] | Suite, **options: Any) -> Outcome:
    """Train, evaluate and tabulate a suite from Python: ``ganbench.run("suites/x.yaml", steps=200)``.

    `suite` is a suite file's path, a dict holding what such a file would, or a loaded ``Suite``.
    `options`: ``steps`` and ``seeds`` (like ``--steps`` / ``--seeds``), ``overrides`` (a dict of
    dotted key paths to values, like ``--set``) and any ``RunOptions`` field
    (``out``, ``devices``, ``runs_per_device``, ``backend``, ``rerun``, ``retries``, ``quiet``,
    ``data_root``, ``precision``, ...). Returns the ``Outcome``, whose ``runs``, ``leaderboard`` and
    ``claims`` are the DataFrames of runs.csv, leaderboard.csv and claims.csv. Bad input raises
    ``BadInput`` with the CLI's one-line message. Works in a notebook, and in a plain script: where
    that has no ``if __name__ == "__main__":`` guard, the runs train in the calling process.
    """
    from ganbench.registry import did_you_mean
    from ganbench.suite import load_suite

    steps, seeds = options.pop("steps", None), options.pop("seeds", None)
    overrides = options.pop("overrides", None)
    known = [f.name for f in fields(RunOptions)]
    for name in options:
        if name not in known:
            raise TypeError(
                f"ganbench.run() got an unknown option {name!r}{did_you_mean(name, [*known, 'steps', 'seeds', 'overrides'])}"
            )
    if isinstance(suite, Suite):
        if steps is not None or seeds is not None or overrides:  # expand it again with the overrides
            source = suite.path if suite.path.is_file() else suite.file.model_dump(exclude_unset=True)
            suite = load_suite(source, steps=steps, seeds=seeds, overrides=overrides)
    else:
        suite = load_suite(suite, steps=steps, seeds=seeds, overrides=overrides)
    if options.get("out") is not None:
        options["out"] = Path(options["out"])
    return run_suite(suite, RunOptions(**options))


def run_suite(suite: Suite, options: RunOptions) -> Outcome:
    """Train every run of the suite that has no finished record in the output dir, then tabulate.

    One invocation at a time holds the output dir (runner/lock.py: ``Locked`` names the holder,
    or ``options.wait`` waits). SIGINT/SIGTERM stop the workers and raise ``Interrupted`` carrying
    how many of the suite's runs are done and how many are left; the same call resumes."""
    out_dir = output_dir(suite, options.out)
    with interrupts.handled():
        try:
            with lock.hold(out_dir, options.wait, _warn):
                return _run_locked(suite, options, out_dir)
        except Interrupted as err:
            done = store.load(out_dir)
            err.finished = sum(s.run_id in done and done[s.run_id].done for s in suite.specs)
            err.pending = len(suite.specs) - err.finished
            raise
        finally:
            discard()  # a tracker process started for this call and not needed (nothing to train)


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr, flush=True)


def _run_locked(suite: Suite, options: RunOptions, out_dir: Path) -> Outcome:
    started = time.perf_counter()
    records, problems = store.load_checked(out_dir)
    for problem in problems:  # corrupt records: moved aside, their runs trained again
        _warn(problem)
    todo = store.pending(suite.specs, records, options.rerun)
    references = [s for s in reference_specs(suite) if s.run_id not in records]
    if todo or references:
        context = eval_context(suite, options, out_dir)
        _preflight(suite, todo + references, context)
        out_dir.mkdir(parents=True, exist_ok=True)
        for result in evaluate_references(references, context):  # one evaluation each, no training
            store.save(out_dir, RunRecord.from_result(result))
    tables = None
    if todo:
        tables = _train(suite, todo, options, context, out_dir)
    elif (out_dir / INFLIGHT).exists():
        _close_left_over(suite, options, out_dir)
    outcome = tables if tables is not None else tabulate(suite, out_dir, write=out_dir.exists())
    outcome.trained = len(todo)
    outcome.wall_s = time.perf_counter() - started
    return outcome


def _preflight(suite: Suite, specs, context: EvalContext) -> None:
    """Build each distinct dataset and ask for each metric setup's identity once, in the parent:
    a missing data root or weights file fails here, in one line naming the suite file and the
    dataset's entry, before any training."""
    seen = set()
    labels = list(suite.datasets)
    for spec in specs:
        key = json.dumps([spec.data, spec.train.model_dump(mode="json")], sort_keys=True)
        if key in seen:
            continue
        seen.add(key)
        try:
            metric_identity(build_dataset(spec.data, context.data_root), spec.train, context)
        except BadInput as err:
            where = f"datasets[{labels.index(spec.dataset)}]" if spec.dataset in labels else spec.dataset
            raise BadInput(f"{suite.path}: {where} ({spec.dataset}): {err}") from None


def _train(suite: Suite, todo, options: RunOptions, context: EvalContext, out_dir: Path) -> Outcome:
    from ganbench.progress import Tracker as ProgressTracker
    from ganbench.progress import progress_bar
    from ganbench.runner.backends import create_backend

    devices = parse_devices(options.devices)
    if options.backend == "local" and not spawn_safe():
        # Spawned workers would re-run the caller's unguarded script: train here instead.
        if not options.quiet:
            _warn(
                'the calling script has no `if __name__ == "__main__":` guard around this call, so '
                "its runs train in this process, one ensemble at a time; put the call under such a "
                "guard to train in parallel worker processes"
            )
        options, devices = replace(options, runs_per_device=1, devices=devices[0]), devices[:1]
    backend = create_backend(options.backend, options, out_dir)
    uri = options.tracking_uri or default_uri(out_dir)
    slots = (os.cpu_count() or 1) if devices == ["cpu"] else len(devices) * max(1, options.runs_per_device)
    if devices == ["cpu"] and options.runs_per_device > 0:
        slots = min(slots, options.runs_per_device)
    if options.backend == "local" and devices == ["cpu"] and options.runs_per_device == 0 and small_job(todo):
        slots = 1  # one unit, trained in this process: cheaper than starting workers
    units = plan_units(todo, devices[0], min_units=slots)
    checkpoint.prune(context.checkpoint_dir, [[s.run_id for s in u.specs] for u in units])

    progress = ProgressTracker()  # replaced by the live one below; told of each saved run

    def record(results: list[RunResult]) -> None:
        for result in results:
            # The plots live only until MLflow has copied them into its artifact store.
            with tempfile.TemporaryDirectory(prefix="ganbench-artifacts-") as folder:
                artifacts = _artifacts(result, Path(folder))
                # The record is the commit point: the MLflow child is FINISHED only once it is
                # saved, and a signal waits until all three steps are done.
                with interrupts.deferred():
                    shape = result.samples.shape[1:] if result.samples is not None else ()
                    generator = samples.save_generator(out_dir, result.spec.run_id, result.generator, shape)
                    mlflow_id = tracker.log_run(result, artifacts, terminate=False, generator=generator)
                    samples.save(out_dir, result.spec.run_id, result.samples)  # the report's panels
                    store.save(out_dir, RunRecord.from_result(result, mlflow_id))
                    tracker.finish_run(mlflow_id, result.status)
                    tracker.supersede(result.spec.run_id, mlflow_id)
            progress.finished(result)
        if all(r.status in DONE for r in results):  # a failed unit keeps it: its retry resumes
            checkpoint.discard(context.checkpoint_dir, [r.spec.run_id for r in results])

    tracker = connect(uri, suite.name, artifact_root=out_dir / "mlartifacts", out_dir=out_dir)
    status = "FAILED"
    try:
        # Runs a killed invocation left RUNNING become KILLED (or FINISHED, if their record was
        # saved); duplicate FINISHED children of one run id are dropped.
        tracker.reconcile(store.load(out_dir))
        write_atomic(out_dir / INFLIGHT, json.dumps({"pid": os.getpid(), "uri": uri}))
        tracker.start_parent(
            suite.name,
            {"suite_file": str(suite.path), "runs": str(len(todo))},
            parent_run_id=options.parent_run_id,
            description=suite.file.description,
        )
        with progress_bar(sum(u.run_steps for u in units), options.quiet) as advance:
            progress = advance
            backend.run(units, context, record, advance)
        tables = tabulate(suite, out_dir)  # the parent holds the suite's results before it ends
        tracker.log_suite(
            tables.leaderboard, tables.claims, _table_files(suite, out_dir), suite.file.description
        )
        status = "FINISHED"
    except Interrupted:
        status = "KILLED"
        raise
    finally:
        try:
            if status == "FINISHED":
                tracker.end_parent(status)
                (out_dir / INFLIGHT).unlink(missing_ok=True)
            else:  # best effort: what it cannot fix, the next invocation's reconcile does
                with contextlib.suppress(Exception):
                    tracker.reconcile(store.load(out_dir), parent_status=status)
                    (out_dir / INFLIGHT).unlink(missing_ok=True)
        finally:
            tracker.close()
    return tables


def _table_files(suite: Suite, out_dir: Path) -> list[Path]:
    """The tables tabulate wrote, as the parent run's artifacts (claims.csv only when the suite
    has claims: an older one may be left over from an earlier version of the suite)."""
    names = ["leaderboard.csv", "leaderboard.md", "runs.csv"] + (["claims.csv"] if suite.file.claims else [])
    return [out_dir / name for name in names]


def _close_left_over(suite: Suite, options: RunOptions, out_dir: Path) -> None:
    """Nothing to train, but an earlier invocation died after its last record (INFLIGHT is still
    there): close the MLflow runs it left RUNNING, in the store it was using."""
    marker = out_dir / INFLIGHT
    try:
        uri = json.loads(marker.read_text()).get("uri")
    except (OSError, ValueError, AttributeError):
        uri = None
    uri = uri or options.tracking_uri or default_uri(out_dir)
    tracker = connect(uri, suite.name, artifact_root=out_dir / "mlartifacts", out_dir=out_dir)
    try:
        tracker.reconcile(store.load(out_dir))
    finally:
        tracker.close()
    marker.unlink(missing_ok=True)


def _artifacts(result: RunResult, folder: Path) -> list[Path]:
    """The final samples (a scatter over the modes, or an image grid), plus an image grid at
    each evaluation for image datasets, drawn into `folder`."""
    spec = result.spec
    name = f"{spec.variant}_{spec.dataset}_seed{spec.seed}"
    paths = [
        sample_figure(
            images,
            None,
            f"{spec.variant} on {spec.dataset}, seed {spec.seed}, step {step}",
            folder / f"grid_{name}_step{step:07d}.png",
        )
        for step, images in result.snapshots
    ]
    if result.samples is not None:
        centres = getattr(build_dataset(spec.data), "centres", None) if result.samples.ndim == 2 else None
        centres = None if centres is None else centres.numpy()
        title = f"{spec.variant} on {spec.dataset}, seed {spec.seed}"
        paths.append(sample_figure(result.samples, centres, title, folder / f"samples_{name}.png"))
    return paths


def tabulate(suite: Suite, out_dir: Path, write: bool = True) -> Outcome:
    """runs.csv -> leaderboard.csv / leaderboard.md / claims.csv for the suite's runs in out_dir."""
    runs = runs_table(reference_specs(suite) + suite.specs, store.load(out_dir))
    leaderboard = board.aggregate(runs) if not runs.empty else pd.DataFrame()
    claims = (
        claims_lib.evaluate_claims(
            runs, list(suite.file.claims), p_adjust=suite.file.p_adjust, success=suite.file.success
        )
        if suite.file.claims and not runs.empty
        else pd.DataFrame()
    )
    if write:
        out_dir.mkdir(parents=True, exist_ok=True)
        _write_if_changed(out_dir / "runs.csv", runs.to_csv(index=False))
        _write_if_changed(out_dir / "leaderboard.csv", leaderboard.to_csv(index=False))
        per_config = board.aggregate_configs(runs) if not runs.empty else pd.DataFrame()
        if not per_config.empty:
            _write_if_changed(out_dir / "leaderboard_configs.csv", per_config.to_csv(index=False))
        _write_if_changed(
            out_dir / "leaderboard.md", board.to_markdown(leaderboard, claims if not claims.empty else None)
        )
        if suite.file.claims:
            _write_if_changed(out_dir / "claims.csv", claims.to_csv(index=False))
    return Outcome(out_dir, runs, leaderboard, claims, trained=0, wall_s=0.0)


def _write_if_changed(path: Path, text: str) -> None:
    """Tables follow the records and the suite (an edited claim re-tabulates without training),
    and a file whose content would not change is not touched at all. Writes are atomic, and an
    unreadable (corrupt) old table is simply replaced."""
    write_if_changed(path, text)


def check_suite(
    suite: Suite, options: RunOptions, baseline: Path | None
) -> tuple[Outcome, pd.DataFrame, pd.DataFrame]:
    """Run (reusing finished runs), then (claims whose verdict differs from `expect`,
    baseline cells outside their tolerance band)."""
    outcome = run_suite(suite, options)
    failed_claims = claims_lib.claims_failed(outcome.claims) if not outcome.claims.empty else pd.DataFrame()
    regressions = pd.DataFrame()
    if baseline is not None:
        try:
            reference = pd.read_csv(baseline)
        except (OSError, pd.errors.ParserError) as err:
            raise BadInput(f"{baseline}: cannot read baseline CSV: {err}") from None
        missing = {"variant", "dataset", "metric", "mean"} - set(reference.columns)
        if missing:
            raise BadInput(f"{baseline}: not a leaderboard CSV, missing columns {sorted(missing)}")
        comparison = board.compare_to_baseline(outcome.leaderboard, reference, suite.file.tolerance)
        regressions = comparison[~comparison["ok"]]
    return outcome, failed_claims, regressions
