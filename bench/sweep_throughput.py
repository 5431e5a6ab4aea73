"""What a hyperparameter sweep costs: its configurations trained as shared ensembles against
each run trained on its own, both timed in this invocation.

    .venv/bin/python bench/sweep_throughput.py [SUITE] [--steps N] [--alone N]

(a) alone: `--alone` runs of the sweep spread over it, each trained by itself (K = 1), the
    cost of "one process per configuration" without even the process start-up; scaled per run.
(b) shared: every run of the suite through the planner (configurations differing only in
    per-member scalars -- lr, betas, clip, optimizer -- share an ensemble) and train_group.
Prints the number of ensembles, run-steps/s of each and the ratio. No evaluation is timed.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ganbench.runner.plan import plan_units  # noqa: E402
from ganbench.suite import load_suite  # noqa: E402
from ganbench.train import train_group  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("suite", nargs="?", default="suites/wgan_vs_gan.yaml")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--alone", type=int, default=4, help="runs timed alone (K = 1)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: one worker's share)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    suite = load_suite(args.suite, steps=args.steps)
    quiet = {"eval_every": 10**9, "eval_samples": 64, "w1_points": 16}
    specs = [replace(s, train=s.train.model_copy(update=quiet)) for s in suite.specs]
    swept = [s for s in specs if s.config]
    specs = swept or specs
    run_steps = sum(s.train.steps * s.train.n_critic for s in specs)  # critic-weighted
    units = plan_units(specs, "cpu")

    start = time.perf_counter()
    for unit in units:
        train_group(list(unit.specs), "cpu")
    shared = time.perf_counter() - start

    picks = specs[:: max(1, len(specs) // args.alone)][: args.alone]
    start = time.perf_counter()
    for spec in picks:
        train_group([spec], "cpu")
    alone_per_run = (time.perf_counter() - start) / len(picks)
    alone = alone_per_run * len(specs)

    print(
        f"{suite.name}: {len(specs)} runs ({len({(s.variant, s.config) for s in specs})} configurations) "
        f"x {args.steps} steps -> {len(units)} ensembles; torch threads {args.threads}"
    )
    print(f"{'':26}{'wall s':>9}{'critic-steps/s':>16}")
    print(f"{'each run alone (scaled)':26}{alone:9.2f}{run_steps / alone:16.1f}")
    print(f"{'shared ensembles':26}{shared:9.2f}{run_steps / shared:16.1f}")
    print(f"sweep cost in runs-alone equivalents: {shared / alone_per_run:.1f} for {len(specs)} runs")
    print(f"speed-up (shared / alone): {alone / shared:.2f}x")


if __name__ == "__main__":
    main()
