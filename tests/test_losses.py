"""Each loss against values worked out by hand, and the gradient penalty on critics with a known
gradient norm."""

import math

import pytest
import torch

from ganbench.losses import critic_estimate, gradient_penalty, r1_penalty, r2_penalty
from ganbench.registry import LOSSES, PENALTIES
from tests.conftest import TINY_DEFAULTS

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
    "ns-r1": (D_BCE, -mean(math.log(sigmoid(f)) for f in (0.5, 3.0))),
    # Relativistic standard GAN: pairs (r_i, f_i) = (1, 0.5), (-2, 3); D: -E log sigmoid(r_i - f_i)
    "rsgan": (
        -mean(math.log(sigmoid(d)) for d in (0.5, -5.0)),
        -mean(math.log(sigmoid(d)) for d in (-0.5, 5.0)),
    ),
    # Relativistic average: mean(r) = -0.5, mean(f) = 1.75;
    # D: -E_r log sigmoid(r - 1.75) - E_f log(1 - sigmoid(f + 0.5)), G: the roles swapped
    "rasgan": (
        -mean(math.log(sigmoid(r - 1.75)) for r in (1.0, -2.0))
        - mean(math.log(1 - sigmoid(f + 0.5)) for f in (0.5, 3.0)),
        -mean(math.log(sigmoid(f + 0.5)) for f in (0.5, 3.0))
        - mean(math.log(1 - sigmoid(r - 1.75)) for r in (1.0, -2.0)),
    ),
}
RELATIVISTIC = {"rsgan", "rasgan"}


@pytest.mark.parametrize("name", sorted(CASES))
def test_loss_values(name):
    loss = LOSSES.get(name)
    d_expected, g_expected = CASES[name]
    assert loss.d_loss(REAL, FAKE).item() == pytest.approx(d_expected, rel=1e-6)
    assert loss.g_loss(REAL if name in RELATIVISTIC else None, FAKE).item() == pytest.approx(
        g_expected, rel=1e-6
    )
    assert loss.relativistic == (name in RELATIVISTIC)  # only these make the engine score D(real) for G


def test_relativistic_hand_values():
    # The same numbers in closed form: softplus(x) = log(1 + e^x).
    def sp(x):
        return math.log1p(math.exp(x))

    rsgan, rasgan = LOSSES.get("rsgan"), LOSSES.get("rasgan")
    assert rsgan.d_loss(REAL, FAKE).item() == pytest.approx((sp(-0.5) + sp(5.0)) / 2, rel=1e-6)
    assert rsgan.g_loss(REAL, FAKE).item() == pytest.approx((sp(0.5) + sp(-5.0)) / 2, rel=1e-6)
    d = (sp(0.75) + sp(3.75)) / 2 + (sp(1.0) + sp(3.5)) / 2
    g = (sp(-1.0) + sp(-3.5)) / 2 + (sp(-0.75) + sp(-3.75)) / 2
    assert rasgan.d_loss(REAL, FAKE).item() == pytest.approx(d, rel=1e-6)
    assert rasgan.g_loss(REAL, FAKE).item() == pytest.approx(g, rel=1e-6)


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


def test_losses_name_their_penalty():
    # gp_weight weighs the loss's penalty: WGAN-GP's for every built-in but ns-r1 (so a
    # `loss: ns, gp_weight: 10` variant trains as before), R1 with gamma / 2 = 5 for ns-r1.
    assert {name: LOSSES.get(name).penalty for name in ("ns", "wgan", "wgan-gp", "ns-r1")} == {
        "ns": "gp",
        "wgan": "gp",
        "wgan-gp": "gp",
        "ns-r1": "r1",
    }
    assert LOSSES.get("ns-r1").default_gp_weight == 5.0
    assert PENALTIES.get("gp") is gradient_penalty
    assert (PENALTIES.get("r1"), PENALTIES.get("r2")) == (r1_penalty, r2_penalty)


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


def test_r1_r2_penalties_hand_values():
    # D(x) = |x|^2 / 2 has gradient x: R1 = mean |real|^2, R2 = mean |fake|^2 (no interpolation).
    def critic(x):
        return (x**2).sum(-1) / 2

    real = torch.tensor([[[3.0, 4.0], [0.0, 2.0]]])
    fake = torch.tensor([[[1.0, 0.0], [0.0, -3.0]]])
    eps = torch.full((1, 2), 0.5)
    assert r1_penalty(critic, real, fake, eps).tolist() == [14.5]  # (25 + 4) / 2
    assert r2_penalty(critic, real, fake, eps).tolist() == [5.0]  # (1 + 9) / 2


def test_r1_per_member_linear_critics():
    # D_k(x) = x . a_k: R1 = |a_k|^2 per member, whatever the data.
    a = torch.tensor([[3.0, 4.0], [0.6, 0.8], [0.0, 0.5]])

    def critic(x):
        return (x * a[:, None, :]).sum(-1)

    real = torch.randn(3, 16, 2)
    assert r1_penalty(critic, real, real, torch.rand(3, 16)).tolist() == pytest.approx(
        [25.0, 1.0, 0.25], abs=1e-6
    )


def test_new_losses_train(tmp_path):
    """rsgan, rasgan (D(real) in the generator step) and ns-r1 (R1 by name) train in the engine,
    and ns-r1 with gp_weight 0 is the plain non-saturating GAN bit for bit."""
    from ganbench.suite import load_suite
    from ganbench.train import train_group

    base = {"optimizer": {"name": "adam", "lr": 1.0e-3}}
    suite = load_suite(
        {
            "name": "new_losses",
            "defaults": TINY_DEFAULTS,
            "datasets": ["ring8"],
            "seeds": 1,
            "variants": {
                "rs": {"loss": "rsgan", **base},
                "ra": {"loss": "rasgan", **base},
                "r1": {"loss": "ns-r1", **base},
                "r1_off": {"loss": "ns-r1", "gp_weight": 0.0, **base},
                "ns": {"loss": "ns", **base},
            },
        }
    )
    results = {s.variant: train_group([s])[0] for s in suite.specs}
    assert all(r.status == "finished" for r in results.values())
    assert results["r1_off"].metrics == results["ns"].metrics
    assert results["r1"].metrics != results["ns"].metrics
    assert results["rs"].metrics != results["ra"].metrics


def test_gp_weight_needs_a_penalty(monkeypatch):
    from ganbench.errors import BadInput
    from ganbench.losses import GanLoss
    from ganbench.suite import load_suite

    plain = LOSSES.get("hinge")
    monkeypatch.setitem(LOSSES._entries, "no-penalty", GanLoss(plain.d_loss, plain.g_loss, penalty=None))
    suite = {
        "name": "x",
        "datasets": ["ring8"],
        "seeds": 1,
        "variants": {"a": {"loss": "no-penalty", "gp_weight": 1.0}},
    }
    with pytest.raises(BadInput, match="takes no penalty"):
        load_suite(suite)


def test_dragan_penalty_hand_values():
    # D(x) = |x|^2 / 2 has gradient x_hat = x + eps * 0.5 * std(x) * noise.
    from ganbench.losses import dragan_penalty

    def critic(x):
        return (x**2).sum(-1) / 2

    real = torch.tensor([[[3.0, 4.0], [0.0, 2.0]]])
    zero = torch.zeros_like(real)
    # no perturbation: (|x| - 1)^2 averaged = ((5 - 1)^2 + (2 - 1)^2) / 2
    assert dragan_penalty(critic, real, zero, torch.ones(1, 2), zero).tolist() == [8.5]
    # std of the member's batch [0, 0, 0, 2] (unbiased) is 1: x_hat = x + 0.5 where eps = 1
    real = torch.tensor([[[0.0, 0.0], [0.0, 2.0]]])
    got = dragan_penalty(critic, real, zero, torch.tensor([[1.0, 0.0]]), torch.ones_like(real))
    assert got.item() == pytest.approx(((math.sqrt(0.5) - 1) ** 2 + (2 - 1) ** 2) / 2, rel=1e-6)
    assert PENALTIES.get("dragan").needs_noise


def test_dragan_trains_per_member(monkeypatch):
    """A loss naming the dragan penalty trains, and its member's numbers do not depend on the
    ensemble (the perturbation noise comes from the member's own stream)."""
    from ganbench.losses import GanLoss
    from ganbench.suite import load_suite
    from ganbench.train import train_group

    ns = LOSSES.get("ns")
    monkeypatch.setitem(LOSSES._entries, "ns-dragan", GanLoss(ns.d_loss, ns.g_loss, penalty="dragan"))
    suite = load_suite(
        {
            "name": "dragan",
            "defaults": TINY_DEFAULTS,
            "datasets": ["ring8"],
            "seeds": 2,
            "variants": {
                "d": {"loss": "ns-dragan", "gp_weight": 10.0, "optimizer": {"name": "adam", "lr": 1e-3}}
            },
        }
    )
    both = train_group(suite.specs)
    alone = train_group(suite.specs[:1])[0]
    assert [r.status for r in both] == ["finished", "finished"]
    assert both[0].metrics == alone.metrics
