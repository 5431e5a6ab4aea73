"""Sweeps at scale: a 120-run sweep against the 40 first runs of the main suite, in one invocation.

    .venv/bin/python bench/sweep_scale.py [--steps N] [--threads N]

Both go through the planner (``plan_units``: runs that differ only in per-member scalars share an
ensemble) and ``train_group`` without evaluation, on this process's torch threads. Prints each
one's runs, ensembles, critic-steps/s and the ratio 120-run / 40-run: a sweep that trains as few
ensembles as its shapes allow keeps (or raises) the per-run throughput of the smaller suite.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ganbench.runner.plan import plan_units  # noqa: E402
from ganbench.suite import RunSpec, load_suite  # noqa: E402
from ganbench.train import train_group  # noqa: E402

QUIET = {"eval_every": 10**9, "eval_samples": 64, "w1_points": 16}  # time training, not evaluation


def throughput(specs: list[RunSpec]) -> tuple[int, float, float]:
    """(ensembles, wall s, critic-steps/s) of training `specs` through the planner."""
    specs = [replace(s, train=s.train.model_copy(update=QUIET)) for s in specs]
    units = plan_units(specs, "cpu")
    start = time.perf_counter()
    for unit in units:
        train_group(list(unit.specs), "cpu")
    wall = time.perf_counter() - start
    return len(units), wall, sum(s.train.steps * s.train.n_critic for s in specs) / wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    big = load_suite(ROOT / "bench" / "suites" / "sweep120.yaml", steps=args.steps).specs
    small = load_suite(ROOT / "suites" / "wgan_vs_gan.yaml", steps=args.steps).specs[:40]
    print(f"{args.steps} steps, torch threads {args.threads}")
    print(f"{'suite':28}{'runs':>6}{'ensembles':>11}{'wall s':>9}{'critic-steps/s':>16}")
    rates = []
    for name, specs in (("wgan_vs_gan (first 40)", small), ("sweep120", big)):
        ensembles, wall, rate = throughput(specs)
        rates.append(rate)
        print(f"{name:28}{len(specs):6d}{ensembles:11d}{wall:9.2f}{rate:16.1f}")
    print(f"ratio sweep120 / 40-run: {rates[1] / rates[0]:.2f}x critic-steps/s")


if __name__ == "__main__":
    main()
