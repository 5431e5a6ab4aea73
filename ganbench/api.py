"""What the commands do, as library calls: suite -> specs -> units -> results -> records -> tables.

The CLI only parses flags and calls these; tests and notebooks call them directly.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ganbench import claims as claims_lib
from ganbench import leaderboard as board
from ganbench.data import build_dataset
from ganbench.errors import BadInput
from ganbench.metrics import EvalContext, metric_identity
from ganbench.plots import sample_figure
from ganbench.runner import parse_devices, plan_units, store
from ganbench.suite import Suite
from ganbench.tracking import Tracker, artifact_dir, default_uri
from ganbench.train import RunResult


@dataclass
class RunOptions:
    out: Path | None = None
    tracking_uri: str | None = None
    devices: str = "auto"
    runs_per_device: int = 0  # 0: CPU cores, or 4 per GPU
    backend: str = "local"
    ray_address: str | None = None
    rerun: bool = False
    retries: int = 0
    quiet: bool = False
    data_root: str | None = None
    inception_weights: str | None = None
    precision: str = "auto"


@dataclass
class Outcome:
    out_dir: Path
    runs: pd.DataFrame
    leaderboard: pd.DataFrame
    claims: pd.DataFrame
    trained: int
    wall_s: float
    notes: list[str] = field(default_factory=list)


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
        cache_dir=os.environ.get("GANBENCH_CACHE") or str(Path.home() / ".cache" / "ganbench"),
        precision=options.precision,
    )


def run_suite(suite: Suite, options: RunOptions) -> Outcome:
    """Train every run of the suite that has no finished record in the output dir, then tabulate."""
    started = time.perf_counter()
    out_dir = output_dir(suite, options.out)
    todo = store.pending(suite.specs, store.load(out_dir), options.rerun)
    if todo:
        context = eval_context(suite, options, out_dir)
        _preflight(todo, context)
        out_dir.mkdir(parents=True, exist_ok=True)
        _train(suite, todo, options, context, out_dir)
    outcome = tabulate(suite, out_dir, write=out_dir.exists())
    outcome.trained = len(todo)
    outcome.wall_s = time.perf_counter() - started
    return outcome


def _preflight(specs, context: EvalContext) -> None:
    """Build each distinct dataset and ask for each metric setup's identity once, in the parent:
    a missing data root or weights file fails here, in one line, before any training."""
    seen = set()
    for spec in specs:
        key = json.dumps([spec.data, spec.train.model_dump(mode="json")], sort_keys=True)
        if key not in seen:
            seen.add(key)
            metric_identity(build_dataset(spec.data, context.data_root), spec.train, context)


def _train(suite: Suite, todo, options: RunOptions, context: EvalContext, out_dir: Path) -> None:
    from ganbench.progress import progress_bar

    devices = parse_devices(options.devices)
    uri = options.tracking_uri or default_uri(out_dir)
    tracker = Tracker(uri, experiment=suite.name, artifact_root=out_dir / "mlartifacts")
    tracker.start_parent(suite.name, {"suite_file": str(suite.path), "runs": str(len(todo))})
    units = plan_units(todo, devices[0])

    def record(results: list[RunResult]) -> None:
        for result in results:
            artifacts = _artifacts(result)
            mlflow_id = tracker.log_run(result, artifacts)
            store.save(out_dir, store.record(result, mlflow_id))

    status = "FAILED"
    try:
        with progress_bar(sum(u.run_steps for u in units), options.quiet) as advance:
            if options.backend == "ray":
                from ganbench.runner.ray_backend import execute_ray

                execute_ray(
                    units,
                    options.ray_address,
                    options.runs_per_device,
                    context,
                    record,
                    advance,
                    options.retries,
                    force_cpu=options.devices == "cpu",
                )
            else:
                from ganbench.runner.local import execute_local

                execute_local(
                    units, devices, options.runs_per_device, context, record, advance, options.retries
                )
        status = "FINISHED"
    finally:
        tracker.end_parent(status)


def _artifacts(result: RunResult) -> list[Path]:
    """The final samples (a scatter over the modes, or an image grid), plus an image grid at
    each evaluation for image datasets."""
    spec = result.spec
    folder, name = artifact_dir(), f"{spec.variant}_{spec.dataset}_seed{spec.seed}"
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
    runs = store.runs_table(suite.specs, store.load(out_dir))
    leaderboard = board.aggregate(runs) if not runs.empty else pd.DataFrame()
    claims = (
        claims_lib.evaluate_claims(runs, list(suite.file.claims))
        if suite.file.claims and not runs.empty
        else pd.DataFrame()
    )
    if write:
        out_dir.mkdir(parents=True, exist_ok=True)
        _write_if_changed(out_dir / "runs.csv", runs.to_csv(index=False))
        _write_if_changed(out_dir / "leaderboard.csv", leaderboard.to_csv(index=False))
        _write_if_changed(
            out_dir / "leaderboard.md", board.to_markdown(leaderboard, claims if not claims.empty else None)
        )
        if suite.file.claims:
            _write_if_changed(out_dir / "claims.csv", claims.to_csv(index=False))
    return Outcome(out_dir, runs, leaderboard, claims, trained=0, wall_s=0.0)


def _write_if_changed(path: Path, text: str) -> None:
    """Tables follow the records and the suite (an edited claim re-tabulates without training),
    and a file whose content would not change is not touched at all."""
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


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
