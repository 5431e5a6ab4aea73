"""Convolutional layers batched over K ensemble members, for the image architectures.

Activations travel "packed" as [B, K*C, H, W]: member k owns channels k*C .. (k+1)*C-1, so one
grouped convolution (groups=K) applies every member's own kernels, and batch norm over the K*C
channels keeps per-member statistics. Weights stay views of the one flat [K, P] tensor of
``EnsembleNet``, so optimizers, clipping and EMA see every parameter of every member.

Batch norm always uses the statistics of the current batch (no running averages): evaluation
draws thousands of samples at once, so batch statistics are accurate there too, and nothing
outside the flat tensor carries state between steps.

Spectral norm (Miyato et al. 2018) divides a weight by its top singular value, estimated per
member by one power iteration per training forward, like ``torch.nn.utils.spectral_norm``; the
iteration vectors ``u`` are buffers of shape [K, out], updated under no_grad.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from ganbench.errors import BadInput
from ganbench.models.base import EnsembleNet
from ganbench.seeding import stream

Init = dict[str, Tensor]


def pack(x: Tensor, memory_format: torch.memory_format = torch.contiguous_format) -> Tensor:
    """[K, B, C, H, W] -> [B, K*C, H, W], laid out in `memory_format` (channels_last on CUDA lets
    cuDNN pick its NHWC tensor-core kernels; every later layer keeps the layout of its input)."""
    k, b, c = x.shape[:3]
    return x.transpose(0, 1).reshape(b, k * c, *x.shape[3:]).contiguous(memory_format=memory_format)


def unpack(x: Tensor, k: int) -> Tensor:
    """[B, K*C, H, W] -> [K, B, C, H, W]."""
    b, kc = x.shape[:2]
    return x.view(b, k, kc // k, *x.shape[2:]).transpose(0, 1)


def resolution(shape: tuple[int, ...], arch: str) -> tuple[int, int]:
    """(base, m) with side = base * 2**m and base <= 7: what m stride-2 layers grow or shrink."""
    _, h, w = shape if len(shape) == 3 else (None, 0, -1)
    side, m = h, 0
    while side % 2 == 0 and side > 7:
        side, m = side // 2, m + 1
    if h != w or m == 0 or side < 3:
        raise BadInput(
            f"arch {arch}: needs square images whose side is 3..7 times a power of two "
            f"(16, 28, 32, 64, ...), got data of shape {list(shape)}"
        )
    return side, m


class ConvEnsemble(EnsembleNet):
    """An EnsembleNet with batched conv/linear/batch-norm layers and optional spectral norm.

    Weight names start with "w" and are [K, out, in, (kh, kw)] (conv_transpose: [K, in, out, kh, kw]);
    spectral norm, when on, applies to every weight."""

    convolutional = True

    def __init__(
        self, shapes: dict[str, tuple[int, ...]], seeds: list[int], role: str, spectral_norm: bool
    ) -> None:
        super().__init__(len(seeds), shapes)
        self.memory_format = torch.contiguous_format  # of packed activations; see pack()
        self.normalised = [n for n in shapes if n.startswith("w")] if spectral_norm else []
        members = []
        for k, seed in enumerate(seeds):
            generator = stream(seed, role)  # member k's weights come from seed k alone
            self.set_member(k, self.init(generator))
            members.append(
                [F.normalize(torch.randn(shapes[n][0], generator=generator), dim=0) for n in self.normalised]
            )
        for i, name in enumerate(self.normalised):
            self.register_buffer(f"u_{name}", torch.stack([us[i] for us in members]))

    def init(self, generator: torch.Generator) -> Init:
        raise NotImplementedError

    def weight(self, name: str) -> Tensor:
        w = self.param(name)
        if name not in self.normalised:
            return w
        return w / self.sigma(name).view(-1, *[1] * (w.dim() - 1))

    def sigma(self, name: str) -> Tensor:
        """Top singular value of each member's weight (as an out x rest matrix): [K], in float32
        even under bf16 autocast, since the weight is divided by it."""
        w = self.param(name)
        mat = w.reshape(self.k, w.shape[1], -1)
        u = getattr(self, f"u_{name}")
        with torch.autocast(w.device.type, enabled=False):
            with torch.no_grad():
                v = F.normalize(torch.bmm(u.unsqueeze(1), mat).squeeze(1), dim=1)
                if self.training:
                    u.copy_(F.normalize(torch.bmm(mat, v.unsqueeze(2)).squeeze(2), dim=1))
                    v = F.normalize(torch.bmm(u.unsqueeze(1), mat).squeeze(1), dim=1)
            # A copy of u: the next forward updates the buffer in place, and this forward's
            # graph (D(real) and D(fake) share one backward) must keep the u it used.
            sigma = torch.einsum("ko,koi,ki->k", u.clone(), mat, v)
        return sigma.clamp_min(1e-12)  # a zeroed (frozen, diverged) member stays finite

    # -- layers on packed activations
    def conv(self, x: Tensor, name: str, stride: int = 1, padding: int = 0) -> Tensor:
        w = self.weight(f"w{name}")
        return F.conv2d(x, w.flatten(0, 1), self.param(f"b{name}").flatten(), stride, padding, groups=self.k)

    def conv_transpose(self, x: Tensor, name: str, stride: int = 2, padding: int = 1) -> Tensor:
        w = self.weight(f"w{name}")
        return F.conv_transpose2d(
            x, w.flatten(0, 1), self.param(f"b{name}").flatten(), stride, padding, groups=self.k
        )

    def batch_norm(self, x: Tensor, name: str) -> Tensor:
        gamma, beta = self.param(f"gamma{name}").flatten(), self.param(f"beta{name}").flatten()
        return F.batch_norm(x, None, None, gamma, beta, training=True, eps=1e-5)

    def linear(self, x: Tensor, name: str) -> Tensor:
        """[K, B, in] -> [K, B, out] with member k's own [out, in] weight."""
        w = self.weight(f"w{name}")
        return torch.baddbmm(self.param(f"b{name}").unsqueeze(1), x, w.transpose(1, 2))


# ----------------------------------------------------------------------------- initialisers


def normal(shape: tuple[int, ...], std: float, generator: torch.Generator) -> Tensor:
    return torch.randn(shape, generator=generator) * std


def xavier_uniform(
    shape: tuple[int, ...], gain: float, generator: torch.Generator, transposed: bool = False
) -> Tensor:
    """Glorot & Bengio: U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out))."""
    out, inp = (shape[1], shape[0]) if transposed else (shape[0], shape[1])
    receptive = math.prod(shape[2:])
    bound = gain * math.sqrt(6 / ((inp + out) * receptive))
    return (torch.rand(shape, generator=generator) * 2 - 1) * bound
