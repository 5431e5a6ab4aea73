"""The training-stage metrics (critic_w, critic_w1_ratio, w_quality_corr, diverged, *_osc):
hand-computed values on small traces, and the engine's values recomputed independently from a
real run's per-step curves with scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from ganbench.metrics import metric_info, training_metrics
from ganbench.metrics.training import TrainingTrace, critic_at_evals, oscillation
from ganbench.suite import load_suite
from ganbench.train import train_group
from tests.conftest import TINY_DEFAULTS


def test_hand_computed_trace():
    # The critic's estimate falls with the exact W1 (it tracks quality): Spearman +1.
    trace = TrainingTrace(diverged=False, series={"w1": [0.9, 0.6, 0.3, 0.2]}, critic=[3.0, 2.0, 1.0, 0.5])
    metrics = training_metrics(trace, "toy")
    assert metrics["w_quality_corr"] == pytest.approx(1.0)
    assert metrics["critic_w"] == 0.5  # the last evaluation's, not the first's
    # median of 3/0.9, 2/0.6, 1/0.3, 0.5/0.2 over the last five = (3.333 + 3.333) / 2
    assert metrics["critic_w1_ratio"] == pytest.approx(np.median([3 / 0.9, 2 / 0.6, 1 / 0.3, 0.5 / 0.2]))
    assert metrics["diverged"] == 0.0
    rising = TrainingTrace(diverged=True, series={"w1": [0.9, 0.6, 0.3]}, critic=[1.0, 2.0, 4.0])
    assert training_metrics(rising, "toy")["w_quality_corr"] == pytest.approx(-1.0)
    assert training_metrics(rising, "toy")["diverged"] == 1.0


def test_non_wasserstein_losses_have_no_critic_metrics():
    metrics = training_metrics(TrainingTrace(diverged=False, series={"w1": [0.5, 0.4]}), "toy")
    assert set(metrics) == {"diverged"}


def test_oscillation_is_the_std_of_the_last_five():
    trace = TrainingTrace(diverged=False, series={"w1": [9.0, 1.0, 2.0, 3.0, 4.0, 5.0], "x": [1.0]})
    osc = oscillation(trace)
    assert osc["w1_osc"] == pytest.approx(np.std([1, 2, 3, 4, 5]))
    assert math.isnan(osc["x_osc"])  # one value: no spread to measure


def test_critic_at_evals_averages_the_steps_since_the_previous_evaluation():
    estimate = np.arange(1.0, 7.0)  # steps 1..6
    assert critic_at_evals(estimate, [2, 4, 6], [True, False, True]) == [1.5, 5.5]


def test_registered_directions_and_ranges():
    assert metric_info("w_quality_corr").higher_is_better and metric_info("w_quality_corr").bounds == (-1, 1)
    assert not metric_info("diverged").higher_is_better and metric_info("diverged").stage == "training"
    assert metric_info("divergence_rate").scope == "variant"


def test_engine_values_equal_an_independent_recomputation():
    """A WGAN-GP run's critic_w, critic_w1_ratio and w_quality_corr from its recorded per-step
    critic curve (history critic_w, one point per step when steps <= 200) and its w1 series."""
    suite = load_suite(
        {
            "name": "critic_metrics",
            "defaults": {**TINY_DEFAULTS, "steps": 160, "eval_every": 20, "eval_samples": 200},
            "datasets": ["ring8"],
            "seeds": 1,
            "variants": {"wgan_gp": {"loss": "wgan-gp", "n_critic": 2}},
        }
    )
    (result,) = train_group(suite.specs)
    per_step = np.array([value for _, value in result.history["critic_w"]])
    assert len(per_step) == 160
    w1 = [value for _, value in result.history["w1"]]
    eval_steps = [step for step, _ in result.history["w1"]]
    critic = [per_step[a:b].mean() for a, b in zip([0, *eval_steps[:-1]], eval_steps, strict=True)]
    assert len(set(np.round(w1, 6))) > 3  # the series move, so a wrong order or sign shows
    assert result.metrics["critic_w"] == pytest.approx(critic[-1], rel=1e-6)
    assert result.metrics["critic_w"] != pytest.approx(critic[0], rel=1e-3)
    expected = stats.spearmanr(critic, w1).statistic
    assert abs(expected) > 0.1
    assert result.metrics["w_quality_corr"] == pytest.approx(expected, abs=1e-12)
    ratios = [c / w for c, w in zip(critic[-5:], w1[-5:], strict=True)]
    assert result.metrics["critic_w1_ratio"] == pytest.approx(np.median(ratios), rel=1e-6)
