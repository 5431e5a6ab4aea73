"""Shared fixtures: small suites written to tmp dirs, so tests run in seconds on 2 cores."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import torch

torch.set_num_threads(1)  # tests are many tiny ops: threads only add overhead here

# The columns of claims.csv (a fixed output contract), written out here so that a test fails if the code drifts.
CLAIMS_COLUMNS = [
    "id",
    "text",
    "dataset",
    "verdict",
    "expected",
    "test",
    "protocol",
    "p_value",
    "effect_size",
    "p_adjusted",
    "n_better",
    "n_worse",
    "stability",
    "detectable_effect",
    "seeds_needed",
    "rate_better",
    "rate_better_ci95",
    "rate_worse",
    "rate_worse_ci95",
    "note",
]

TINY_SUITE = """
name: tiny
description: a suite small enough for unit tests
defaults:
  steps: 60
  batch_size: 32
  eval_every: 30
  eval_samples: 400
  w1_points: 200
  model: {arch: mlp, hidden: 32, depth: 2, z_dim: 2}
datasets: [ring8, {name: grid, side: 3, spacing: 2.0, std: 0.05, label: grid9}]
seeds: 2
variants:
  gan: {loss: ns, optimizer: {name: adam, lr: 1.0e-3, betas: [0.5, 0.999]}}
  wgan: {loss: wgan, clip: 0.05, n_critic: 2, optimizer: {name: rmsprop, lr: 1.0e-3}}
claims:
  - id: gan-beats-wgan
    text: the GAN gets closer in W1 than the clipped WGAN
    metric: w1
    better: gan
    worse: wgan
    expect: inconclusive
"""


# The smallest training that still exercises every step, for tests that build suites as dicts.
TINY_DEFAULTS = {
    "steps": 10,
    "batch_size": 16,
    "eval_every": 10,
    "eval_samples": 100,
    "w1_points": 50,
    "model": {"arch": "mlp", "hidden": 8, "depth": 2, "z_dim": 2},
}


def write(tmp_path: Path, text: str, name: str = "suite.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def tiny_suite(tmp_path: Path) -> Path:
    return write(tmp_path, TINY_SUITE)
