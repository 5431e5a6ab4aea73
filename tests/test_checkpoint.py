"""Checkpoints: a unit killed (SIGKILL) or failing mid-training resumes from its last checkpoint,
and its runs record the numbers of an uninterrupted run, bit for bit."""

from __future__ import annotations

import json
import re
import signal
import time
from pathlib import Path

import pytest
import torch

from ganbench import checkpoint
from ganbench.api import RunOptions, eval_context
from ganbench.checkpoint import checkpoint_path
from ganbench.losses import GanLoss
from ganbench.metrics import EvalContext
from ganbench.optim import BatchedOptimizer
from ganbench.registry import LOSSES
from ganbench.suite import OptimizerConfig, load_suite
from ganbench.train import train_group
from tests.proc_helpers import Ganbench
from tests.test_invariance import assert_identical, numbers

# 4,000 steps of two tiny MLPs: a few seconds, so a kill after the first checkpoint (step 500)
# lands well before the end.
CLI_SUITE = """
name: ckpt
defaults:
  steps: 4000
  batch_size: 8
  eval_every: 500
  eval_samples: 100
  w1_points: 50
  model: {arch: mlp, hidden: 8, depth: 1, z_dim: 2}
datasets: [ring8]
seeds: 2
variants:
  gan: {loss: ns, optimizer: {name: adam, lr: 1.0e-3, betas: [0.5, 0.999]}}
"""


def ganbench(suite: Path, out: Path, name: str, *flags: str) -> Ganbench:
    return Ganbench(["run", str(suite), "--out", str(out), "--quiet", *flags], out.parent / "logs", name)


def finish(process: Ganbench) -> str:
    assert process.wait(timeout=300) == 0, process.stderr
    return process.stderr


def records(out: Path) -> dict[str, dict]:
    """The trained runs' records (not the noise/data references, saved before training)."""
    found = {p.stem: json.loads(p.read_text()) for p in (out / "records").glob("*.json")}
    return {run_id: r for run_id, r in found.items() if r["status"] != "reference"}


def test_a_killed_suite_resumes_from_its_checkpoint_with_the_same_numbers(tmp_path):
    """`ganbench run` SIGKILLed after its first checkpoint, then run again: the runs' records
    equal an uninterrupted run's, and the resume did not start from step 0."""
    suite = tmp_path / "suite.yaml"
    suite.write_text(CLI_SUITE)
    killed = tmp_path / "killed"
    victim = ganbench(suite, killed, "victim", "--checkpoint-every", "500")
    deadline = time.monotonic() + 120
    while not list((killed / "checkpoints").glob("*.pt")):
        assert victim.proc.poll() is None, victim.stderr
        assert time.monotonic() < deadline, "no checkpoint written"
        time.sleep(0.02)
    victim.kill_group(signal.SIGKILL)  # the whole process tree, at once
    assert victim.wait(timeout=60) == -signal.SIGKILL
    assert not records(killed)  # killed before any run finished

    stale = killed / "checkpoints" / "0123456789abcdef.pt"  # of a unit planned otherwise
    stale.write_bytes(b"old")
    err = finish(ganbench(suite, killed, "resumed", "--checkpoint-every", "500"))
    assert not stale.exists()  # pruned when the units were planned
    resumed_at = [int(s) for s in re.findall(r"resume from their checkpoint at step (\d+)", err)]
    assert resumed_at and resumed_at[0] >= 500, err  # not from step 0
    assert not list((killed / "checkpoints").glob("*.pt"))  # deleted once the records were saved
    got = records(killed)
    # The uninterrupted run, here (a record holds what train_group returned: tests/test_invariance.py).
    expected = {r.spec.run_id: numbers(r) for r in train_group(load_suite(suite).specs)}
    assert len(expected) == 2 and got.keys() == expected.keys()
    for run_id, result in expected.items():
        assert result["status"] == "finished" and result["steps_done"] == 4000
        assert_identical(result, got[run_id], f"resumed vs uninterrupted, {run_id}")


# EMA, critic warm-up (extra draws from the noise/data/penalty streams), a DRAGAN penalty (the
# lazily created "perturb" stream) and a member that diverges at step 25: all must resume exactly.
DRAGAN = GanLoss(LOSSES.get("ns").d_loss, LOSSES.get("ns").g_loss, penalty="dragan")
UNIT_SUITE = {
    "name": "ckpt-unit",
    "defaults": {
        "steps": 300,
        "batch_size": 16,
        "eval_every": 100,
        "eval_samples": 100,
        "w1_points": 50,
        "model": {"arch": "mlp", "hidden": 8, "depth": 2, "z_dim": 2},
        "loss": "ns-dragan",
        "gp_weight": 10.0,
        "ema": 0.9,
        "critic_warmup": {"steps": 5, "every": 70, "n_critic": 3},
    },
    "datasets": ["ring8"],
    "seeds": 2,
    "variants": {
        "ok": {"optimizer": {"name": "adam", "lr": 1.0e-3}},
        "boom": {"optimizer": {"name": "adam", "lr": 1.0e3}},
    },
}


class Killed(Exception):
    pass


def stop_after(steps: int, members: int):
    """An on_progress that raises once `steps` generator steps are done (it hears every 25)."""
    done = [0]

    def on_progress(run_steps: int) -> None:
        done[0] += run_steps
        if done[0] >= steps * members:
            raise Killed

    return on_progress


@pytest.fixture
def unit(monkeypatch):
    monkeypatch.setitem(LOSSES._entries, "ns-dragan", DRAGAN)
    return load_suite(UNIT_SUITE).specs


def test_an_interrupted_unit_resumes_to_the_uninterrupted_numbers(unit, tmp_path, capsys):
    expected = [numbers(r) for r in train_group(unit)]
    assert [(r["status"], r["steps_done"]) for r in expected] == [
        ("finished", 300),
        ("finished", 300),
        ("diverged", 25),
        ("diverged", 25),
    ]
    context = EvalContext(checkpoint_dir=str(tmp_path), checkpoint_every=100)
    with pytest.raises(Killed) as caught:
        train_group(unit, context=context, on_progress=stop_after(225, len(unit)))
    assert caught.value.steps_done == 225
    path = checkpoint_path(tmp_path, [s.run_id for s in unit])
    assert path.is_file()

    heard: list[int] = []
    resumed = train_group(unit, context=context, on_progress=heard.append)
    assert heard[0] == 200 * len(unit)  # the steps before the checkpoint, at once: not from 0
    assert "resume from their checkpoint at step 200" in capsys.readouterr().err
    for a, b in zip(expected, resumed, strict=True):
        assert_identical(a, numbers(b), "resumed vs uninterrupted")


def test_a_checkpoint_of_other_specs_is_not_resumed(unit, tmp_path, capsys):
    """Same run ids (so the same file), other member order: the fingerprint differs."""
    context = EvalContext(checkpoint_dir=str(tmp_path), checkpoint_every=50)
    with pytest.raises(Killed):
        train_group(unit, context=context, on_progress=stop_after(75, len(unit)))
    capsys.readouterr()
    heard: list[int] = []
    again = train_group(unit[::-1], context=context, on_progress=heard.append)
    assert "checkpoint of other specs" in capsys.readouterr().err
    assert heard[0] == 25 * len(unit)  # from step 0
    expected = {r.spec.run_id: numbers(r) for r in train_group(unit)}
    for result in again:
        assert_identical(expected[result.spec.run_id], numbers(result), "started over")


def test_optimizer_state_round_trips():
    flat = torch.nn.Parameter(torch.randn(2, 5))
    configs = [OptimizerConfig(name="adam", lr=0.1), OptimizerConfig(name="rmsprop", lr=0.01)]
    opt = BatchedOptimizer(flat, configs)
    for _ in range(3):
        flat.grad = torch.randn(2, 5)
        opt.step()
    opt.freeze(torch.tensor([False, True]))
    other = BatchedOptimizer(torch.nn.Parameter(flat.detach().clone()), configs)
    other.load_state_dict(opt.state_dict())
    grad = torch.randn(2, 5)
    for o in (opt, other):
        o.flat.grad = grad
        o.step()
    assert torch.equal(opt.flat, other.flat) and other.t == 4
    assert other.lr[1].item() == 0.0


def test_default_cadence_is_time_based_and_bounded(tmp_path, monkeypatch):
    """Without --checkpoint-every: once a minute, at a chunk boundary, and a slow save (a large
    ensemble) stretches the interval so saving stays ~1% of the time."""
    clock = [1000.0]
    monkeypatch.setattr(checkpoint.time, "monotonic", lambda: clock[0])

    def slow_write(path: Path, data: bytes) -> None:
        clock[0] += 2.0  # a 2 s write
        Path(path).write_bytes(data)

    monkeypatch.setattr(checkpoint, "write_atomic", slow_write)
    saver = checkpoint.Checkpointer(tmp_path, ["a"], {}, align=50, seconds=checkpoint.AUTO_SECONDS)
    assert not saver.due(50)
    clock[0] += 60
    assert not saver.due(75)  # not at a chunk boundary
    assert saver.due(100)
    saver.save(100, {})
    clock[0] += 199
    assert not saver.due(150)  # 2 s of saving: 200 s of training before the next one
    clock[0] += 1
    assert saver.due(150)
    checkpoint.discard(tmp_path, ["a"])
    assert not tmp_path.exists()  # the file, then the empty folder


def test_run_options_set_the_cadence(tmp_path):
    suite = load_suite(UNIT_SUITE | {"defaults": {**UNIT_SUITE["defaults"], "loss": "ns", "gp_weight": None}})
    auto = eval_context(suite, RunOptions(), tmp_path)
    assert (auto.checkpoint_every, auto.checkpoint_seconds) == (0, checkpoint.AUTO_SECONDS)
    assert auto.checkpoint_dir == str(tmp_path / "checkpoints")
    steps = eval_context(suite, RunOptions(checkpoint_every=200), tmp_path)
    assert (steps.checkpoint_every, steps.checkpoint_seconds) == (200, 0.0)
    off = eval_context(suite, RunOptions(checkpoint_every=0), tmp_path)
    assert (off.checkpoint_every, off.checkpoint_seconds) == (0, 0.0)


def test_a_conv_ensemble_resumes_with_its_snapshots(tmp_path):
    """Image data: the sample grids kept at each evaluation and the final weights come back too."""
    model = {"arch": "dcgan", "z_dim": 8, "width": 4, "batch_norm": True}
    defaults = {"steps": 100, "batch_size": 4, "eval_every": 50, "eval_samples": 20, "image_metrics": []}
    specs = load_suite(
        {
            "name": "ckpt-conv",
            "defaults": {**defaults, "model": model},
            "datasets": ["digits"],
            "seeds": 2,
            "variants": {"h": {"loss": "hinge", "optimizer": {"name": "adam", "lr": 1.0e-3}}},
        }
    ).specs
    expected = train_group(specs)
    context = EvalContext(checkpoint_dir=str(tmp_path), checkpoint_every=50)
    with pytest.raises(Killed):
        train_group(specs, context=context, on_progress=stop_after(75, len(specs)))
    resumed = train_group(specs, context=context)
    for a, b in zip(expected, resumed, strict=True):
        assert_identical(numbers(a), numbers(b), "conv resumed vs uninterrupted")
        assert [s for s, _ in a.snapshots] == [s for s, _ in b.snapshots] == [50, 100]
        assert all((x == y).all() for (_, x), (_, y) in zip(a.snapshots, b.snapshots, strict=True))
        assert (a.generator == b.generator).all() and (a.samples == b.samples).all()


def test_a_checkpoint_that_does_not_fit_is_deleted(unit, tmp_path):
    """Right fingerprint, wrong contents (say a plugin net changed shape): the call fails, and
    the file is gone, so that the retry trains from step 0 instead of failing again."""
    context = EvalContext(checkpoint_dir=str(tmp_path), checkpoint_every=50)
    with pytest.raises(Killed):
        train_group(unit, context=context, on_progress=stop_after(75, len(unit)))
    path = checkpoint_path(tmp_path, [s.run_id for s in unit])
    saved = torch.load(path, weights_only=True)
    saved["nets"][0]["flat"] = torch.zeros(1, 3)
    torch.save(saved, path)
    with pytest.raises(RuntimeError):
        train_group(unit, context=context)
    assert not path.exists()
    heard: list[int] = []
    train_group(unit, context=context, on_progress=heard.append)
    assert heard[0] == 25 * len(unit)  # from step 0
