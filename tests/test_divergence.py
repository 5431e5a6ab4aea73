"""Divergence beyond NaN: losses past LOSS_BOUND x the data's radius, or samples past
OUTPUT_BOUND x the radius at an evaluation, make a run `diverged`, alone, whatever its ensemble."""

from __future__ import annotations

import ganbench.train as train
from ganbench.suite import load_suite
from ganbench.train import train_group
from tests.conftest import write

SUITE = """
name: blowups
defaults:
  steps: 50
  batch_size: 32
  eval_every: 25
  eval_samples: 200
  w1_points: 100
  model: {arch: mlp, hidden: 16, depth: 2, z_dim: 2}
datasets: [ring8]
seeds: 1
variants:
  ok: {loss: ns, optimizer: {name: adam, lr: 1.0e-3}}
  adam_lr_1e3: {loss: ns, optimizer: {name: adam, lr: 1.0e+3}}
  wgan_adam_lr_1e3: {loss: wgan, clip: 0.01, optimizer: {name: adam, lr: 1.0e+3}}
  gp_1e30: {loss: wgan-gp, gp_weight: 1.0e+30, n_critic: 2, optimizer: {name: adam, lr: 1.0e-3, betas: [0.0, 0.9]}}
"""


def test_exploding_losses_are_diverged_not_finished(tmp_path):
    specs = {s.variant: s for s in load_suite(write(tmp_path, SUITE)).specs}
    ok, adam = train_group([specs["ok"], specs["adam_lr_1e3"]])  # one ensemble
    wgan, gp = train_group([specs["wgan_adam_lr_1e3"]])[0], train_group([specs["gp_1e30"]])[0]
    for blown in (adam, wgan, gp):
        assert blown.status == "diverged" and blown.metrics["diverged"] == 1.0, blown.spec.variant
    assert adam.steps_done == 25 and gp.steps_done == 25  # the first check, not the end
    assert ok.status == "finished" and ok.metrics["diverged"] == 0.0
    assert ok.metrics == train_group([specs["ok"]])[0].metrics  # the blow-up beside it changed nothing


def test_samples_far_off_the_data_are_diverged(tmp_path, monkeypatch):
    specs = [s for s in load_suite(write(tmp_path, SUITE), seeds=2).specs if s.variant == "ok"]
    original = train._generate

    def far(G, weights, members, t, device):
        out = original(G, weights, members, t, device)
        out[0] += 1e3  # member 0's samples 1,000 away from a ring of radius 2
        return out

    monkeypatch.setattr(train, "_generate", far)
    gone, fine = train_group(specs)
    assert gone.status == "diverged" and gone.steps_done == 25  # the first evaluation
    assert fine.status == "finished" and fine.steps_done == 50
