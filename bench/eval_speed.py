"""Speed of the toy evaluation (mode stats and exact W1) against its targets.

    .venv/bin/python bench/eval_speed.py [--repeats N] [--threads N]

Times are medians over repeats. Threads default to 1, as in the runner's CPU workers. The
baseline is the plain numpy version of the nearest-centre step (an [n, M, d] difference array),
checked to give the same counts. W1 is timed on matched and on collapsed samples because the
assignment solver's cost depends on the data: collapse (all the usual early-training states)
is its slow case.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

from ganbench.data.toy import grid, ring
from ganbench.metrics.mog import HQ_STDS, mode_stats, wasserstein1

MODE_STATS_TARGET_S = 0.050  # 100k samples, 25-mode grid
W1_TARGET_S = 0.200  # 1000 vs 1000 points


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up: first calls pay for lazy initialisation
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def numpy_hq_counts(samples: np.ndarray, centres: np.ndarray, std: float) -> np.ndarray:
    """Baseline: hq histogram via the full [n, M, d] difference array."""
    dist = np.sqrt(((samples[:, None, :] - centres[None, :, :]) ** 2).sum(axis=-1))
    nearest = dist.argmin(axis=1)
    hq = dist[np.arange(len(samples)), nearest] <= HQ_STDS * std
    return np.bincount(nearest[hq], minlength=len(centres))


def row(case: str, measured: float, target: float | None, baseline: float | None = None) -> str:
    target_cols = f"{target * 1e3:>9.0f} {target / measured:>8.1f}x" if target else f"{'-':>9} {'-':>9}"
    base_cols = f"{baseline * 1e3:>11.1f} {baseline / measured:>8.1f}x" if baseline else f"{'-':>11} {'-':>9}"
    return f"{case:<34} {measured * 1e3:>9.1f} {target_cols} {base_cols}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(0)

    data = grid(side=5, spacing=2.0, std=0.05)
    samples = data.sample(100_000, gen)
    fast = mode_stats(samples, data.centres, data.std)
    naive = numpy_hq_counts(samples.double().numpy(), data.centres.double().numpy(), data.std)
    assert fast["modes_covered"] == (naive > 0).sum() and fast["hq_share"] == naive.sum() / len(samples)

    ring8 = ring(modes=8, radius=2.0, std=0.02)
    real = ring8.sample(1000, gen)
    matched = ring8.sample(1000, gen)
    collapsed = ring8.centres[0] + 0.02 * torch.randn(1000, 2, generator=gen)

    print(f"torch threads {torch.get_num_threads()}, median of {args.repeats} repeats")
    print(f"{'case':<34} {'ms':>9} {'target ms':>9} {'tgt/meas':>9} {'baseline ms':>11} {'speed-up':>9}")
    mode_s = median_seconds(lambda: mode_stats(samples, data.centres, data.std), args.repeats)
    naive_s = median_seconds(
        lambda: numpy_hq_counts(samples.double().numpy(), data.centres.double().numpy(), data.std),
        args.repeats,
    )
    print(row("mode_stats 100k, grid25", mode_s, MODE_STATS_TARGET_S, naive_s))
    print(
        row(
            "w1 1000 vs 1000, ring8 vs ring8",
            median_seconds(lambda: wasserstein1(matched, real), args.repeats),
            W1_TARGET_S,
        )
    )
    print(
        row(
            "w1 1000 vs 1000, 1 mode vs ring8",
            median_seconds(lambda: wasserstein1(collapsed, real), args.repeats),
            W1_TARGET_S,
        )
    )


if __name__ == "__main__":
    main()
