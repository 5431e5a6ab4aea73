"""Mode-coverage metrics and the exact W1 distance against answers known by construction."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from ganbench.data.toy import grid, ring
from ganbench.metrics import METRICS, EvalContext, evaluate
from ganbench.metrics.mog import mode_stats, wasserstein1

GRID = grid(side=5, spacing=2.0, std=0.05)
M = 25


def train_config(**overrides: int):
    """A real TrainConfig; it validates its loss name, so the builtins must be registered first."""
    from ganbench.suite import TrainConfig

    try:
        from ganbench.registry import load_builtins

        load_builtins()
    except ImportError:  # a module another engineer is still writing: register what exists
        import ganbench.data.toy  # noqa: F401
        import ganbench.metrics  # noqa: F401

        return TrainConfig.model_construct(**overrides)
    return TrainConfig(**overrides)


def test_samples_on_every_centre_cover_all_modes_uniformly() -> None:
    samples = GRID.centres.repeat(4, 1)
    stats = mode_stats(samples, GRID.centres, GRID.std)
    assert stats == {"modes_covered": 25.0, "modes_fair": 25.0, "hq_share": 1.0, "reverse_kl": 0.0}


def test_full_collapse_scores_one_mode_and_log_m() -> None:
    samples = GRID.centres[7].repeat(100, 1) + 0.01  # well inside 3 std of one mode
    stats = mode_stats(samples, GRID.centres, GRID.std)
    assert stats["modes_covered"] == 1.0 and stats["hq_share"] == 1.0
    assert stats["reverse_kl"] == pytest.approx(math.log(M), abs=1e-12)


def test_samples_far_from_every_mode_are_not_high_quality() -> None:
    samples = GRID.centres + torch.tensor([1.0, 1.0])  # half-way between grid modes
    stats = mode_stats(samples, GRID.centres, GRID.std)
    assert stats["hq_share"] == 0.0 and stats["modes_covered"] == 0.0
    assert stats["reverse_kl"] == pytest.approx(math.log(M))  # documented: same as full collapse


def test_high_quality_radius_is_three_std_around_the_nearest_mode() -> None:
    std = GRID.std
    inside = GRID.centres[0] + torch.tensor([2.9 * std, 0.0])
    outside = GRID.centres[1] + torch.tensor([0.0, 3.1 * std])
    stats = mode_stats(torch.stack([inside, outside]), GRID.centres, std)
    assert stats["hq_share"] == 0.5 and stats["modes_covered"] == 1.0


def test_min_count_and_the_histogram_kl() -> None:
    centres = ring(modes=4, radius=1.0, std=0.01).centres
    samples = centres[[0, 0, 0, 1]]  # p = (3/4, 1/4, 0, 0) over 4 modes
    assert mode_stats(samples, centres, 0.01, min_count=1)["modes_covered"] == 2.0
    assert mode_stats(samples, centres, 0.01, min_count=2)["modes_covered"] == 1.0
    assert mode_stats(samples, centres, 0.01, min_count=4)["modes_covered"] == 0.0
    expected = 0.75 * math.log(0.75 * 4) + 0.25 * math.log(0.25 * 4)
    assert mode_stats(samples, centres, 0.01)["reverse_kl"] == pytest.approx(expected, abs=1e-12)


def test_non_finite_samples_are_never_high_quality() -> None:
    good = GRID.centres[:2]
    bad = torch.tensor([[math.nan, 0.0], [math.inf, 0.0], [-math.inf, math.inf]])
    stats = mode_stats(torch.cat([good, bad]), GRID.centres, GRID.std)
    assert stats["modes_covered"] == 2.0 and stats["hq_share"] == pytest.approx(2 / 5)
    stats = mode_stats(bad, GRID.centres, GRID.std)
    assert stats == {
        "modes_covered": 0.0,
        "modes_fair": 0.0,
        "hq_share": 0.0,
        "reverse_kl": pytest.approx(math.log(M)),
    }


def test_numpy_and_torch_inputs_agree() -> None:
    samples = GRID.sample(1000, torch.Generator().manual_seed(0))
    assert mode_stats(samples.numpy(), GRID.centres.numpy(), GRID.std) == mode_stats(
        samples, GRID.centres, GRID.std
    )


def test_w1_of_a_shifted_copy_is_the_shift_length() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(200, 2))
    shift = np.array([0.3, -0.4])
    b = (a + shift)[rng.permutation(200)]  # the matching has to be found, not read off the order
    assert wasserstein1(a, b) == pytest.approx(0.5, abs=1e-9)
    assert wasserstein1(a, a) == 0.0
    assert wasserstein1(torch.from_numpy(b), torch.from_numpy(a)) == pytest.approx(0.5, abs=1e-9)


def test_w1_finds_a_non_identity_matching() -> None:
    rng = np.random.default_rng(3)
    a = rng.normal(size=(6, 2))
    b = a[[2, 0, 1, 5, 3, 4]] + rng.normal(scale=0.3, size=(6, 2))

    def mean_cost(perm: tuple[int, ...]) -> float:
        return float(np.mean([np.linalg.norm(a[i] - b[j]) for i, j in enumerate(perm)]))

    best = min(mean_cost(p) for p in itertools.permutations(range(6)))
    assert mean_cost(tuple(range(6))) > best + 0.1  # the identity is clearly not optimal
    assert wasserstein1(a, b) == pytest.approx(best, abs=1e-12)


def test_w1_equals_scipys_optimal_assignment() -> None:
    # POT's network simplex against the Hungarian method on a case too big for brute force.
    from scipy.optimize import linear_sum_assignment
    from scipy.spatial.distance import cdist

    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(300, 2)), rng.normal(loc=0.5, size=(300, 2))
    cost = cdist(a, b)
    rows, cols = linear_sum_assignment(cost)
    assert wasserstein1(a, b) == pytest.approx(cost[rows, cols].mean(), abs=1e-12)


def test_w1_non_finite_input_is_infinite_and_bad_shapes_raise() -> None:
    a = np.zeros((3, 2))
    assert wasserstein1(a, np.array([[0.0, 0.0], [math.nan, 0.0], [1.0, 1.0]])) == math.inf
    assert wasserstein1(np.full((3, 2), math.inf), a) == math.inf
    with pytest.raises(ValueError):
        wasserstein1(a, np.zeros((4, 2)))
    with pytest.raises(ValueError):
        wasserstein1(np.zeros((0, 2)), np.zeros((0, 2)))


def test_metric_directions_are_registered() -> None:
    higher = {
        name: METRICS.get(name).higher_is_better
        for name in ["modes_covered", "hq_share", "reverse_kl", "w1", "critic_w"]
    }
    assert higher == {
        "modes_covered": True,
        "hq_share": True,
        "reverse_kl": False,
        "w1": False,
        "critic_w": False,
    }
    assert METRICS.get("modes_covered").worst == 0.0 and METRICS.get("w1").worst is None


def test_toy_evaluator_on_ring8() -> None:
    from ganbench.data import build_dataset
    from ganbench.registry import DATASETS

    train = train_config(min_count=1, w1_points=300)
    data = build_dataset(DATASETS.get("ring8"))
    fake = data.sample(2500, torch.Generator().manual_seed(1))
    stats = evaluate(data, fake, torch.Generator().manual_seed(2), train, EvalContext())
    assert set(stats) == {"modes_covered", "modes_fair", "hq_share", "reverse_kl", "w1"}
    assert stats["modes_covered"] == 8.0 and stats["reverse_kl"] < 0.01
    # A 2-D Gaussian puts 1 - exp(-9/2) = 98.9% of its mass within 3 std.
    assert stats["hq_share"] == pytest.approx(1 - math.exp(-4.5), abs=0.006)
    assert 0.0 < stats["w1"] < 0.5  # two samples of one mixture differ only in mode counts
    assert stats == evaluate(data, fake, torch.Generator().manual_seed(2), train, EvalContext())

    collapsed = evaluate(data, fake[fake[:, 0] > 1.9], torch.Generator().manual_seed(2), train, EvalContext())
    assert collapsed["modes_covered"] == 1.0 and collapsed["w1"] > 1.0
    diverged = evaluate(
        data, torch.full((50, 2), math.nan), torch.Generator().manual_seed(2), train, EvalContext()
    )
    assert diverged["w1"] == math.inf and diverged["hq_share"] == 0.0
