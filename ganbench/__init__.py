"""ganbench: a declarative GAN benchmark and reproducibility harness.

Python API (docs/python-api.md)::

    import ganbench
    outcome = ganbench.run("suites/ci_smoke.yaml", steps=200, out="runs/try")
    outcome.runs, outcome.leaderboard, outcome.claims   # pandas DataFrames

Importing ganbench is cheap: the API (and torch) load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from ganbench.api import Outcome, RunOptions
    from ganbench.suite import Suite

__all__ = ["Outcome", "RunOptions", "Suite", "load_suite", "run", "__version__"]


def run(suite: Any, **options: Any) -> Outcome:
    """Run a suite (a path, a dict or a loaded Suite); see ganbench.api.run."""
    from ganbench.tracker_process import discard, prestart

    prestart()  # MLflow is imported in a side process while the API imports torch
    try:
        from ganbench.api import run as run_api

        return run_api(suite, **options)
    finally:
        discard()  # not taken (bad input, nothing to train): ended


def load_suite(
    suite: Any, *, steps: int | None = None, seeds: int | None = None, overrides: dict[str, Any] | None = None
) -> Suite:
    """Validate and expand a suite (a path or a dict) without training; see ganbench.suite.load_suite."""
    from ganbench.suite import load_suite as load

    return load(suite, steps=steps, seeds=seeds, overrides=overrides)


def __getattr__(name: str) -> Any:
    if name in ("Outcome", "RunOptions"):
        from ganbench import api

        return getattr(api, name)
    if name == "Suite":
        from ganbench.suite import Suite

        return Suite
    raise AttributeError(f"module 'ganbench' has no attribute {name!r}")
