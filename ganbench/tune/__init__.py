"""`ganbench tune`: Optuna over a variant's hyperparameters, as a client of the library.

A trial is the suite itself, restricted to the tuned variant (and the objective's dataset), with
the trial's values applied as `--set`-style overrides (``variants.<name>.<key path>``) through the
suite loader, and run with ``api.run_suite``: every backend, records, MLflow, resume and the
machine flags (--data-root, --precision, ...) work for trials exactly as for `ganbench run`.

    options.py    TuneOptions: a RunOptions plus the study's own settings
    space.py      the search space: validation, per-variant spaces, Optuna suggestions
    objective.py  the named objective: metric, dataset, aggregation, direction
    trial.py      one trial: the restricted suite, its output dir, run_suite, the score
    tracking.py   the study's MLflow parent run, each trial's suite run nested under it
    progress.py   a bar over trials, or one line per finished trial
    study.py      the loop: create or resume the study, run the trials, summarise, export
"""

from ganbench.tune.objective import Objective
from ganbench.tune.options import TuneOptions
from ganbench.tune.study import Tuned, tune_suite

__all__ = ["Objective", "TuneOptions", "Tuned", "tune_suite"]
