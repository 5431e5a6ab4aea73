"""DCGAN and ResNet ensembles: shapes, member k == a standalone build of seed k, gradients stay
within their member, spectral norm reaches a top singular value of 1."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganbench.errors import BadInput
from ganbench.registry import ARCHS, load_builtins
from ganbench.suite import ModelConfig

load_builtins()
ARCH_NAMES = ["dcgan", "resnet"]


def config(arch: str, **overrides) -> ModelConfig:
    return ModelConfig(
        **{"arch": arch, "z_dim": 8, "width": 8, "batch_norm": True, "spectral_norm": True, **overrides}
    )


@pytest.mark.parametrize("arch", ARCH_NAMES)
@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32), (3, 64, 64), (1, 16, 16)])
def test_forward_shapes_for_three_members(arch, shape):
    G, D = ARCHS.get(arch)(config(arch), shape, [0, 1, 2])
    x = G(torch.randn(3, 5, 8))
    assert x.shape == (3, 5, *shape) and x.abs().max() <= 1  # tanh output
    assert D(x).shape == (3, 5)
    assert G.flat.shape[0] == D.flat.shape[0] == 3


@pytest.mark.parametrize("arch", ARCH_NAMES)
def test_member_equals_standalone_build_of_its_seed(arch):
    shape = (1, 16, 16)
    G3, D3 = ARCHS.get(arch)(config(arch), shape, [4, 5, 6])
    z, x = torch.randn(3, 6, 8), torch.randn(3, 6, *shape)
    out_g, out_d = G3(z), D3(x)
    for k, seed in enumerate([4, 5, 6]):
        G1, D1 = ARCHS.get(arch)(config(arch), shape, [seed])
        assert torch.equal(G1.flat[0], G3.flat[k]) and torch.equal(D1.flat[0], D3.flat[k])
        torch.testing.assert_close(G1(z[k : k + 1])[0], out_g[k], rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(D1(x[k : k + 1])[0], out_d[k], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("arch", ARCH_NAMES)
def test_gradients_stay_within_their_member(arch):
    G, D = ARCHS.get(arch)(config(arch), (3, 32, 32), [0, 1])
    score = D(G(torch.randn(2, 4, 8)))
    g_grad, d_grad = torch.autograd.grad(score[1].sum(), [G.flat, D.flat])
    for grad in (g_grad, d_grad):
        assert grad[0].abs().max() == 0 and grad[1].abs().max() > 0


@pytest.mark.parametrize("arch", ARCH_NAMES)
def test_spectral_norm_brings_top_singular_value_to_one(arch):
    _, D = ARCHS.get(arch)(config(arch), (1, 16, 16), [0, 1])
    x = torch.randn(2, 3, 1, 16, 16)
    for _ in range(100):  # one power iteration per training forward, as torch's spectral_norm
        D(x)
    assert D.normalised  # every weight of the critic
    for name in D.normalised:
        w = D.weight(name)
        top = torch.linalg.matrix_norm(w.reshape(2, w.shape[1], -1).detach(), ord=2)
        torch.testing.assert_close(top, torch.ones(2), rtol=1e-2, atol=1e-2)


def test_spectral_norm_vectors_only_move_in_training():
    _, D = ARCHS.get("dcgan")(config("dcgan"), (1, 16, 16), [0])
    x = torch.randn(1, 2, 1, 16, 16)
    before = D.u_w0.clone()
    D.eval()
    D(x)
    assert torch.equal(D.u_w0, before)
    D.train()
    D(x)
    assert not torch.equal(D.u_w0, before)


def test_spectral_norm_off_leaves_weights_alone():
    _, D = ARCHS.get("dcgan")(config("dcgan", spectral_norm=False), (1, 16, 16), [0])
    assert D.normalised == [] and torch.equal(D.weight("w0"), D.param("w0"))


@pytest.mark.parametrize("arch", ARCH_NAMES)
def test_unsupported_resolution_is_bad_input(arch):
    with pytest.raises(BadInput, match="square images"):
        ARCHS.get(arch)(config(arch), (1, 27, 27), [0])


@pytest.mark.parametrize("loss", ["hinge", "ns"])
def test_spectral_norm_critic_trains_through_the_engine(loss):
    """D(real) and D(fake) share one backward while each forward moves the power-iteration vector
    in place: the first forward's graph must keep the vector it used (it once failed here with
    "modified by an inplace operation"), as suites/cifar10_fid.yaml's dcgan_hinge needs."""
    from ganbench.suite import load_suite
    from ganbench.train import train_group

    suite = load_suite(
        {
            "name": "sn",
            "defaults": {
                "steps": 3,
                "batch_size": 8,
                "eval_every": 3,
                "eval_samples": 16,
                "image_metrics": [],
                "model": {"arch": "dcgan", "z_dim": 8, "width": 8, "spectral_norm": True},
            },
            "datasets": [{"name": "digits", "size": 16}],
            "seeds": 2,
            "variants": {"sn": {"loss": loss}},
        }
    )
    results = train_group(suite.specs)
    assert [r.status for r in results] == ["finished", "finished"]
    assert all(np.isfinite(r.generator).all() for r in results)
