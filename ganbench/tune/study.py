"""The loop: load and check the suite, then per tuned variant create (or resume) the Optuna
study, run its trials through ``trial.run_trial`` and record them in MLflow; then summarise.

- Trials at once: `--workers N` runs N trials in threads of this process (Optuna's n_jobs). A
  trial's runs train where `run` would put them (worker processes, Ray tasks), so the threads
  only wait; on a CPU-only machine each trial gets 1/N of the cores unless --runs-per-device says.
- `--trials N` is the number of finished (complete or pruned) trials the study should have: the
  same command resumes an interrupted study, and a larger N extends a finished one. Storage URL
  and study name identify the study; heartbeats mark trials a killed invocation left RUNNING as
  failed, so they do not linger.
- The sampler is TPE seeded with the number of trials already in the study: a fresh study is
  reproducible, and a resumed one does not replay its first random proposals.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ganbench.api import RunOptions
from ganbench.errors import BadInput
from ganbench.runner import parse_devices
from ganbench.suite import Suite, load_suite
from ganbench.tracking import default_uri
from ganbench.tune.objective import Objective, TrialFailed
from ganbench.tune.options import TuneOptions
from ganbench.tune.output import export_best, finished, print_summary, summary
from ganbench.tune.progress import trial_progress
from ganbench.tune.space import Loader, Space, decode, suggest, variant_spaces
from ganbench.tune.tracking import StudyRun
from ganbench.tune.trial import run_trial, trial_dir

HEARTBEAT_S = 60  # a RUNNING trial with no heartbeat for GRACE_S was left by a killed invocation
GRACE_S = 180


@dataclass(frozen=True)
class Tuned:
    suite: str
    out_dir: Path
    studies: dict[str, Any]  # tuned variant -> its Optuna study
    spaces: dict[str, Space]

    def summary(self) -> dict[str, Any]:
        """Per variant: study name, trials by state, best value, values and trial (--json)."""
        return summary(self.studies, self.spaces)


def tune_suite(source: str | Path | Mapping[str, Any], options: TuneOptions) -> Tuned:
    """Tune the suite at `source` (a path, or a dict as for ``ganbench.run``). Bad input raises
    BadInput with the CLI's one-line message."""
    load, suite = _loader(source, options)
    objective = Objective.of(suite, options.objective)
    _check_export(suite, options.export)
    spaces = variant_spaces(suite, options.per_variant, load)
    if options.steps is not None and any("steps" in space for space in spaces.values()):
        raise BadInput(f"{suite.path}: tune.space.steps: --steps would set every trial's steps; drop one")
    skipped = [v for v in suite.variants if options.per_variant and v not in spaces]
    if skipped:
        print(f"not tuned (the suite sets none of the space's keys for them): {', '.join(skipped)}")
    out = options.out_dir(suite)
    out.mkdir(parents=True, exist_ok=True)
    run_options = _trial_options(options, out)
    with ray_session(run_options):
        studies = {
            variant: run_study(load, suite, variant, space, objective, options, run_options, out)
            for variant, space in spaces.items()
        }
    print_summary(studies, spaces, objective, options.run.quiet)
    if options.export:
        export_best(options.export, suite, studies, spaces, objective)
        print(f"wrote {options.export}")
    return Tuned(suite.name, out, studies, spaces)


def _loader(source: str | Path | Mapping[str, Any], options: TuneOptions) -> tuple[Loader, Suite]:
    """The suite as every trial loads it (--steps, --set, and seeds: --seeds, else tune.seeds,
    else the suite's), and the loaded suite itself."""
    base = load_suite(source, steps=options.steps, seeds=options.seeds, overrides=options.overrides)
    if base.file.tune is None:
        raise BadInput(f"{base.path}: tune: the suite has no `tune:` section to tune")
    seeds = options.seeds or base.file.tune.seeds

    def load(extra: dict[str, Any]) -> Suite:
        return load_suite(source, steps=options.steps, seeds=seeds, overrides={**options.overrides, **extra})

    return load, load({})


def _check_export(suite: Suite, export: Path | None) -> None:
    if export is not None and suite.path.is_file() and Path(export).resolve() == suite.path.resolve():
        raise BadInput(f"--export: {export} is the suite being tuned; name a new file for the best values")


def _trial_options(options: TuneOptions, out: Path) -> RunOptions:
    """Every trial's RunOptions: the study's MLflow store (so trials nest under the study's run),
    and on a CPU-only machine with several workers, a share of the cores per trial."""
    run = replace(options.run, tracking_uri=options.run.tracking_uri or default_uri(out))
    cpu_only = run.backend == "local" and parse_devices(run.devices) == ["cpu"]
    if options.workers > 1 and cpu_only and run.runs_per_device == 0:
        run = replace(run, runs_per_device=max(1, (os.cpu_count() or 1) // options.workers))
    return run


@contextlib.contextmanager
def ray_session(options: RunOptions) -> Iterator[None]:
    """One Ray connection for the whole study: each trial's run finds Ray started and leaves it
    up, instead of starting and stopping a local cluster (seconds) per trial."""
    if options.backend != "ray":
        yield
        return
    import ray

    if ray.is_initialized():  # the caller (a notebook, a test) chose the cluster
        yield
        return
    if options.ray_address:
        ray.init(address=options.ray_address, log_to_driver=False)
    else:
        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


def run_study(
    load: Loader,
    suite: Suite,
    variant: str,
    space: Space,
    objective: Objective,
    options: TuneOptions,
    run_options: RunOptions,
    out: Path,
) -> Any:
    study = _open_study(options.study_name(suite, variant), options.storage_url(out), objective)
    remaining = (options.trials or suite.file.tune.trials) - len(finished(study))
    if remaining <= 0:
        print(f"{study.study_name}: {len(finished(study))} trials done already; ask for more with --trials")
        return study
    mlflow = StudyRun(run_options.tracking_uri, suite.name, out, study.study_name, options.storage_url(out))
    mlflow.start({"variant": variant, "objective": objective.describe(), "space": space})
    trial_options = replace(run_options, parent_run_id=mlflow.id)

    def evaluate(trial: Any) -> float:
        return _evaluate(trial, load, variant, space, objective, trial_options, out, mlflow)

    status = "FAILED"
    try:
        with trial_progress(study.study_name, objective, remaining, options.run.quiet) as progress:
            study.optimize(
                evaluate,
                n_trials=remaining,
                n_jobs=options.workers,
                catch=(TrialFailed,),
                callbacks=[progress] if progress else None,
            )
        status = "FINISHED"
    except KeyboardInterrupt:  # Interrupted (SIGINT/SIGTERM): resumable with the same command
        status = "KILLED"
        raise
    finally:
        best = decode(space, study.best_params) if finished(study, complete_only=True) else None
        mlflow.end(status, best)
    return study


def _open_study(name: str, url: str, objective: Objective) -> Any:
    import optuna

    # Optuna logs each failed trial with its traceback: the trial lines and summary say it in one.
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    storage: Any = url
    try:
        if url.startswith(("sqlite:", "postgresql", "mysql")):
            with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna's terms
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                storage = optuna.storages.RDBStorage(
                    url, heartbeat_interval=HEARTBEAT_S, grace_period=GRACE_S
                )
        study = optuna.create_study(
            study_name=name, storage=storage, direction=objective.direction, load_if_exists=True
        )
    except Exception as err:  # noqa: BLE001 - whatever the URL's driver raised: one line naming it
        text = " ".join(str(err).split("[SQL:")[0].split())[:300] or type(err).__name__
        raise BadInput(f"--storage {url}: cannot open the Optuna storage: {text}") from None
    if study.direction.name.lower() != objective.direction:
        raise BadInput(
            f"--study {name}: the stored study is to {study.direction.name.lower()}, but "
            f"{objective.metric.name} is to {objective.direction}; name another study"
        )
    study.sampler = optuna.samplers.TPESampler(seed=len(study.trials))
    _requeue_interrupted(study)
    return study


def _requeue_interrupted(study: Any) -> None:
    """Trials a signal stopped (FAIL, marked `interrupted`) are tried again first, once each: their
    dirs hold the runs they finished, so only the rest trains."""
    resumed = {t.user_attrs.get("resumes") for t in study.trials}
    for trial in study.trials:
        if trial.state.name == "FAIL" and trial.user_attrs.get("interrupted") and trial.number not in resumed:
            study.enqueue_trial(trial.params, user_attrs={"resumes": trial.number})


def _evaluate(
    trial: Any,
    load: Loader,
    variant: str,
    space: Space,
    objective: Objective,
    options: RunOptions,
    out: Path,
    mlflow: StudyRun,
) -> float:
    """One trial: its value, or TrialFailed (a run failed) / TrialPruned (no value)."""
    import optuna

    values = suggest(trial, space)
    since = int(time.time() * 1000) - 1
    trial.set_user_attr("dir", str(trial_dir(out, variant, values)))
    try:
        result = run_trial(load, variant, values, objective.dataset, options, out)
    except KeyboardInterrupt:  # SIGINT/SIGTERM: the next invocation runs these values again
        trial.set_user_attr("interrupted", True)
        raise
    trial.set_user_attr("run_ids", [str(r) for r in result.runs.get("run_id", [])])
    trial.set_user_attr("trained", result.trained)
    try:
        run_values = objective.run_values(result.runs, variant)
    except TrialFailed as err:
        trial.set_user_attr("error", str(err))
        mlflow.log_trial(trial.number, result, values, None, since)
        raise
    value = objective.score(run_values)
    trial.set_user_attr("values", [v if math.isfinite(v) else None for v in run_values])
    mlflow.log_trial(trial.number, result, values, (objective.metric.name, value), since)
    if not math.isfinite(value):
        raise optuna.TrialPruned(f"a run diverged and {objective.metric.name} has no finite worst value")
    return value
