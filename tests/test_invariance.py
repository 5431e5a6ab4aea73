"""A run's numbers are a function of its spec: alone (K = 1), in ensembles of 2 and 7 with other
seeds, datasets and optimizers, and when a suite resumes, every metric and every point of every
curve are equal, bit for bit."""

from __future__ import annotations

import json
import math

import torch

from ganbench.api import RunOptions, run_suite
from ganbench.suite import load_suite
from ganbench.train import group_key, train_group
from tests.conftest import write

SUITE = """
name: invariance
defaults:
  steps: 20
  batch_size: 32
  eval_every: 10
  eval_samples: 300
  w1_points: 100
  model: {arch: mlp, hidden: 16, depth: 2, z_dim: 2}
datasets: [ring8, {name: grid, side: 3, spacing: 2.0, std: 0.05, label: grid9}]
seeds: [0, 1, 2, 3]
variants:
  rms: {loss: wgan, clip: 0.05, n_critic: 2, optimizer: {name: rmsprop, lr: 1.0e-3}}
  adam: {loss: wgan, clip: 0.1, n_critic: 2, optimizer: {name: adam, lr: 5.0e-4}}
  sgd: {loss: wgan, clip: 0.05, n_critic: 2, optimizer: {name: sgd, lr: 1.0e-2, momentum: 0.5}}
"""


def same(a: float, b: float) -> bool:
    return (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)) or a == b


def numbers(result) -> dict:
    """Everything a run reports except its wall time: status, steps, metrics, curves."""
    return {
        "status": result.status,
        "steps_done": result.steps_done,
        "metrics": result.metrics,
        "history": {k: [list(p) for p in v] for k, v in result.history.items()},
    }


def assert_identical(a: dict, b: dict, what: str) -> None:
    assert (a["status"], a["steps_done"]) == (b["status"], b["steps_done"]), what
    assert a["metrics"].keys() == b["metrics"].keys(), what
    for name in a["metrics"]:
        assert same(a["metrics"][name], b["metrics"][name]), (
            what,
            name,
            a["metrics"][name],
            b["metrics"][name],
        )
    assert a["history"].keys() == b["history"].keys(), what
    for name, series in a["history"].items():
        assert len(series) == len(b["history"][name]), (what, name)
        for (s1, v1), (s2, v2) in zip(series, b["history"][name], strict=True):
            assert s1 == s2 and same(v1, v2), (what, name, s1, v1, v2)


def test_member_numbers_do_not_depend_on_the_ensemble(tmp_path):
    specs = load_suite(write(tmp_path, SUITE)).specs
    assert len({group_key(s) for s in specs}) == 1  # all 24 could share one ensemble
    target = next(s for s in specs if s.variant == "rms" and s.dataset == "ring8" and s.seed == 0)
    others = [s for s in specs if s is not target]
    mixed = [s for s in others if s.variant != "rms"]
    ensembles = {
        "K=1": [target],
        "K=2 (other variant, other dataset)": [next(s for s in mixed if s.dataset == "grid9"), target],
        "K=7 (mixed optimizers and clips, target 4th)": mixed[:3] + [target] + mixed[3:6],
    }
    results = {}
    for name, members in ensembles.items():
        (result,) = [r for r in train_group(members) if r.spec.run_id == target.run_id]
        results[name] = numbers(result)
    alone = results.pop("K=1")
    assert alone["status"] == "finished" and "w1" in alone["metrics"]
    for name, got in results.items():
        assert_identical(alone, got, name)


def test_thread_count_does_not_change_numbers(tmp_path):
    """Workers get cores // workers threads, so a resume can run with another thread count."""
    specs = load_suite(write(tmp_path, SUITE)).specs[:3]
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        two = [numbers(r) for r in train_group(specs)]
        torch.set_num_threads(1)
        one = [numbers(r) for r in train_group(specs)]
    finally:
        torch.set_num_threads(before)
    for a, b in zip(one, two, strict=True):
        assert_identical(a, b, "threads 1 vs 2")


def test_resumed_and_partial_suites_record_the_same_numbers(tmp_path):
    """--seeds 1 first, then the whole suite (other ensembles), then a resume of half of it: each
    run's record holds the same numbers as when it was trained alone."""
    path = write(tmp_path, SUITE.replace("sgd:", "# sgd:").replace("adam:", "# adam:"))
    options = dict(devices="cpu", runs_per_device=1, quiet=True)
    out = tmp_path / "out"
    first = load_suite(path, seeds=1)  # 2 runs, one ensemble
    run_suite(first, RunOptions(out=tmp_path / "seed0", **options))
    full = load_suite(path)
    run_suite(full, RunOptions(out=out, **options))
    records = {p.stem: json.loads(p.read_text()) for p in (out / "records").glob("*.json")}
    seed0 = {p.stem: json.loads(p.read_text()) for p in (tmp_path / "seed0" / "records").glob("*.json")}
    for run_id, rec in seed0.items():
        if rec.get("status") in ("finished", "diverged"):
            assert_identical(rec, records[run_id], f"--seeds 1 vs full suite, {run_id}")
    # As if killed after half the runs: the resume trains the rest in smaller ensembles.
    dropped = sorted(s.run_id for s in full.specs)[::2]
    for run_id in dropped:
        (out / "records" / f"{run_id}.json").unlink()
    assert run_suite(full, RunOptions(out=out, **options)).trained == len(dropped)
    for run_id in dropped:
        again = json.loads((out / "records" / f"{run_id}.json").read_text())
        assert_identical(records[run_id], again, f"resume, {run_id}")
    # and each equals the run trained alone
    target = next(s for s in full.specs if s.run_id == dropped[0])
    assert_identical(numbers(train_group([target])[0]), records[target.run_id], "alone vs suite")
