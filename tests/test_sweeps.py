"""Sweeps: expansion (grid and random), reproducibility, stable run ids, errors, shared ensembles."""

from __future__ import annotations

import pytest

from ganbench.errors import BadInput
from ganbench.runner.plan import plan_units
from ganbench.suite import load_suite
from ganbench.sweep import SweepConfig, expand, label
from tests.conftest import write

SWEPT = """
name: swept
defaults:
  steps: 20
  eval_every: 10
  eval_samples: 200
  w1_points: 100
  model: {arch: mlp, hidden: 16, depth: 2, z_dim: 2}
datasets: [ring8]
seeds: 2
variants:
  wgan:
    loss: wgan
    clip: 0.01
    n_critic: 2
    optimizer: {name: rmsprop, lr: 1.0e-3}
    sweep:
      grid: {clip: [0.01, 0.1], optimizer.lr: [1.0e-4, 5.0e-4]}
      random: {optimizer.alpha: {uniform: [0.5, 0.99]}}
      samples: 3
      seed: 7
  gan: {loss: ns}
"""


def test_grid_is_every_combination_in_order():
    configs = expand(SweepConfig(grid={"clip": [0.01, 0.1], "optimizer.lr": [1e-4, 5e-4, 1e-3]}))
    assert len(configs) == 6
    assert configs[0] == {"clip": 0.01, "optimizer.lr": 1e-4}
    assert configs[-1] == {"clip": 0.1, "optimizer.lr": 1e-3}
    assert label(configs[1]) == "clip=0.01,optimizer.lr=0.0005"


def test_random_draws_are_reproducible_from_the_seed_and_within_bounds():
    sweep = SweepConfig(
        random={"optimizer.lr": {"log_uniform": [1e-5, 1e-2]}, "n_critic": {"int": [1, 10]}}, samples=50
    )
    first, again = expand(sweep), expand(sweep)
    assert first == again
    other = expand(SweepConfig(**{**sweep.model_dump(), "seed": 1}))
    assert first != other
    lrs = [c["optimizer.lr"] for c in first]
    assert all(1e-5 <= lr <= 1e-2 for lr in lrs)
    assert all(1 <= c["n_critic"] <= 10 and isinstance(c["n_critic"], int) for c in first)
    # Rounded to 4 significant digits, so the label is exactly the value trained with.
    assert all(float(f"{lr:.4g}") == lr for lr in lrs)
    # log-uniform: about half the draws below the geometric middle 3.16e-4
    assert 15 <= sum(lr < 3.16e-4 for lr in lrs) <= 35


def test_repeated_random_draws_are_dropped():
    configs = expand(SweepConfig(random={"n_critic": {"choice": [1, 5]}}, samples=20))
    assert sorted(c["n_critic"] for c in configs) == [1, 5]


def test_suite_expands_configs_with_labels_values_and_stable_run_ids(tmp_path):
    suite = load_suite(write(tmp_path, SWEPT))
    wgan = [s for s in suite.specs if s.variant == "wgan"]
    assert len(wgan) == 2 * 2 * 3 * 2 and len(suite.configs["wgan"]) == 12
    assert len({s.run_id for s in suite.specs}) == len(suite.specs)
    spec = wgan[0]
    assert spec.train.clip == spec.swept["clip"] and spec.train.optimizer.lr == spec.swept["optimizer.lr"]
    assert spec.train.optimizer.alpha == spec.swept["optimizer.alpha"]
    assert spec.config == label(spec.swept)
    again = load_suite(write(tmp_path, SWEPT, "again.yaml"))
    assert [s.run_id for s in again.specs] == [s.run_id for s in suite.specs]
    reseeded = load_suite(write(tmp_path, SWEPT.replace("seed: 7", "seed: 8"), "reseeded.yaml"))
    assert {s.run_id for s in reseeded.specs if s.variant == "wgan"}.isdisjoint(s.run_id for s in wgan)
    gan = [s for s in suite.specs if s.variant == "gan"]
    assert [s.config for s in gan] == ["", ""]


def test_a_sweep_in_defaults_applies_to_every_variant(tmp_path):
    text = SWEPT.replace("  model: {arch", "  sweep: {grid: {batch_size: [16, 32]}}\n  model: {arch")
    suite = load_suite(write(tmp_path, text))
    assert len(suite.configs["gan"]) == 2
    assert len(suite.configs["wgan"]) == 24  # its own axes merged with the default batch_size axis
    assert {c.values.get("batch_size") for c in suite.configs["wgan"]} == {16, 32}


def test_a_sweep_shares_one_ensemble():
    suite_text = SWEPT.replace("  gan: {loss: ns}\n", "")
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        suite = load_suite(write(Path(tmp), suite_text))
    units = plan_units(suite.specs, "cpu")
    assert len(suite.specs) == 24 and len(units) == 1 and len(units[0].specs) == 24


@pytest.mark.parametrize(
    ("sweep", "message"),
    [
        ("grid: {optimizer.lrr: [1.0e-4]}", "variants.wgan.sweep.grid.optimizer.lrr: not a key path"),
        (
            "grid: {optimizer.lr: [-1.0]}",
            "variants.wgan.sweep.grid.optimizer.lr: Input should be greater than 0",
        ),
        (
            "random: {n_critic: {int: [5, 1]}}",
            "variants.wgan.sweep: random.n_critic: int: expected [low, high]",
        ),
        ("random: {n_critic: {normal: [1, 5]}}", "variants.wgan.sweep.random.n_critic"),
        ("grid: {}", "expected at least one axis"),
        (
            "grid: {clip: [0.1]}\n      sammples: 3",
            "variants.wgan.sweep.sammples: unknown key (did you mean 'samples'?)",
        ),
    ],
)
def test_bad_sweeps_are_one_line_with_the_key_path(tmp_path, sweep, message):
    text = SWEPT.split("    sweep:")[0] + "    sweep:\n      " + sweep + "\n  gan: {loss: ns}\n"
    with pytest.raises(BadInput) as err:
        load_suite(write(tmp_path, text))
    assert message in str(err.value) and "\n" not in str(err.value)


def test_run_count_is_bounded_before_expansion(tmp_path):
    text = SWEPT.replace("samples: 3", "samples: 100000")
    with pytest.raises(BadInput, match="more than the maximum of 100,000 runs"):
        load_suite(write(tmp_path, text))
