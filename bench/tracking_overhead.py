"""Share of a suite's wall time spent recording: MLflow (batched), sample plots, run records.

    .venv/bin/python bench/tracking_overhead.py [SUITE] [--steps N]

Runs the suite once into a fresh temporary dir (real SQLite MLflow store) and times, inside the
same invocation, the parent-side recording of every run against the whole `run_suite` call.
Target (issue 4): recording adds under 5% to a suite's wall time. For scale it also times the
unbatched way (one log_metric call per point) on one run's history.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ganbench import (
    api,  # noqa: E402
    samples,  # noqa: E402
    store,  # noqa: E402
)
from ganbench.suite import load_suite  # noqa: E402
from ganbench.tracking import Tracker  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("suite", nargs="?", default="suites/ci_smoke.yaml")
    parser.add_argument("--steps", type=int, default=None)
    args = parser.parse_args()
    suite = load_suite(args.suite, steps=args.steps)

    spent = {"mlflow": 0.0, "parent": 0.0, "plots": 0.0, "records": 0.0}

    def timed(key, fn):
        def wrapper(*a, **k):
            start = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                spent[key] += time.perf_counter() - start

        return wrapper

    Tracker.log_run = timed("mlflow", Tracker.log_run)
    Tracker.log_suite = timed("parent", Tracker.log_suite)  # the parent's leaderboard and claims
    samples.save_generator = timed("records", samples.save_generator)
    api._artifacts = timed("plots", api._artifacts)
    store.save = timed("records", store.save)

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        outcome = api.run_suite(suite, api.RunOptions(out=Path(tmp), quiet=True))
        wall = time.perf_counter() - start
        trained = outcome.runs[outcome.runs["status"] != "reference"]  # references have no history
        history = store.load(Path(tmp))[trained["run_id"].iloc[0]].history
        unbatched = time_unbatched(Path(tmp), history)

    recording = sum(spent.values())
    points = sum(len(v) for v in history.values())
    print(f"{suite.name}: {len(trained)} runs trained, suite wall {wall:.1f} s")
    for key, seconds in spent.items():
        print(f"  {key:8} {seconds:7.2f} s  {100 * seconds / wall:5.2f}% of wall")
    print(f"  total    {recording:7.2f} s  {100 * recording / wall:5.2f}% of wall (target < 5%)")
    print(
        f"one run's {points} history points: unbatched log_metric {unbatched:.2f} s vs batched share "
        f"{spent['mlflow'] / len(trained):.2f} s per run"
    )


def time_unbatched(out: Path, history: dict) -> float:
    """The naive alternative: one mlflow log_metric call per point."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{out / 'mlflow.db'}")
    experiment = client.create_experiment("unbatched")
    run = client.create_run(experiment)
    start = time.perf_counter()
    for name, series in history.items():
        for step, value in series:
            client.log_metric(run.info.run_id, name, value, step=step)
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
