"""The ensemble engine: a member equals its standalone run, a diverging member stops alone,
weight clipping holds, runs are reproducible."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ganbench.registry import ARCHS
from ganbench.suite import load_suite
from ganbench.train import group_key, train_group
from tests.conftest import TINY_SUITE, write


def without_claims() -> str:
    """The tiny suite cut before its claims, so variants can be appended."""
    return TINY_SUITE.split("claims:")[0]


def specs_of(tmp_path, text=TINY_SUITE, **overrides):
    return load_suite(write(tmp_path, text), **overrides).specs


def assert_same_result(a, b, tol=1e-5):
    assert a.status == b.status and a.steps_done == b.steps_done
    assert a.metrics.keys() == b.metrics.keys()
    for name in a.metrics:
        x, y = a.metrics[name], b.metrics[name]
        assert (math.isnan(x) and math.isnan(y)) or x == pytest.approx(y, rel=tol, abs=tol), name
    for name, series in a.history.items():
        np.testing.assert_allclose(
            np.array(series), np.array(b.history[name]), rtol=tol, atol=tol, err_msg=name
        )


def test_member_equals_standalone_run(tmp_path):
    # Two datasets, two seeds and (in the second variant) per-member scalars in one ensemble.
    text = TINY_SUITE.replace("seeds: 2", "seeds: [0, 7]")
    specs = [s for s in specs_of(tmp_path, text) if s.variant == "wgan"]
    assert len({group_key(s) for s in specs}) == 1
    together = train_group(specs)
    for spec, result in zip(specs, together, strict=True):
        assert_same_result(result, train_group([spec])[0])
    # members really differ (no accidental sharing of streams)
    assert together[0].metrics["w1"] != together[1].metrics["w1"]


def test_mixed_optimizers_share_an_ensemble(tmp_path):
    text = (
        without_claims()
        + "  wgan_adam: {loss: wgan, clip: 0.05, n_critic: 2, optimizer: {name: adam, lr: 1.0e-3}}\n"
    )
    specs = [
        s for s in specs_of(tmp_path, text, seeds=1) if s.variant.startswith("wgan") and s.dataset == "ring8"
    ]
    assert group_key(specs[0]) == group_key(specs[1])
    together = train_group(specs)
    for spec, result in zip(specs, together, strict=True):
        assert_same_result(result, train_group([spec])[0])


def test_diverging_member_stops_alone(tmp_path):
    text = without_claims() + "  blowup: {loss: ns, optimizer: {name: sgd, lr: 1.0e+30}}\n"
    specs = [
        s
        for s in specs_of(tmp_path, text, seeds=1)
        if s.dataset == "ring8" and s.variant in ("gan", "blowup")
    ]
    assert group_key(specs[0]) == group_key(specs[1])
    gan, blowup = train_group(specs)
    assert blowup.status == "diverged" and blowup.steps_done < blowup.spec.train.steps
    assert blowup.metrics["diverged"] == 1.0
    assert gan.status == "finished" and gan.steps_done == gan.spec.train.steps
    assert_same_result(gan, train_group([specs[0]])[0])


def test_weight_clipping_bounds_every_critic_weight(tmp_path, monkeypatch):
    spec = next(s for s in specs_of(tmp_path, steps=20) if s.variant == "wgan")
    built = {}
    original = ARCHS.get("mlp")

    def capture(model, shape, seeds):
        built["nets"] = original(model, shape, seeds)
        return built["nets"]

    monkeypatch.setitem(ARCHS._entries, "mlp", capture)
    train_group([spec])
    critic = built["nets"][1].flat.detach()
    assert critic.abs().max().item() <= 0.05 + 1e-7
    assert (critic.abs() > 0.05 - 1e-4).any()  # clipping was active, not vacuous


def test_same_seed_same_numbers(tmp_path):
    spec = specs_of(tmp_path, steps=30)[0]
    a, b = train_group([spec]), train_group([spec])
    assert_same_result(a[0], b[0], tol=0)


def test_wasserstein_metrics_recorded(tmp_path):
    spec = next(s for s in specs_of(tmp_path) if s.variant == "wgan")
    result = train_group([spec])[0]
    assert {"critic_w", "w_quality_corr", "w1", "modes_covered", "w1_osc"} <= result.metrics.keys()
    assert "critic_w" in result.history and result.history["w1"][-1][0] == spec.train.steps
    assert result.samples.shape == (400, 2)


def test_batched_mlp_matches_torch_linear():
    from ganbench.suite import ModelConfig

    G, _ = ARCHS.get("mlp")(ModelConfig(hidden=16, depth=2, z_dim=3), (2,), [0, 1])
    z = torch.randn(2, 5, 3)
    for k in range(2):
        h = z[k]
        for i in range(3):
            h = h @ G.param(f"w{i}")[k] + G.param(f"b{i}")[k]
            h = torch.relu(h) if i < 2 else h
        torch.testing.assert_close(G(z)[k], h)


def test_step_views_gradient_equals_autograd_through_flat():
    """The reused-buffer gradient is bit for bit the gradient autograd gives through `flat`, for a
    critic step with real, fake and gradient-penalty forwards (three uses of every weight)."""
    from ganbench.losses import gradient_penalty
    from ganbench.suite import ModelConfig

    _, D = ARCHS.get("mlp")(ModelConfig(hidden=16, depth=2, z_dim=2), (2,), [0, 1, 2])
    real, fake, eps = torch.randn(3, 8, 2), torch.randn(3, 8, 2), torch.rand(3, 8)

    def critic_loss():
        return (D(fake).mean(1) - D(real).mean(1) + 10 * gradient_penalty(D, real, fake, eps)).sum()

    (expected,) = torch.autograd.grad(critic_loss(), D.flat)
    for _ in range(2):  # the second call writes into the buffer the first one allocated
        with D.step_views():
            buffer = D.gradient(critic_loss())
        assert buffer is D.flat.grad and torch.equal(buffer, expected)


def test_per_member_clip_equals_clamp():
    from ganbench.train import _clip

    flat = torch.randn(4, 1000) * 0.3
    flat[0, :3] = torch.tensor([float("nan"), -0.0, 0.0])
    bounds = torch.tensor([0.01, 0.1, 0.5, 0.1]).unsqueeze(1)
    expected = torch.clamp(flat, -bounds, bounds)
    _clip(flat, bounds)
    assert torch.equal(flat[:, 3:], expected[:, 3:]) and flat[0, 0].isnan()
    assert [str(x) for x in flat[0, 1:3].tolist()] == ["-0.0", "0.0"]


def test_wide_ensembles_keep_freed_memory_in_the_heap():
    """Past glibc's mmap ceiling a [K, P] tensor is mapped afresh on each allocation (page faults
    every step); an ensemble whose weights pass it switches the process to heap allocation.
    In a subprocess: the setting is process-wide. mallinfo2's hblkhd counts mmapped bytes."""
    import subprocess
    import sys

    code = """
import ctypes, torch
from ganbench.models.mlp import build_mlp
from ganbench.suite import ModelConfig
from ganbench.train import configure_execution

class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]
libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = Info

def mapped_by_big_tensor():
    before = libc.mallinfo2().hblkhd
    x = torch.empty(64 * 2**20 // 4)
    return libc.mallinfo2().hblkhd - before

small = build_mlp(ModelConfig(hidden=64, depth=3), (2,), [0, 1])
configure_execution(small, "cpu", "auto")
print(mapped_by_big_tensor() >= 64 * 2**20)
wide = build_mlp(ModelConfig(hidden=512, depth=3), (2,), list(range(20)))  # 42 MB per net
configure_execution(wide, "cpu", "auto")
print(mapped_by_big_tensor())
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True", "0"], out
