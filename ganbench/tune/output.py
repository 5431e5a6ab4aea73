"""What `ganbench tune` prints and writes: the best trials per study, and --export's overrides."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.table import Table

from ganbench.suite import Suite
from ganbench.tune.objective import Objective
from ganbench.tune.space import Space, decode


def finished(study: Any, complete_only: bool = False) -> list[Any]:
    """Trials that count towards --trials: complete ones, and pruned ones (no value)."""
    states = ("COMPLETE",) if complete_only else ("COMPLETE", "PRUNED")
    return [t for t in study.trials if t.state.name in states]


def summary(studies: dict[str, Any], spaces: dict[str, Space]) -> dict[str, Any]:
    """Per tuned variant: study, trial counts by state, best value and values (--json)."""
    result = {}
    for variant, study in studies.items():
        states = [t.state.name.lower() for t in study.trials]
        best = finished(study, complete_only=True)
        result[variant] = {
            "study": study.study_name,
            "trials": {s: states.count(s) for s in sorted(set(states))},
            "best_value": study.best_value if best else None,
            "best_params": decode(spaces[variant], study.best_params) if best else None,
            "best_trial": study.best_trial.number if best else None,
        }
    return result


def print_summary(
    studies: dict[str, Any], spaces: dict[str, Space], objective: Objective, quiet: bool
) -> None:
    console = Console()
    for variant, entry in summary(studies, spaces).items():
        counts = ", ".join(f"{n} {s}" for s, n in entry["trials"].items())
        if not quiet:
            console.print(_best_table(studies[variant], objective, spaces[variant]))
        if entry["best_params"] is None:
            console.print(f"{variant}: no complete trial ({counts})")
        else:
            console.print(
                f"best {objective.metric.name} for {variant}: {entry['best_value']:.4g} with "
                f"{_fmt(entry['best_params'])} (trial {entry['best_trial']}; {counts})"
            )


def _fmt(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())


def _best_table(study: Any, objective: Objective, space: Space, rows: int = 5) -> Table:
    table = Table(title=f"{study.study_name}: best trials ({objective.describe()})")
    for column in ("trial", "value", "runs", "params"):
        table.add_column(column)
    reverse = objective.metric.higher_is_better
    for trial in sorted(finished(study, complete_only=True), key=lambda t: t.value, reverse=reverse)[:rows]:
        runs = str(len(trial.user_attrs.get("run_ids", [])))
        table.add_row(str(trial.number), f"{trial.value:.4g}", runs, _fmt(decode(space, trial.params)))
    return table


def export_best(
    path: Path, suite: Suite, studies: dict[str, Any], spaces: dict[str, Space], objective: Objective
) -> None:
    """The best values as a YAML mapping of overrides (``variants.<name>.<key path>: value``):
    what `--set` and ``ganbench.run(..., overrides=...)`` take. Claims are not re-checked here:
    run `ganbench check` with the overrides to test them with the tuned values."""
    entries = summary(studies, spaces)
    best = {v: e for v, e in entries.items() if e["best_params"] is not None}
    header = [f"# Best values found by `ganbench tune {suite.path}` ({objective.describe()}):"]
    header += [
        f"#   {v}: {e['best_value']:.6g} at trial {e['best_trial']} of study {e['study']}"
        for v, e in best.items()
    ]
    header += [
        "# Overrides of the suite: ganbench run SUITE --set KEY=VALUE for each line, or in Python",
        "#   ganbench.run(SUITE, overrides=yaml.safe_load(open(THIS_FILE)))",
    ]
    overrides = {f"variants.{v}.{k}": value for v, e in best.items() for k, value in e["best_params"].items()}
    text = "\n".join(header) + "\n" + (yaml.safe_dump(overrides, sort_keys=False) if overrides else "{}\n")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(text)
