"""Run health on constructed cases, the fair-share mode count, and the reference rows."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from ganbench import health
from ganbench.data import build_dataset
from ganbench.metrics.mog import mode_stats
from ganbench.references import reference_samples
from ganbench.suite import load_suite
from ganbench.train import _final_metrics, train_group
from tests.conftest import write

RING8 = {"name": "ring", "modes": 8, "radius": 2.0, "std": 0.02}
GRID25 = {"name": "grid", "side": 5, "spacing": 2.0, "std": 0.05}


def _stats(dataset, samples):
    return mode_stats(samples, dataset.centres, dataset.std)


@pytest.mark.parametrize(("params", "expected_covered"), [(RING8, 5.4), (GRID25, 20.7)])
def test_noise_reference_scores_its_analytic_value(params, expected_covered):
    """Uniform noise over the bounding box: ~5.4/8 ring and ~20.7/25 grid modes by the >= 1
    rule (M(1 - exp(-N hq / M))), ~0 by the fair-share count, and it is classified diffuse."""
    dataset = build_dataset(params)
    runs = [
        _stats(dataset, reference_samples(dataset, "noise", 2500, torch.Generator().manual_seed(s)))
        for s in range(20)
    ]
    covered = np.mean([r["modes_covered"] for r in runs])
    assert abs(covered - expected_covered) < 0.6
    assert max(r["modes_fair"] for r in runs) == 0
    n_modes = len(dataset.centres)
    assert {health.classify("finished", r, n_modes) for r in runs} == {"diffuse"}


@pytest.mark.parametrize("params", [RING8, GRID25])
def test_data_reference_covers_every_mode_fairly_and_is_healthy(params):
    dataset = build_dataset(params)
    stats = _stats(dataset, reference_samples(dataset, "data", 2500, torch.Generator().manual_seed(0)))
    n = len(dataset.centres)
    assert stats["modes_covered"] == stats["modes_fair"] == n
    assert health.classify("finished", stats, n) == "healthy"


def test_one_mode_sampler_has_one_fair_mode_and_is_collapsed():
    dataset = build_dataset(RING8)
    samples = dataset.centres[3] + 0.02 * torch.randn(2500, 2, generator=torch.Generator().manual_seed(0))
    stats = _stats(dataset, samples)
    assert stats["modes_fair"] == 1 and stats["modes_covered"] == 1
    assert health.classify("finished", stats, 8) == "collapsed"
    point = _stats(dataset, dataset.centres[:1].expand(2500, 2))  # one point, exactly on a mode
    assert point["hq_share"] == 1.0 and health.classify("finished", point, 8) == "collapsed"


def test_fair_share_count_needs_a_tenth_of_the_fair_share():
    dataset = build_dataset(RING8)
    # 2,500 samples, fair share 312.5 per mode: 31 on a mode is not enough, 32 is.
    counts = [32, 31, 0, 0, 0, 0, 0, 0]
    samples = torch.cat([dataset.centres[i].expand(c, 2) for i, c in enumerate(counts)])
    far = torch.full((2500 - len(samples), 2), 50.0)
    assert _stats(dataset, torch.cat([samples, far]))["modes_fair"] == 1


def test_constant_critic_is_dead():
    """A critic whose estimate is ~0 while the exact W1 is 0.5 (through the engine's own final-
    metric code) is dead (ratio 2e-7); a clipped critic at 1e-5 of W1 is alive."""
    evals = [{"step": s, "metrics": [{"w1": 0.5, "hq_share": 0.5, "modes_fair": 8.0}]} for s in (10, 20, 30)]
    for estimate, expected in ((1e-7, "dead_critic"), (5e-6, "healthy")):
        curves = np.zeros((3, 30, 1))
        curves[2] = estimate
        metrics = _final_metrics(
            {"w1": 0.5, "hq_share": 0.5, "modes_fair": 8.0}, evals, curves, 0, True, False, "toy"
        )
        assert metrics["critic_w1_ratio"] == pytest.approx(estimate / 0.5)
        assert health.classify("finished", metrics, 8) == expected


def test_oscillating_and_diverged():
    assert health.classify("finished", {"w1": 0.4, "w1_osc": 0.3}) == "oscillating"
    assert health.classify("finished", {"w1": 0.4, "w1_osc": 0.1}) == "healthy"
    assert health.classify("finished", {"w1": 0.4, "diverged": 1.0}) == "diverged"
    assert health.classify("finished", {"w1": math.nan}) == "healthy"


def test_nan_training_run_is_classified_diverged(tmp_path):
    text = """
    name: blowup
    defaults: {steps: 50, eval_every: 25, eval_samples: 200, w1_points: 100, model: {hidden: 8, depth: 1}}
    datasets: [ring8]
    seeds: 1
    variants:
      boom: {loss: ns, optimizer: {name: sgd, lr: 1.0e+30}}
    """
    suite = load_suite(write(tmp_path, text))
    (result,) = train_group(suite.specs)
    assert result.status == "diverged" and result.health == "diverged"


def test_reference_rows_in_runs_and_leaderboard(tmp_path, tiny_suite):
    from ganbench.api import RunOptions, run_suite

    outcome = run_suite(load_suite(tiny_suite, steps=20), RunOptions(out=tmp_path / "out", quiet=True))
    runs = outcome.runs
    refs = runs[runs["status"] == "reference"]
    assert set(refs["variant"]) == {"noise", "data"} and len(refs) == 2 * 2 * 2  # refs x datasets x seeds
    assert set(runs.loc[runs["status"] != "reference", "health"]) <= set(health.CLASSES)
    board = outcome.leaderboard
    w1 = board[(board["metric"] == "w1") & (board["dataset"] == "ring8")].set_index("variant")
    assert w1.at["data", "mean"] < w1.at["noise", "mean"]
    # 20 steps of training leaves every variant worse than noise: the leaderboard says so
    assert set(w1.loc[["gan", "wgan"], "vs_noise"]) == {"not better"}
    assert "†" in (tmp_path / "out" / "leaderboard.md").read_text()
    assert pd.read_csv(tmp_path / "out" / "runs.csv")["health"].notna().all()


def test_image_references_are_uniform_pixels_and_real_images():
    dataset = build_dataset({"name": "digits"})
    noise = reference_samples(dataset, "noise", 256, torch.Generator().manual_seed(0))
    data = reference_samples(dataset, "data", 256, torch.Generator().manual_seed(0))
    assert noise.shape == data.shape == (256, *dataset.shape)
    assert -1 <= float(noise.min()) < -0.9 and 0.9 < float(noise.max()) <= 1
    assert abs(float(noise.mean())) < 0.05  # uniform over [-1, 1]
    assert float(data.mean()) < -0.3  # digits: mostly background


def test_a_descent_in_a_short_run_is_not_oscillation():
    """With fewer evaluations than twice the window, the window holds the early descent."""
    descending = {"w1": 0.4, "w1_osc": 0.45}  # e.g. w1 1.5, 0.5, 0.4, 0.4 over 4 evaluations
    assert health.classify("finished", descending, settled=False) == "healthy"
    assert health.classify("finished", descending, settled=True) == "oscillating"
