"""GAN objectives and penalties as small pure functions.

Every function takes discriminator outputs of shape [K, B] (K ensemble members, B samples) and
returns one loss per member, shape [K]; the training step sums them, which keeps the members'
gradients independent. Losses are written on logits, with softplus for numerical stability:
log D(x) = -softplus(-x) and log(1 - D(x)) = -softplus(x).

A loss is a ``GanLoss`` in ``LOSSES``; a penalty is a function in ``PENALTIES``
(``(critic, real, fake, eps) -> [K]``), and a loss names the penalty that the variant's
``gp_weight`` weighs. The engine (train.py) knows neither by name.

torch is imported when a loss is first computed, not with this module: the suite loader reads
the losses' defaults (``default_n_critic``, ...) without it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ganbench.registry import LOSSES, PENALTIES

if TYPE_CHECKING:
    from torch import Tensor


@dataclass(frozen=True)
class GanLoss:
    d_loss: Callable[[Tensor, Tensor], Tensor]  # (d_real, d_fake) -> [K]
    # (d_real, d_fake) -> [K]. d_real is None unless `relativistic`: only then does the engine
    # score a real batch for the generator's update (the last critic update's batch, re-scored by
    # the updated critic), so the other losses cost nothing extra.
    g_loss: Callable[[Tensor | None, Tensor], Tensor]
    wasserstein: bool = False  # the critic's mean(real) - mean(fake) estimates W1
    relativistic: bool = False  # g_loss reads D(real)
    # The PENALTIES entry that `gp_weight` weighs (added to the critic's loss when gp_weight > 0);
    # None: the loss takes no penalty and a gp_weight > 0 is an error.
    penalty: str | None = "gp"
    # What a variant gets when it does not say (TrainConfig resolves them into the spec): the
    # settings of the loss's paper.
    default_gp_weight: float = 0.0
    default_n_critic: int = 1
    default_clip: float | None = None  # weight clipping of the critic


def _mean(x: Tensor) -> Tensor:
    return x.mean(dim=-1)


def _softplus(x: Tensor) -> Tensor:
    from torch.nn.functional import softplus

    return softplus(x)


def _relu(x: Tensor) -> Tensor:
    from torch.nn.functional import relu

    return relu(x)


def _bce(real: Tensor, fake: Tensor) -> Tensor:
    """-E log D(real) - E log(1 - D(fake)), D = sigmoid of the logits."""
    return _mean(_softplus(-real)) + _mean(_softplus(fake))


LOSSES.add(
    "mm",  # Goodfellow et al. minimax: G minimises log(1 - D(G(z)))
    GanLoss(d_loss=_bce, g_loss=lambda real, fake: -_mean(_softplus(fake))),
)
_ns = GanLoss(d_loss=_bce, g_loss=lambda real, fake: _mean(_softplus(-fake)))  # G maximises log D(G(z))
LOSSES.add("ns", _ns)
LOSSES.add(
    "lsgan",  # Mao et al., targets 0/1 with the 1/2 factor of the paper
    GanLoss(
        d_loss=lambda real, fake: 0.5 * (_mean((real - 1) ** 2) + _mean(fake**2)),
        g_loss=lambda real, fake: 0.5 * _mean((fake - 1) ** 2),
    ),
)
LOSSES.add(
    "hinge",  # Lim & Ye / SNGAN
    GanLoss(
        d_loss=lambda real, fake: _mean(_relu(1 - real)) + _mean(_relu(1 + fake)),
        g_loss=lambda real, fake: -_mean(fake),
    ),
)
_wgan = GanLoss(
    d_loss=lambda real, fake: _mean(fake) - _mean(real),
    g_loss=lambda real, fake: -_mean(fake),
    wasserstein=True,
    default_n_critic=5,  # Arjovsky et al., Algorithm 1
    default_clip=0.01,
)
LOSSES.add("wgan", _wgan)
LOSSES.add(
    "wgan-gp",  # Gulrajani et al., Algorithm 1: lambda 10, n_critic 5, no clipping
    GanLoss(
        _wgan.d_loss, _wgan.g_loss, wasserstein=True, penalty="gp", default_gp_weight=10.0, default_n_critic=5
    ),
)
# Relativistic GANs (Jolicoeur-Martineau 2018, the paper's equations, no 1/2 factor): the critic
# scores how much more realistic real data is than fake. RSGAN pairs sample i of each batch;
# RaSGAN compares each sample with the other side's mean.
LOSSES.add(
    "rsgan",
    GanLoss(
        d_loss=lambda real, fake: _mean(_softplus(fake - real)),  # -E log sigmoid(C(x_r) - C(x_f))
        g_loss=lambda real, fake: _mean(_softplus(real - fake)),  # -E log sigmoid(C(x_f) - C(x_r))
        relativistic=True,
    ),
)


def _ra(a: Tensor, b: Tensor) -> Tensor:
    """-E_a log sigmoid(C(a) - mean C(b)) - E_b log(1 - sigmoid(C(b) - mean C(a)))."""
    return _mean(_softplus(-(a - _mean(b).unsqueeze(-1)))) + _mean(_softplus(b - _mean(a).unsqueeze(-1)))


LOSSES.add(
    "rasgan",
    GanLoss(d_loss=_ra, g_loss=lambda real, fake: _ra(fake, real), relativistic=True),
)
# R1 (Mescheder et al. 2018): the non-saturating GAN with gp_weight * E||grad D(real)||^2 on the
# critic, i.e. gp_weight is the paper's gamma / 2; 5.0 is its gamma = 10.
LOSSES.add("ns-r1", GanLoss(_ns.d_loss, _ns.g_loss, penalty="r1", default_gp_weight=5.0))


def critic_estimate(d_real: Tensor, d_fake: Tensor) -> Tensor:
    """mean D(real) - mean D(fake) per member: the critic's estimate of W1 for WGAN losses."""
    return _mean(d_real) - _mean(d_fake)


# ----------------------------------------------------------------------------- penalties
# A penalty is (critic, real, fake, eps, noise) -> [K]: critic maps [K, B, *shape] to [K, B]; real
# and fake are the critic update's batches, [K, B, *shape]; eps [K, B] are uniform draws in [0, 1)
# from each member's own "penalty" stream (whether the penalty uses them or not); noise is None
# unless the function has ``needs_noise = True``: then uniform [0, 1) draws shaped like real, from
# the member's own "perturb" stream.


def _grad_norm(critic: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    """||grad_x D(x)||_2 per sample, [K, B], over all non-batch dims; differentiable."""
    import torch

    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x).sum(), x, create_graph=True)
    return grad.flatten(start_dim=2).norm(dim=2)


@PENALTIES.register("gp")
def gradient_penalty(
    critic: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor, eps: Tensor, noise: Tensor | None = None
) -> Tensor:
    """WGAN-GP: E[(||grad_x D(x_hat)||_2 - 1)^2] on random interpolates, per member -> [K].

    real, fake: [K, B, *shape]; eps: [K, B] interpolation weights in [0, 1], drawn by the caller
    from each member's own generator. The norm is over all non-batch dims of one sample.
    """
    import torch

    eps = eps.view(eps.shape + (1,) * (real.dim() - 2))
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    norm = grad.flatten(start_dim=2).norm(dim=2)
    return _mean((norm - 1) ** 2)


@PENALTIES.register("r1")
def r1_penalty(
    critic: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor, eps: Tensor, noise: Tensor | None = None
) -> Tensor:
    """R1 (Mescheder et al. 2018): E||grad_x D(x)||^2 on real data, per member -> [K]."""
    return _mean(_grad_norm(critic, real) ** 2)


@PENALTIES.register("r2")
def r2_penalty(
    critic: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor, eps: Tensor, noise: Tensor | None = None
) -> Tensor:
    """R2: E||grad_x D(x)||^2 on generated data, per member -> [K]."""
    return _mean(_grad_norm(critic, fake) ** 2)


@PENALTIES.register("dragan")
def dragan_penalty(
    critic: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor, eps: Tensor, noise: Tensor | None = None
) -> Tensor:
    """DRAGAN (Kodali et al. 2017, the authors' code): E[(||grad D(x_hat)|| - 1)^2] around the real
    data, x_hat = x + eps * 0.5 * std(x) * noise, std over each member's whole real batch, noise
    uniform [0, 1) per element, eps [0, 1) per sample."""
    if noise is None:
        raise ValueError("the dragan penalty needs per-element noise (needs_noise)")
    shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    std = real.flatten(start_dim=1).std(dim=1).view(shape)
    eps = eps.view(eps.shape + (1,) * (real.dim() - 2))
    x_hat = real + eps * (0.5 * std * noise)
    return _mean((_grad_norm(critic, x_hat) - 1) ** 2)


dragan_penalty.needs_noise = True  # type: ignore[attr-defined]
