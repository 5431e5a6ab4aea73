"""GAN objectives and penalties as small pure functions.

Every function takes discriminator outputs of shape [K, B] (K ensemble members, B samples) and
returns one loss per member, shape [K]; the training step sums them, which keeps the members'
gradients independent. Losses are written on logits, with softplus for numerical stability:
log D(x) = -softplus(-x) and log(1 - D(x)) = -softplus(x).

torch is imported when a loss is first computed, not with this module: the suite loader reads
the losses' defaults (``default_n_critic``, ...) without it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ganbench.registry import LOSSES

if TYPE_CHECKING:
    from torch import Tensor


@dataclass(frozen=True)
class GanLoss:
    d_loss: Callable[[Tensor, Tensor], Tensor]  # (d_real, d_fake) -> [K]
    g_loss: Callable[[Tensor], Tensor]  # d_fake -> [K]
    wasserstein: bool = False  # the critic's mean(real) - mean(fake) estimates W1
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


LOSSES.add(
    "mm",  # Goodfellow et al. minimax: G minimises log(1 - D(G(z)))
    GanLoss(
        d_loss=lambda real, fake: _mean(_softplus(-real)) + _mean(_softplus(fake)),
        g_loss=lambda fake: -_mean(_softplus(fake)),
    ),
)
LOSSES.add(
    "ns",  # non-saturating: G maximises log D(G(z))
    GanLoss(
        d_loss=lambda real, fake: _mean(_softplus(-real)) + _mean(_softplus(fake)),
        g_loss=lambda fake: _mean(_softplus(-fake)),
    ),
)
LOSSES.add(
    "lsgan",  # Mao et al., targets 0/1 with the 1/2 factor of the paper
    GanLoss(
        d_loss=lambda real, fake: 0.5 * (_mean((real - 1) ** 2) + _mean(fake**2)),
        g_loss=lambda fake: 0.5 * _mean((fake - 1) ** 2),
    ),
)
LOSSES.add(
    "hinge",  # Lim & Ye / SNGAN
    GanLoss(
        d_loss=lambda real, fake: _mean(_relu(1 - real)) + _mean(_relu(1 + fake)),
        g_loss=lambda fake: -_mean(fake),
    ),
)
_wgan = GanLoss(
    d_loss=lambda real, fake: _mean(fake) - _mean(real),
    g_loss=lambda fake: -_mean(fake),
    wasserstein=True,
    default_n_critic=5,  # Arjovsky et al., Algorithm 1
    default_clip=0.01,
)
LOSSES.add("wgan", _wgan)
LOSSES.add(
    "wgan-gp",  # Gulrajani et al., Algorithm 1: lambda 10, n_critic 5, no clipping
    GanLoss(_wgan.d_loss, _wgan.g_loss, wasserstein=True, default_gp_weight=10.0, default_n_critic=5),
)


def critic_estimate(d_real: Tensor, d_fake: Tensor) -> Tensor:
    """mean D(real) - mean D(fake) per member: the critic's estimate of W1 for WGAN losses."""
    return _mean(d_real) - _mean(d_fake)


def gradient_penalty(critic: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor, eps: Tensor) -> Tensor:
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
