"""Density and coverage (Naeem et al. 2020): hand-computed cases with strict ball membership, the
reference implementation (PyPI `prdc` 0.2) on its README recipe, and the limits for identical
distributions; precision/recall checked against the same reference."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
import torch
from prdc import compute_prdc

from ganbench.data.images import digits
from ganbench.metrics import EvalContext, evaluate, fid, metric_info
from ganbench.metrics.fid import density_coverage, precision_recall
from ganbench.registry import load_builtins
from ganbench.suite import TrainConfig

load_builtins()


def reference(real: np.ndarray, fake: np.ndarray, k: int) -> dict[str, float]:
    with contextlib.redirect_stdout(io.StringIO()):  # compute_prdc prints the sample counts
        return {name: float(v) for name, v in compute_prdc(real, fake, nearest_k=k).items()}


def test_hand_computed_case_with_strict_balls():
    # Reals 0, 1, 3, 7 with k = 1: ball radii 1, 1, 2, 4 (distance to the nearest other real).
    real = torch.tensor([[0.0], [1.0], [3.0], [7.0]])
    # 0.5 lies in the balls of 0 and 1, 2.5 in the ball of 3, and 11 on the boundary of 7's
    # ball (distance 4 = radius), which does not count: membership is strict.
    fake = torch.tensor([[0.5], [2.5], [11.0]])
    density, coverage = density_coverage(fake, real, k=1)
    assert density == (2 + 1 + 0) / (1 * 3) and coverage == 3 / 4
    expected = reference(real.numpy(), fake.numpy(), 1)
    assert (density, coverage) == (expected["density"], expected["coverage"])


def test_fakes_on_the_reals_and_far_away():
    real = torch.randn(200, 6, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    # Each real's ball holds itself and its k - 1 nearest neighbours: density exactly 1.
    assert density_coverage(real.clone(), real, k=5) == (1.0, 1.0)
    assert density_coverage(real + 100.0, real, k=5) == (0.0, 0.0)


@pytest.mark.parametrize(
    "n_real, n_fake, dim, k", [(1000, 1000, 64, 5), (800, 600, 32, 3), (500, 700, 8, 10)]
)
def test_equals_prdc_on_its_readme_recipe(n_real, n_fake, dim, k):
    # prdc's README example (standard normal features on both sides, k = 5) at a size the test
    # machine computes in a second, seeded; plus unequal sample counts and other k.
    rng = np.random.default_rng(n_real + dim)
    real = rng.normal(loc=0.0, scale=1.0, size=[n_real, dim])
    fake = rng.normal(loc=0.0, scale=1.0, size=[n_fake, dim])
    expected = reference(real, fake, k)
    density, coverage = density_coverage(torch.from_numpy(fake), torch.from_numpy(real), k)
    assert density == pytest.approx(expected["density"], abs=1e-6)
    assert coverage == pytest.approx(expected["coverage"], abs=1e-6)
    assert 0 < coverage < 1 and density > 0.5  # a case with something to get wrong
    # torch-fidelity's precision/recall (used by the inception metrics) is the same estimator.
    precision, recall = precision_recall(torch.from_numpy(fake), torch.from_numpy(real), k)
    assert precision == pytest.approx(expected["precision"], abs=1e-6)
    assert recall == pytest.approx(expected["recall"], abs=1e-6)


def test_small_blocks_give_the_same_numbers(monkeypatch):
    generator = torch.Generator().manual_seed(1)
    real, fake = torch.randn(300, 5, generator=generator), torch.randn(250, 5, generator=generator)
    whole = density_coverage(fake, real, 4)
    monkeypatch.setattr("ganbench.metrics.fid.DISTANCE_BLOCK", 7 * 300)  # 7 rows at a time
    assert density_coverage(fake, real, 4) == whole


@pytest.mark.parametrize("k", [2, 5])
def test_identical_distributions_give_density_1_and_coverage_1_minus_2_to_the_minus_k(k):
    # Naeem et al.: E[density] = 1 and E[coverage] -> 1 - 2^-k when fakes and reals follow one
    # distribution (M = N). Mean over 4 seeded draws of 1,000 points a side; the spread of
    # one draw is about 0.03 (density) and 0.007 (coverage).
    values = []
    for seed in range(4):
        generator = torch.Generator().manual_seed(seed)
        real = torch.randn(1000, 4, generator=generator, dtype=torch.float64)
        fake = torch.randn(1000, 4, generator=generator, dtype=torch.float64)
        values.append(density_coverage(fake, real, k))
    density, coverage = np.mean(values, axis=0)
    assert density == pytest.approx(1.0, abs=0.05)
    assert coverage == pytest.approx(1 - 2.0**-k, abs=0.01)


def test_bad_k_raises():
    real = torch.zeros(5, 2)
    with pytest.raises(ValueError, match="k in"):
        density_coverage(real, real, k=5)
    with pytest.raises(ValueError, match="k in"):
        density_coverage(real, real, k=0)


def test_registered_and_k_comes_from_prdc_k(monkeypatch):
    assert metric_info("density").higher_is_better and metric_info("coverage").higher_is_better
    assert TrainConfig().prdc_k == 5
    seen = {}

    names = ["fid", "is_mean", "is_std", "kid_mean", "kid_std", "precision", "recall", "density", "coverage"]

    def fake_inception(dataset, fake, weights, cache, device, k):  # no Inception weights here
        seen["k"] = k
        return dict.fromkeys(names, 1.0)

    monkeypatch.setattr(fid, "inception_metrics", fake_inception)
    train = TrainConfig(eval_samples=12, image_metrics=["inception"], prdc_k=3)
    data = digits(size=16)
    metrics = evaluate(
        data, data.sample(12, torch.Generator().manual_seed(0)), torch.Generator(), train, EvalContext()
    )
    assert seen["k"] == 3 and list(metrics) == names  # every registered inception metric, in order
    with pytest.raises(ValueError, match=r"prdc_k \(12\) must be below eval_samples \(12\)"):
        TrainConfig(eval_samples=12, image_metrics=["inception"], prdc_k=12)
