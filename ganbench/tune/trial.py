"""One trial: the suite restricted to the tuned variant, with the trial's values applied by the
suite loader, run by ``api.run_suite`` in its own output dir, and scored by the objective.

The output dir is content-addressed, OUT/trials/<variant>-<hash of the values>: a trial that
repeats values (TPE re-proposes points of a discrete space; a resumed study) reuses the finished
runs there, as `ganbench run` does, and one interrupted mid-way resumes its runs. Two trials with
the same values at once wait for each other's lock rather than train the same runs twice.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from ganbench.api import RunOptions, run_suite
from ganbench.suite import Suite
from ganbench.tune.space import Loader, overrides


@dataclass(frozen=True)
class TrialResult:
    folder: Path
    runs: pd.DataFrame  # the tuned variant's rows of the trial's runs.csv
    trained: int  # runs trained by this trial (0: all reused)

    @property
    def mlflow_ids(self) -> list[str]:
        return [i for i in self.runs.get("mlflow_run_id", []) if isinstance(i, str) and i]


def trial_dir(out: Path, variant: str, values: dict[str, Any]) -> Path:
    key = json.dumps({"variant": variant, "values": values}, sort_keys=True, default=str)
    return out / "trials" / f"{variant}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


def restrict(suite: Suite, variant: str, dataset: str | None) -> Suite:
    """The suite cut down to one variant (and the objective's dataset): its claims, which name
    other variants, are left out; everything else stays as the loader resolved it."""
    datasets = {dataset: suite.datasets[dataset]} if dataset else dict(suite.datasets)
    file = suite.file.model_copy(update={"variants": {variant: suite.file.variants[variant]}, "claims": []})
    return replace(
        suite,
        file=file,
        variants={variant: suite.variants[variant]},
        configs={variant: suite.configs[variant]},
        datasets=datasets,
        specs=[s for s in suite.specs if s.variant == variant and s.dataset in datasets],
    )


def run_trial(
    load: Loader,
    variant: str,
    values: dict[str, Any],
    dataset: str | None,
    options: RunOptions,
    out: Path,
) -> TrialResult:
    """`options` as for the whole study (tracking URI and MLflow parent set by the caller); the
    trial's runs report to the study's progress, so theirs is off."""
    suite = restrict(load(overrides(variant, values)), variant, dataset)
    folder = trial_dir(out, variant, values)
    outcome = run_suite(suite, replace(options, out=folder, quiet=True, wait=True))
    runs = outcome.runs[outcome.runs["variant"] == variant] if not outcome.runs.empty else outcome.runs
    return TrialResult(folder, runs, outcome.trained)
