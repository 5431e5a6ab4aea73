"""Each loss against values worked out by hand, and the gradient penalty on critics with a known
gradient norm."""

import math

import pytest
import torch

from ganbench.losses import critic_estimate, gradient_penalty
from ganbench.registry import LOSSES

REAL = torch.tensor([[1.0, -2.0]])  # K=1 member, B=2 logits
FAKE = torch.tensor([[0.5, 3.0]])


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def mean(values) -> float:
    values = list(values)
    return sum(values) / len(values)


# Probability forms of the objectives (the code uses softplus on logits: a different route).
D_BCE = -mean(math.log(sigmoid(r)) for r in (1.0, -2.0)) - mean(math.log(1 - sigmoid(f)) for f in (0.5, 3.0))
CASES = {
    "mm": (D_BCE, mean(math.log(1 - sigmoid(f)) for f in (0.5, 3.0))),
    "ns": (D_BCE, -mean(math.log(sigmoid(f)) for f in (0.5, 3.0))),
    # 0.5 * (mean((r-1)^2) + mean(f^2)) = 0.5 * (4.5 + 4.625); G: 0.5 * mean((f-1)^2) = 0.5 * 2.125
    "lsgan": (4.5625, 1.0625),
    # mean(relu(1-r)) + mean(relu(1+f)) = 1.5 + 2.75; G: -mean(f)
    "hinge": (4.25, -1.75),
    # mean(f) - mean(r) = 1.75 + 0.5
    "wgan": (2.25, -1.75),
    "wgan-gp": (2.25, -1.75),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_loss_values(name):
    loss = LOSSES.get(name)
    d_expected, g_expected = CASES[name]
    assert loss.d_loss(REAL, FAKE).item() == pytest.approx(d_expected, rel=1e-6)
    assert loss.g_loss(FAKE).item() == pytest.approx(g_expected, rel=1e-6)


def test_losses_are_per_member():
    loss = LOSSES.get("hinge")
    real = torch.cat([REAL, -REAL])
    fake = torch.cat([FAKE, -FAKE])
    both = loss.d_loss(real, fake)
    assert both.shape == (2,)
    assert both[0].item() == pytest.approx(4.25)
    assert both[1].item() == pytest.approx(loss.d_loss(-REAL, -FAKE).item())


def test_critic_estimate_is_mean_gap():
    assert critic_estimate(REAL, FAKE).item() == pytest.approx(-0.5 - 1.75)


def test_wgan_gp_has_default_weight():
    assert LOSSES.get("wgan-gp").default_gp_weight == 10.0
    assert LOSSES.get("wgan").default_gp_weight == 0.0


def test_papers_defaults_of_the_wasserstein_losses():
    wgan, gp, ns = LOSSES.get("wgan"), LOSSES.get("wgan-gp"), LOSSES.get("ns")
    assert (wgan.default_n_critic, wgan.default_clip) == (5, 0.01)  # Arjovsky et al., Algorithm 1
    assert (gp.default_n_critic, gp.default_clip) == (5, None)  # Gulrajani et al., Algorithm 1
    assert (ns.default_n_critic, ns.default_clip) == (1, None)


def test_gradient_penalty_linear_critics():
    # D_k(x) = x . a_k has gradient a_k everywhere: penalty = (|a_k| - 1)^2.
    a = torch.tensor([[3.0, 4.0], [0.6, 0.8], [0.0, 0.5]])  # norms 5, 1, 0.5

    def critic(x):
        return (x * a[:, None, :]).sum(-1)

    real, fake = torch.randn(3, 16, 2), torch.randn(3, 16, 2)
    eps = torch.rand(3, 16)
    penalty = gradient_penalty(critic, real, fake, eps)
    assert penalty.tolist() == pytest.approx([16.0, 0.0, 0.25], abs=1e-6)


def test_gradient_penalty_norm_over_all_sample_dims():
    # Image-shaped samples: D(x) = sum(x) / 2 has gradient 1/2 in each of 3*4*4 = 48 dims,
    # norm sqrt(48)/2; the penalty must use the norm over all of them.
    def critic(x):
        return x.flatten(2).sum(-1) / 2

    real = torch.randn(1, 5, 3, 4, 4)
    penalty = gradient_penalty(critic, real, torch.randn_like(real), torch.rand(1, 5))
    assert penalty.item() == pytest.approx((math.sqrt(48) / 2 - 1) ** 2, rel=1e-5)


def test_gradient_penalty_uses_interpolates():
    # D(x) = |x|^2 / 2 has gradient x: with eps = 1 the interpolate is the real point.
    def critic(x):
        return (x**2).sum(-1) / 2

    real = torch.tensor([[[3.0, 4.0], [0.0, 2.0]]])
    fake = torch.zeros_like(real)
    penalty = gradient_penalty(critic, real, fake, torch.ones(1, 2))
    assert penalty.item() == pytest.approx(((5 - 1) ** 2 + (2 - 1) ** 2) / 2)
    half = gradient_penalty(critic, real, fake, torch.full((1, 2), 0.5))
    assert half.item() == pytest.approx(((2.5 - 1) ** 2 + (1 - 1) ** 2) / 2)
