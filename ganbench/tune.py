"""`ganbench tune`: Optuna over a variant's hyperparameters, each trial one ensemble of seeds.

A trial samples the suite's `tune.space` (dotted key paths into the variant), validates the
variant exactly as the suite loader would, trains all its seeds (on the objective's dataset, or on
every dataset) as ensembles, and scores the mean final metric over seeds. A diverged seed counts as
the metric's registered worst value; with no finite worst (e.g. w1) the trial is pruned, so that
divergence is never rewarded. Tuning changes variants only: claims and their `expect` stay as
written, and an exported suite is a new file.
"""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from ganbench.errors import BadInput
from ganbench.metrics import metric_info
from ganbench.runner.plan import plan_units
from ganbench.suite import RunSpec, Suite, TrainConfig, deep_merge, load_suite
from ganbench.train import train_group

console = Console()


def nested(flat: dict[str, Any]) -> dict[str, Any]:
    """{"optimizer.lr": 1e-3} -> {"optimizer": {"lr": 1e-3}}"""
    tree: dict[str, Any] = {}
    for path, value in flat.items():
        node = tree
        *parents, leaf = path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return tree


def suggest(trial, space: dict[str, dict[str, list[Any]]]) -> dict[str, Any]:
    values = {}
    for key, spec in space.items():
        (kind, bounds), = spec.items()
        if kind == "log_uniform":
            values[key] = trial.suggest_float(key, bounds[0], bounds[1], log=True)
        elif kind == "uniform":
            values[key] = trial.suggest_float(key, bounds[0], bounds[1])
        elif kind == "int":
            values[key] = trial.suggest_int(key, bounds[0], bounds[1])
        else:
            values[key] = trial.suggest_categorical(key, bounds)
    return values


def variant_config(suite: Suite, variant: str, values: dict[str, Any], steps: int | None) -> TrainConfig:
    merged = deep_merge(suite.file.defaults, deep_merge(suite.file.variants[variant], nested(values)))
    if steps is not None:
        merged["steps"] = steps
    return TrainConfig.model_validate(merged)


def check_space(suite: Suite, variant: str, steps: int | None) -> None:
    """Every key path must name a field of the variant, and every bound must validate."""
    for key, spec in suite.file.tune.space.items():
        (kind, bounds), = spec.items()
        if kind != "choice" and len(bounds) != 2:
            raise BadInput(f"{suite.path}: tune.space.{key}.{kind}: expected [low, high], got {bounds!r}")
        for bound in bounds:
            try:
                variant_config(suite, variant, {key: bound}, steps)
            except ValidationError as err:
                problem = err.errors()[0]
                raise BadInput(f"{suite.path}: tune.space.{key}: {problem['msg']} (at {bound!r})") from None


def objective_value(suite: Suite, variant: str, values: dict[str, Any], steps: int | None) -> tuple[float, list, list]:
    tune = suite.file.tune
    train = variant_config(suite, variant, values, steps)
    labels = [tune.objective.dataset] if tune.objective.dataset else list(suite.datasets)
    seeds = list(range(tune.seeds)) if tune.seeds else suite.seeds
    specs = [RunSpec(suite.name, variant, label, suite.datasets[label], seed, train) for label in labels for seed in seeds]
    info = metric_info(tune.objective.metric)
    results = [r for unit in plan_units(specs) for r in train_group(list(unit.specs))]
    finals = []
    for result in results:
        value = result.metrics.get(tune.objective.metric, float("nan"))
        if result.status != "finished" or not np.isfinite(value):
            value = info.worst if info.worst is not None else float("nan")
        finals.append(value)
    return float(np.mean(finals)), [r.spec.run_id for r in results], finals


def _optimize(
    suite_path: str, steps: int | None, variant: str, storage: str, study_name: str, n_trials: int, worker: int = 0
) -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    suite = load_suite(suite_path, steps=steps)
    study = optuna.load_study(study_name=study_name, storage=storage, sampler=optuna.samplers.TPESampler(seed=worker))

    def objective(trial) -> float:
        value, run_ids, finals = objective_value(suite, variant, suggest(trial, suite.file.tune.space), steps)
        trial.set_user_attr("run_ids", run_ids)
        trial.set_user_attr("values", finals)
        if not np.isfinite(value):
            raise optuna.TrialPruned("a seed diverged and the metric has no finite worst value")
        return value

    study.optimize(objective, n_trials=n_trials)


def tune_suite(args) -> None:
    import optuna

    suite = load_suite(args.suite, steps=args.steps)
    tune = suite.file.tune
    if tune is None:
        raise BadInput(f"{args.suite}: tune: the suite has no `tune:` section to tune")
    out = args.out or Path("runs") / f"{suite.name}-tune"
    out.mkdir(parents=True, exist_ok=True)
    storage = args.storage or f"sqlite:///{(out / 'optuna.db').resolve()}"
    direction = "maximize" if metric_info(tune.objective.metric).higher_is_better else "minimize"
    variants = list(suite.variants) if args.per_variant else [tune.variant]
    best: dict[str, dict[str, Any]] = {}
    for variant in variants:
        check_space(suite, variant, args.steps)
        name = args.study or f"{suite.name}-{variant}"
        name = f"{name}-{variant}" if args.per_variant and args.study else name
        # Created here, before any worker: concurrent creation of a fresh SQLite study fails.
        study = optuna.create_study(study_name=name, storage=storage, direction=direction, load_if_exists=True)
        _run_trials(str(args.suite), args.steps, variant, storage, name, args.trials or tune.trials, args.workers)
        study = optuna.load_study(study_name=name, storage=storage)
        if not args.quiet:
            console.print(_best_table(study, variant, tune.objective.metric))
        complete = [t for t in study.trials if t.state.name == "COMPLETE"]
        if complete:
            best[variant] = study.best_params
            console.print(f"best {tune.objective.metric} for {variant}: {study.best_value:.4g} with {study.best_params}")
    if args.export:
        export_suite(suite, best, args.export)
        console.print(f"wrote {args.export}")


def _run_trials(suite_path: str, steps, variant: str, storage: str, name: str, trials: int, workers: int) -> None:
    if workers <= 1:
        _optimize(suite_path, steps, variant, storage, name, trials)
        return
    shares = [trials // workers + (i < trials % workers) for i in range(workers)]
    ctx = mp.get_context("spawn")
    procs = [
        ctx.Process(target=_optimize, args=(suite_path, steps, variant, storage, name, n, i))
        for i, n in enumerate(shares)
        if n
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join()


def _best_table(study, variant: str, metric: str) -> Table:
    table = Table(title=f"{study.study_name}: best trials ({metric})")
    for column in ("trial", "value", "params"):
        table.add_column(column)
    complete = [t for t in study.trials if t.value is not None]
    reverse = study.direction.name == "MAXIMIZE"
    for trial in sorted(complete, key=lambda t: t.value, reverse=reverse)[:5]:
        table.add_row(str(trial.number), f"{trial.value:.4g}", str(trial.params))
    return table


def export_suite(suite: Suite, best: dict[str, dict[str, Any]], path: Path) -> None:
    """The suite file with each tuned variant's values replaced by its best parameters."""
    raw = yaml.safe_load(Path(suite.path).read_text())
    for variant, params in best.items():
        raw["variants"][variant] = deep_merge(raw["variants"][variant], nested(params))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
