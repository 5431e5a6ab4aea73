"""The ResNet GAN of WGAN-GP (Gulrajani et al. 2017) and SNGAN (Miyato et al. 2018) for 32 px
CIFAR-10, batched over K members; other sides of base * 2**m (16, 28, 64) work the same way.

G: linear -> [width, base, base], m up-blocks (BN, ReLU, 2x nearest upsample, 3x3 conv, BN, ReLU,
3x3 conv; shortcut: upsample, 1x1 conv), then BN, ReLU, 3x3 conv, tanh.
D: an "optimised" first block that halves the side, down-blocks (ReLU, conv, ReLU, conv, 2x2 average
pool; shortcut: 1x1 conv, pool) until the side is at most 8, two plain blocks, ReLU, sum over
space, linear. At 32 px that is SNGAN's 32 -> 16 -> 8 -> 8 -> 8 critic.

All blocks use ``model.width`` channels (WGAN-GP: 128). Generator batch norm follows
``model.batch_norm`` (set it for the published model); the critic has no batch norm, and with
``model.spectral_norm`` every critic weight is spectrally normalised. Init: Xavier uniform, gain
sqrt(2) for the 3x3 convs that follow ReLUs, 1 for shortcuts and linears (``model.init: default``;
other inits: models/base.init_weight).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from ganbench.models.base import EnsembleNet, init_weight
from ganbench.models.conv import ConvEnsemble, Init, pack, resolution, unpack, xavier_uniform
from ganbench.registry import ARCHS


def _init(shapes: dict[str, tuple[int, ...]], generator: torch.Generator, init: str) -> Init:
    values = {}
    for name, shape in shapes.items():  # in declaration order: the draw order is part of the seed's meaning
        if name.startswith("w") and init != "default":  # ModelConfig.init, as torch.nn.init draws it
            values[name] = init_weight(init, shape, generator)
        elif name.startswith("w"):
            values[name] = xavier_uniform(
                shape, math.sqrt(2) if len(shape) == 4 and shape[-1] == 3 else 1.0, generator
            )
        else:
            values[name] = torch.ones(shape) if name.startswith("gamma") else torch.zeros(shape)
    return values


def _conv_shapes(name: str, c_out: int, c_in: int, kernel: int) -> dict[str, tuple[int, ...]]:
    return {f"w{name}": (c_out, c_in, kernel, kernel), f"b{name}": (c_out,)}


class ResNetGenerator(ConvEnsemble):
    def __init__(self, model, data_shape: tuple[int, ...], seeds: list[int]) -> None:
        self.base, self.m = resolution(data_shape, "resnet")
        self.batch_norm_on = model.batch_norm
        self.width = ch = model.width
        shapes: dict[str, tuple[int, ...]] = {
            "wfc": (ch * self.base**2, model.z_dim),
            "bfc": (ch * self.base**2,),
        }
        for i in range(self.m):
            if self.batch_norm_on:
                shapes |= {f"gamma{i}a": (ch,), f"beta{i}a": (ch,), f"gamma{i}b": (ch,), f"beta{i}b": (ch,)}
            shapes |= (
                _conv_shapes(f"{i}a", ch, ch, 3)
                | _conv_shapes(f"{i}b", ch, ch, 3)
                | _conv_shapes(f"{i}s", ch, ch, 1)
            )
        if self.batch_norm_on:
            shapes |= {"gamma_out": (ch,), "beta_out": (ch,)}
        shapes |= _conv_shapes("_out", data_shape[0], ch, 3)
        self.weight_init = model.init
        super().__init__(shapes, seeds, "G", spectral_norm=False)

    def init(self, generator: torch.Generator) -> Init:
        return _init(self.shapes, generator, self.weight_init)

    def _norm_relu(self, h: Tensor, name: str) -> Tensor:
        return F.relu(self.batch_norm(h, name) if self.batch_norm_on else h)

    def forward(self, z: Tensor) -> Tensor:
        k, b = z.shape[:2]
        h = pack(self.linear(z, "fc").view(k, b, self.width, self.base, self.base), self.memory_format)
        for i in range(self.m):
            up = F.interpolate(self._norm_relu(h, f"{i}a"), scale_factor=2, mode="nearest")
            r = self.conv(self._norm_relu(self.conv(up, f"{i}a", padding=1), f"{i}b"), f"{i}b", padding=1)
            h = r + self.conv(F.interpolate(h, scale_factor=2, mode="nearest"), f"{i}s")
        h = self.conv(self._norm_relu(h, "_out"), "_out", padding=1)
        return unpack(torch.tanh(h), k)


class ResNetDiscriminator(ConvEnsemble):
    def __init__(self, model, data_shape: tuple[int, ...], seeds: list[int]) -> None:
        resolution(data_shape, "resnet")  # same sizes as G
        ch, side = model.width, data_shape[1] // 2
        self.n_down = 0  # down-blocks after the first, optimised one
        while side > 8 and side % 2 == 0:
            side, self.n_down = side // 2, self.n_down + 1
        shapes = (
            _conv_shapes("0a", ch, data_shape[0], 3)
            | _conv_shapes("0b", ch, ch, 3)
            | _conv_shapes("0s", ch, data_shape[0], 1)
        )
        for i in range(1, self.n_down + 1):
            shapes |= (
                _conv_shapes(f"{i}a", ch, ch, 3)
                | _conv_shapes(f"{i}b", ch, ch, 3)
                | _conv_shapes(f"{i}s", ch, ch, 1)
            )
        for i in range(self.n_down + 1, self.n_down + 3):
            shapes |= _conv_shapes(f"{i}a", ch, ch, 3) | _conv_shapes(f"{i}b", ch, ch, 3)
        shapes |= {"wfc": (1, ch), "bfc": (1,)}
        self.weight_init = model.init
        super().__init__(shapes, seeds, "D", spectral_norm=model.spectral_norm)

    def init(self, generator: torch.Generator) -> Init:
        return _init(self.shapes, generator, self.weight_init)

    def forward(self, x: Tensor) -> Tensor:
        k, b = x.shape[:2]
        h = pack(x, self.memory_format)
        # Optimised first block: no ReLU before the first conv (the input is an image).
        r = F.avg_pool2d(self.conv(F.relu(self.conv(h, "0a", padding=1)), "0b", padding=1), 2)
        h = r + self.conv(F.avg_pool2d(h, 2), "0s")
        for i in range(1, self.n_down + 3):
            r = self.conv(F.relu(self.conv(F.relu(h), f"{i}a", padding=1)), f"{i}b", padding=1)
            down = i <= self.n_down  # else a plain block with an identity shortcut
            h = F.avg_pool2d(r, 2) + F.avg_pool2d(self.conv(h, f"{i}s"), 2) if down else r + h
        h = F.relu(h).sum(dim=(2, 3)).view(b, k, -1).transpose(0, 1)  # [K, B, width]
        return self.linear(h, "fc").squeeze(-1)


@ARCHS.register("resnet")
def build_resnet(model, data_shape: tuple[int, ...], seeds: list[int]) -> tuple[EnsembleNet, EnsembleNet]:
    return ResNetGenerator(model, data_shape, seeds), ResNetDiscriminator(model, data_shape, seeds)
