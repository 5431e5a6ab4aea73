"""Where the seconds of a small suite go, end to end, and the end-to-end ratio to the plain loop.

    .venv/bin/python bench/fixed_costs.py [--steps N] [--long-steps N] [--pairs N]

(a) Breakdown: bench/suites/wgan16.yaml (16 clipped-WGAN runs) at --steps (default 10) through
    ``ganbench.run`` into a fresh output dir with a fresh MLflow SQLite store, all in this process
    (MLflow too: imported here, so the tracker stays in-process; (d) times the side process). Phases are timed by wrapping the functions that do them: imports
    (torch, MLflow, POT, Pillow and every built-in piece, first, one package at a time, as a run
    would on its way: POT without scikit-learn), the tracking store's set-up, training (without
    its evaluations), evaluation, the reference rows, recording (MLflow children, plots,
    records), and the tables (with the parent's logging).
(b) Pictures: a run's scatter drawn by ganbench.plots (Pillow) against the same points drawn
    with matplotlib as ganbench did before (a bare Agg Figure), and matplotlib's import, which
    a run no longer pays.
(c) Held-out ratio: the same suite at --long-steps (default 300) end to end, fresh dir and store
    again, against the plain per-run loop (bench/toy_throughput.py's ``plain_run``: nn.Sequential
    MLPs, torch.optim, no evaluation) on the same specs, both timed here.
(d) From a shell: `python -m ganbench.cli run bench/suites/wgan16.yaml --steps N --quiet`, as it
    runs now (MLflow's calls in a side process that imports MLflow while the command imports
    torch, ganbench/tracker_process.py; the exit without the interpreter's teardown,
    cli.exit_now), with the side process only, and as before (MLflow imported first, so the
    tracker stays in-process; a plain exit); alternating, --pairs times each, fresh output dirs.
    Run first, while this process has imported nothing.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUITE = ROOT / "bench" / "suites" / "wgan16.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--long-steps", type=int, default=300)
    parser.add_argument("--pairs", type=int, default=3, help="(d): shell runs of each kind")
    args = parser.parse_args()
    if args.pairs > 0:  # first, while this process has imported nothing
        compare_shell_runs(args.steps, args.pairs)

    # What a `ganbench run` imports, first thing here, one package (with what it pulls in) at a time.
    sys.path.insert(0, str(ROOT))
    laps: dict[str, float] = {}
    lap = _stopwatch(laps)
    import torch  # noqa: F401

    lap("torch")
    import mlflow.store.tracking.sqlalchemy_store  # noqa: F401
    import mlflow.tracking  # noqa: F401

    lap("MLflow + its SQLAlchemy store")
    from ganbench.metrics.mog import _import_pot

    _import_pot()  # as a run does it: without scikit-learn
    lap("POT + SciPy")
    import pandas  # noqa: F401
    import PIL.Image  # noqa: F401

    from ganbench import api
    from ganbench.registry import load_builtins
    from ganbench.suite import load_suite

    load_builtins()
    lap("pandas, Pillow, ganbench")
    imports = sum(laps.values())
    spent: dict[str, float] = defaultdict(float)
    patch_phases(spent)
    suite = load_suite(SUITE, steps=args.steps)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        outcome = api.run_suite(suite, api.RunOptions(out=Path(tmp), quiet=True))
        wall = time.perf_counter() - start
    assert (outcome.runs["status"] == "finished").sum() == 16, outcome.runs["status"].value_counts()
    spent["training"] -= spent["evaluation"]  # evaluation happens inside train_group
    print(f"(a) {suite.name}: 16 runs x {args.steps} steps, end to end in this process")
    print(f"  {'imports (torch, MLflow, POT, ...)':32}{imports:7.2f} s  (before the run)")
    for name, seconds in laps.items():
        print(f"    {name:30}{seconds:7.2f} s")
    print(f"  {'run, wall':32}{wall:7.2f} s")
    rows = dict(spent)
    for name, seconds in rows.items():
        print(f"    {name:30}{seconds:7.2f} s  {100 * seconds / wall:5.1f}%")
    rest = wall - sum(rows.values())
    print(f"    {'the rest (planning, suite, ...)':30}{rest:7.2f} s  {100 * rest / wall:5.1f}%")
    print(f"  total with imports: {imports + wall:.2f} s (issue 14 target: <= 3 s on 2 quiet cores)")
    compare_pictures()

    if args.long_steps <= 0:
        return
    long_suite = load_suite(SUITE, steps=args.long_steps)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        api.run_suite(long_suite, api.RunOptions(out=Path(tmp), quiet=True))
        ganbench_s = time.perf_counter() - start
    from bench.toy_throughput import plain_run

    start = time.perf_counter()
    for spec in long_suite.specs:
        plain_run(spec, "cpu")
    plain_s = time.perf_counter() - start
    print(f"(c) 16 runs x {args.long_steps} steps: plain loop {plain_s:.1f} s (training only), ganbench end")
    print(
        f"    to end {ganbench_s:.1f} s (with evaluation, MLflow, records, tables) -> {plain_s / ganbench_s:.2f}x"
    )


def _stopwatch(laps: dict[str, float]):
    """lap(name) records the seconds since the previous lap (or since this call) under name."""
    last = [time.perf_counter()]

    def lap(name: str) -> None:
        now = time.perf_counter()
        laps[name], last[0] = now - last[0], now

    return lap


def compare_pictures(repeats: int = 10) -> None:
    """(b): ms per picture of one run's 2,500 points on ring8, Pillow against matplotlib."""
    import numpy as np

    from ganbench.data.toy import ring
    from ganbench.plots import sample_figure

    centres = ring(8, 2.0).centres.numpy()
    points = np.random.default_rng(0).normal(size=(2500, 2))
    start = time.perf_counter()
    from matplotlib.figure import Figure

    mpl_import = time.perf_counter() - start

    def matplotlib_picture(path: Path) -> None:  # ganbench's picture before Pillow
        figure = Figure(figsize=(4, 4), dpi=80)
        axes = figure.add_subplot()
        axes.scatter(points[:, 0], points[:, 1], s=2, alpha=0.4, label="generated", rasterized=True)
        axes.scatter(centres[:, 0], centres[:, 1], s=30, c="red", marker="x", label="modes")
        span = np.abs(centres).max() * 1.5 + 0.5
        axes.set_xlim(-span, span)
        axes.set_ylim(-span, span)
        axes.set_aspect("equal")
        axes.legend(loc="upper right", fontsize=7)
        axes.set_title(path.name, fontsize=8)
        figure.savefig(path)

    def ms_each(draw) -> float:
        draw(0)  # warm-up: fonts and caches
        start = time.perf_counter()
        for i in range(repeats):
            draw(i)
        return 1000 * (time.perf_counter() - start) / repeats

    with tempfile.TemporaryDirectory() as tmp:
        ours = ms_each(lambda i: sample_figure(points, centres, f"run {i}", Path(tmp) / f"p{i}.png"))
        theirs = ms_each(lambda i: matplotlib_picture(Path(tmp) / f"m{i}.png"))
    print(
        f"(b) a run's picture: Pillow {ours:.1f} ms, matplotlib {theirs:.1f} ms -> {theirs / ours:.1f}x;"
        f" importing matplotlib, which a run no longer does: {mpl_import:.2f} s"
    )


def compare_shell_runs(steps: int, pairs: int) -> None:
    """(d): seconds of whole commands: as `ganbench` runs now, with only the side process, and as
    before (both undone)."""
    import statistics
    import subprocess

    command = ["run", str(SUITE), "--steps", str(steps), "--quiet", "--out"]
    kinds = {  # the CLI's own exit is ganbench.cli.exit_now; sys.exit(main()) is the plain one
        "now": [sys.executable, "-m", "ganbench.cli", *command],
        "side process, plain exit": [sys.executable, "-c", PLAIN_EXIT, *command],
        "before (in-process, plain exit)": [
            sys.executable,
            "-c",
            "import mlflow.tracking; " + PLAIN_EXIT,
            *command,
        ],
    }
    seconds: dict[str, list[float]] = defaultdict(list)
    for _ in range(pairs):
        for kind, argv in kinds.items():
            with tempfile.TemporaryDirectory() as tmp:
                start = time.perf_counter()
                done = subprocess.run([*argv, tmp], cwd=ROOT, capture_output=True, text=True)
                seconds[kind].append(time.perf_counter() - start)
            assert done.returncode == 0, done.stderr
    median = {kind: statistics.median(values) for kind, values in seconds.items()}
    before = median["before (in-process, plain exit)"]
    print(f"(d) `ganbench run` 16 x {steps} steps from a shell, median of {pairs} (alternating):")
    for kind, values in seconds.items():
        runs = " ".join(f"{s:.2f}" for s in values)
        print(f"    {kind:32}{median[kind]:6.2f} s  ({runs})  {before / median[kind]:.2f}x")


# The CLI without its fast exit; with MLflow imported first, tracker_process.wanted() is False
# and the tracker stays in-process: the command as it was before both.
PLAIN_EXIT = "import sys; from ganbench.cli import main; sys.exit(main(sys.argv[1:]))"


def patch_phases(spent: dict[str, float]) -> None:
    """Wrap the functions of each phase so that their time adds up in `spent`."""
    from ganbench import api, references, samples, store, tracking, train
    from ganbench.runner import local

    def timed(key: str, fn):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[key] += time.perf_counter() - start

        return wrapper

    tracking.Tracker.__init__ = timed("tracking store set-up", tracking.Tracker.__init__)
    local.train_group = timed("training", local.train_group)
    train._evaluate_members = timed("evaluation", train._evaluate_members)
    every = lambda specs, context: list(references.evaluate_references(specs, context))  # noqa: E731
    api.evaluate_references = timed("reference rows", every)
    tracking.Tracker.log_run = timed("recording: MLflow children", tracking.Tracker.log_run)
    api._artifacts = timed("recording: plots", api._artifacts)
    store.save = timed("recording: records", store.save)
    samples.save = timed("recording: records", samples.save)
    samples.save_generator = timed("recording: records", samples.save_generator)
    api.tabulate = timed("tables (+ MLflow parent)", api.tabulate)
    tracking.Tracker.log_suite = timed("tables (+ MLflow parent)", tracking.Tracker.log_suite)


if __name__ == "__main__":
    main()
