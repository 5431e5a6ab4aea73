"""`ganbench tune`: Optuna over a variant's hyperparameters, each trial one ensemble of seeds.

A trial samples the suite's `tune.space` (dotted key paths into the variant, e.g. optimizer.lr),
deep-merges the values into the variant exactly as the suite loader merges `defaults`, validates
the result as a TrainConfig, trains all its seeds (on the objective's dataset, or on every
dataset) with `train_group`, and scores the mean final metric over those runs. Every trial uses
the same seeds, so trials differ only in their hyperparameters.

Choices made here:
- A diverged seed counts as the metric's registered worst value (0 modes covered, ...). A metric
  with no finite worst (w1, FID) cannot score divergence, so such a trial is pruned: TPE ranks
  pruned trials below complete ones, so divergence is never rewarded.
- A trial whose training raises is marked FAIL (the error kept in its user attrs) and the study
  goes on; a bad suite or flag still stops everything with one line.
- The study has a MedianPruner and every trial reports its learning curve (the metric at each
  evaluation, mean over seeds) as intermediate values, but the curve is only known after the
  ensemble has trained: pruning during training needs an evaluation hook in `train_group`.
- `--workers N` runs N processes on one storage, created here first (concurrent creation of a
  fresh SQLite study fails). Worker i samples with TPESampler(seed=i): equal seeds would propose
  the same first trials in every worker. A study that exists already gets --trials more trials.
- `--per-variant`: the space was written for `tune.variant`, so every key applies there; another
  variant gets only the keys the suite sets for it (in `defaults` or its own keys), so tuning
  never switches on a mechanism (clipping, a penalty, EMA) that the variant does not use.
- Tuning changes variants only: claims and their `expect` stay as written, and an exported suite
  is a new file whose claims must be checked again with `ganbench check`.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from ganbench.errors import BadInput
from ganbench.metrics import EvalContext, MetricInfo, metric_info
from ganbench.registry import METRICS, UnknownName
from ganbench.suite import (
    RunSpec,
    Suite,
    TrainConfig,
    apply_overrides,
    deep_merge,
    load_suite,
    variant_body,
)
from ganbench.sweep import check_distribution, nested
from ganbench.train import RunResult

console = Console()
Space = dict[str, dict[str, list[Any]]]
PRIMITIVE = (type(None), bool, int, float, str)  # what Optuna stores as a categorical value


class TrialFailed(Exception):
    """Training raised: the trial is marked FAIL and the study continues."""


@dataclass(frozen=True)
class Job:
    """What one worker process needs to run its share of a study's trials (picklable for spawn)."""

    suite_path: str
    steps: int | None
    variant: str
    space: Space
    storage: str
    study: str
    trials: int
    out: str
    worker: int = 0
    workers: int = 1
    quiet: bool = False
    overrides: dict[str, Any] | None = None  # --set key.path=value


# ----------------------------------------------------------------------------- the command


def tune_suite(args) -> None:
    overrides = dict(getattr(args, "overrides", None) or [])
    suite = load_suite(args.suite, steps=args.steps, overrides=overrides)
    tune = suite.file.tune
    if tune is None:
        raise BadInput(f"{args.suite}: tune: the suite has no `tune:` section to tune")
    info = _objective_info(suite)
    if args.export and Path(args.export).resolve() == Path(args.suite).resolve():
        raise BadInput(
            f"--export: {args.export} is the suite being tuned; write the tuned suite to a new file"
        )
    out = Path(args.out) if args.out else Path("runs") / f"{suite.name}-tune"
    out.mkdir(parents=True, exist_ok=True)
    storage = args.storage or f"sqlite:///{(out / 'optuna.db').resolve()}"
    spaces = variant_spaces(suite, args.per_variant, args.steps)
    studies = {}
    for variant, space in spaces.items():
        name = f"{args.study or suite.name}-{variant}" if args.per_variant or not args.study else args.study
        job = Job(
            str(args.suite),
            args.steps,
            variant,
            space,
            storage,
            name,
            args.trials or tune.trials,
            str(out),
            workers=args.workers,
            quiet=args.quiet,
            overrides=overrides,
        )
        studies[variant] = run_study(job, "maximize" if info.higher_is_better else "minimize")
    best = {v: decode(spaces[v], study.best_params) for v, study in studies.items() if _complete(study)}
    _print_summary(studies, spaces, info.name, args.quiet)
    if args.export:
        export_suite(suite, best, Path(args.export), studies, args.steps, overrides)
        console.print(f"wrote {args.export}")


def _objective_info(suite: Suite) -> MetricInfo:
    where = f"{suite.path}: tune.objective.metric"
    try:
        info = metric_info(suite.file.tune.objective.metric)
    except UnknownName as err:
        raise BadInput(f"{where}: {err}") from None
    per_variant = info.name == "divergence_rate" or (info.name.endswith("_std") and info.name not in METRICS)
    if per_variant:  # seed-to-seed spread (w1_std) or a rate: no single run has one
        raise BadInput(f"{where}: {info.name!r} describes a variant, not a run; name a per-run metric")
    return info


def run_study(job: Job, direction: str):
    """Create the study (here, before any worker), run its trials in `job.workers` processes."""
    import optuna

    optuna.create_study(study_name=job.study, storage=job.storage, direction=direction, load_if_exists=True)
    if job.workers <= 1:
        _optimize(job)
    else:
        _spawn(job)
    return optuna.load_study(study_name=job.study, storage=job.storage)


def _spawn(job: Job) -> None:
    shares = [job.trials // job.workers + (i < job.trials % job.workers) for i in range(job.workers)]
    ctx = mp.get_context("spawn")  # fork after torch has started threads is unsafe
    bad_input = ctx.SimpleQueue()
    procs = [
        ctx.Process(target=_worker, args=(replace(job, trials=n, worker=i), bad_input))
        for i, n in enumerate(shares)
        if n
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join()
    if not bad_input.empty():  # the user's mistake, found by a worker: one line, as in-process
        raise BadInput(bad_input.get())
    crashed = [f"worker {i} (exit code {p.exitcode})" for i, p in enumerate(procs) if p.exitcode != 0]
    if crashed:
        raise RuntimeError(f"tune: {', '.join(crashed)} stopped; the error is printed above")


def _worker(job: Job, bad_input) -> None:
    try:
        _optimize(job)
    except BadInput as err:
        bad_input.put(str(err))
        raise SystemExit(2) from None


# ----------------------------------------------------------------------------- one worker


def _optimize(job: Job) -> None:
    import optuna
    import torch

    from ganbench.api import RunOptions, eval_context

    optuna.logging.set_verbosity(optuna.logging.WARNING if job.quiet else optuna.logging.INFO)
    suite = load_suite(job.suite_path, steps=job.steps, overrides=job.overrides)
    device = _device(job.worker)
    if device == "cpu" and job.workers > 1:  # share the cores instead of oversubscribing them
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // job.workers))
    context = eval_context(suite, RunOptions(), Path(job.out))
    study = optuna.load_study(
        study_name=job.study,
        storage=job.storage,
        sampler=optuna.samplers.TPESampler(seed=job.worker),
        pruner=optuna.pruners.MedianPruner(),
    )
    study.optimize(
        lambda trial: objective(trial, suite, job, device, context), n_trials=job.trials, catch=(TrialFailed,)
    )


def _device(worker: int) -> str:
    import torch

    gpus = torch.cuda.device_count()
    return f"cuda:{worker % gpus}" if gpus else "cpu"


def objective(trial, suite: Suite, job: Job, device: str, context: EvalContext) -> float:
    import optuna

    values = suggest(trial, job.space)
    specs = trial_specs(suite, job.variant, values, job.steps)
    results = _train(trial, specs, device, context)
    info = metric_info(suite.file.tune.objective.metric)
    _check_metric(suite, results, info.name)
    finals = [final_value(r, info) for r in results]
    trial.set_user_attr("run_ids", [r.spec.run_id for r in results])
    trial.set_user_attr("values", finals)
    trial.set_user_attr("statuses", [r.status for r in results])
    for step, value in learning_curve(results, info):
        trial.report(value, step)
    score = float(np.mean(finals))
    if not np.isfinite(score):
        raise optuna.TrialPruned(f"a run diverged and {info.name} has no finite worst value")
    return score


def _train(trial, specs: list[RunSpec], device: str, context: EvalContext) -> list[RunResult]:
    from ganbench.runner.plan import plan_units
    from ganbench.train import train_group

    try:
        return [
            r for unit in plan_units(specs, device) for r in train_group(list(unit.specs), device, context)
        ]
    except BadInput:
        raise
    except Exception as err:  # noqa: BLE001 - one failing configuration must not end the study
        trial.set_user_attr("error", f"{type(err).__name__}: {err}")
        raise TrialFailed(f"trial {trial.number}: {type(err).__name__}: {err}") from err


def _check_metric(suite: Suite, results: list[RunResult], metric: str) -> None:
    """A per-variant metric (e.g. w1_std) never appears in a run's metrics: say so once, clearly."""
    finished = [r for r in results if r.status == "finished"]
    if finished and all(metric not in r.metrics for r in finished):
        names = ", ".join(sorted(finished[0].metrics))
        raise BadInput(
            f"{suite.path}: tune.objective.metric: {metric!r} is not a per-run metric here; runs report {names}"
        )


# ----------------------------------------------------------------------------- pure pieces


def suggest(trial, space: Space) -> dict[str, Any]:
    """One value per key path; choices Optuna cannot store (lists) travel as JSON strings."""
    values = {}
    for key, spec in space.items():
        ((kind, bounds),) = spec.items()
        if kind == "log_uniform":
            values[key] = trial.suggest_float(key, bounds[0], bounds[1], log=True)
        elif kind == "uniform":
            values[key] = trial.suggest_float(key, bounds[0], bounds[1])
        elif kind == "int":
            values[key] = trial.suggest_int(key, bounds[0], bounds[1])
        else:
            values[key] = trial.suggest_categorical(
                key, [json.dumps(c) for c in bounds] if _encoded(bounds) else bounds
            )
    return decode(space, values)


def _encoded(choices: list[Any]) -> bool:
    return not all(isinstance(c, PRIMITIVE) for c in choices)


def decode(space: Space, params: dict[str, Any]) -> dict[str, Any]:
    """Optuna's stored params -> the values that go into the variant."""
    decoded = {}
    for key, value in params.items():
        ((kind, bounds),) = space[key].items()
        decoded[key] = json.loads(value) if kind == "choice" and _encoded(bounds) else value
    return decoded


def variant_config(suite: Suite, variant: str, values: dict[str, Any], steps: int | None) -> TrainConfig:
    merged = deep_merge(variant_body(suite.file, variant), nested(values))
    if steps is not None:
        merged["steps"] = steps
    return TrainConfig.model_validate(merged)


def trial_specs(suite: Suite, variant: str, values: dict[str, Any], steps: int | None) -> list[RunSpec]:
    tune = suite.file.tune
    train = variant_config(suite, variant, values, steps)
    labels = [tune.objective.dataset] if tune.objective.dataset else list(suite.datasets)
    seeds = list(range(tune.seeds)) if tune.seeds else suite.seeds
    return [
        RunSpec(suite.name, variant, label, suite.datasets[label], seed, train)
        for label in labels
        for seed in seeds
    ]


def final_value(result: RunResult, info: MetricInfo) -> float:
    """The run's final metric; a diverged or failed run, or a non-finite value, counts as the
    metric's worst (NaN when it has none, which prunes the trial)."""
    value = result.metrics.get(info.name, float("nan"))
    if result.status == "finished" and np.isfinite(value):
        return float(value)
    return float("nan") if info.worst is None else info.worst


def learning_curve(results: list[RunResult], info: MetricInfo) -> list[tuple[int, float]]:
    """(step, mean over runs) at each evaluation; a run with no value there counts as the worst,
    and the curve stops where that is undefined."""
    histories = [dict(r.history.get(info.name, [])) for r in results]
    curve = []
    for step in sorted({s for h in histories for s in h}):
        values = [h.get(step, np.nan) for h in histories]
        values = [v if np.isfinite(v) else (np.nan if info.worst is None else info.worst) for v in values]
        if not np.isfinite(values).all():
            break
        curve.append((int(step), float(np.mean(values))))
    return curve


def variant_spaces(suite: Suite, per_variant: bool, steps: int | None) -> dict[str, Space]:
    """The variants to tune and the space of each, every bound validated (BadInput otherwise)."""
    tune = suite.file.tune
    spaces = {tune.variant: tune.space}
    if per_variant:
        for variant in suite.variants:
            if variant != tune.variant:
                merged = variant_body(suite.file, variant)
                spaces[variant] = {k: v for k, v in tune.space.items() if _has_path(merged, k)}
    for variant, space in spaces.items():
        check_space(suite, variant, space, steps)
    skipped = [v for v, space in spaces.items() if not space]
    if skipped:
        console.print(f"not tuned (the suite sets none of the space's keys for them): {', '.join(skipped)}")
    return {v: space for v, space in spaces.items() if space}


def _has_path(tree: dict[str, Any], path: str) -> bool:
    node: Any = tree
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def check_space(suite: Suite, variant: str, space: Space, steps: int | None) -> None:
    """Every key path must name a field of the variant, and every bound must validate."""
    for key, spec in space.items():
        where = f"{suite.path}: tune.space.{key}"
        problem = check_distribution(spec)
        if problem:
            raise BadInput(f"{where}: {problem}" if len(spec) != 1 else f"{where}.{problem}")
        ((kind, bounds),) = spec.items()
        for bound in bounds:
            try:
                variant_config(suite, variant, {key: bound}, steps)
            except ValidationError as err:
                problem = err.errors()[0]
                raise BadInput(f"{where}: {problem['msg']} (at {bound!r}, variant {variant})") from None


# ----------------------------------------------------------------------------- output


def _complete(study) -> list:
    return [t for t in study.trials if t.state.name == "COMPLETE"]


def _print_summary(studies: dict[str, Any], spaces: dict[str, Space], metric: str, quiet: bool) -> None:
    for variant, study in studies.items():
        states = [t.state.name.lower() for t in study.trials]
        counts = ", ".join(f"{states.count(s)} {s}" for s in sorted(set(states)))
        if not quiet:
            console.print(_best_table(study, metric, spaces[variant]))
        if _complete(study):
            best = _fmt(decode(spaces[variant], study.best_params))
            console.print(f"best {metric} for {variant}: {study.best_value:.4g} with {best} ({counts})")
        else:
            console.print(f"{variant}: no complete trial ({counts})")


def _fmt(params: dict[str, Any]) -> str:
    return ", ".join(
        f"{key}={value:.4g}" if isinstance(value, float) else f"{key}={value}"
        for key, value in params.items()
    )


def _best_table(study, metric: str, space: Space, rows: int = 5) -> Table:
    table = Table(title=f"{study.study_name}: best trials ({metric}, {study.direction.name.lower()})")
    for column in ("trial", "value", "runs", "params"):
        table.add_column(column)
    reverse = study.direction.name == "MAXIMIZE"
    for trial in sorted(_complete(study), key=lambda t: t.value, reverse=reverse)[:rows]:
        table.add_row(
            str(trial.number),
            f"{trial.value:.4g}",
            str(len(trial.user_attrs.get("run_ids", []))),
            _fmt(decode(space, trial.params)),
        )
    return table


def export_suite(
    suite: Suite,
    best: dict[str, dict[str, Any]],
    path: Path,
    studies: dict[str, Any],
    steps: int | None,
    overrides: dict[str, Any] | None = None,
) -> None:
    """The suite file with each tuned variant's values replaced by its best parameters; claims,
    seeds and everything else exactly as written (YAML comments are not kept)."""
    raw = yaml.safe_load(Path(suite.path).read_text())
    if overrides:  # the suite as tuned: --set values are written in
        apply_overrides(raw, overrides, suite.path)
    for variant, params in best.items():
        raw["variants"][variant] = deep_merge(raw["variants"][variant] or {}, nested(params))
    header = [f"# {suite.path} with values tuned by `ganbench tune`:"]
    header += [
        f"#   {v}: study {studies[v].study_name}, best {studies[v].best_value:.4g} of "
        f"{len(_complete(studies[v]))} complete trials"
        for v in best
    ]
    if steps is not None:
        header.append(f"# Tuned with --steps {steps}; the steps written below are the suite's own.")
    header.append(
        "# Claims and their `expect` are unchanged: run `ganbench check` on this file to test them again."
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(header) + "\n" + yaml.safe_dump(raw, sort_keys=False))
