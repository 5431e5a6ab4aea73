"""DCGAN (Radford et al. 2016) generator and discriminator, batched over K members.

Resolution and channels come from the data: a side of base * 2**m (base <= 7) takes m stride-2
layers, so 16, 28 (7 * 4), 32 and 64 px all work. Channels double per layer from ``model.width``
(D's first layer, G's last hidden layer). Weights ~ N(0, 0.02) as in the paper
(``model.init: default``; other inits: models/base.init_weight).

Choices worth knowing:
- Batch norm is in the generator only when ``model.batch_norm`` is set (the DCGAN recipe: set it);
  it always uses batch statistics (see models/conv.py).
- The discriminator has no batch norm: WGAN-GP's penalty is per sample and batch norm would
  couple the samples of a batch (Gulrajani et al. 2017), and SN-DCGAN drops it too. With
  ``model.spectral_norm`` every D weight is spectrally normalised.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ganbench.models.base import EnsembleNet, init_weight
from ganbench.models.conv import ConvEnsemble, Init, normal, pack, resolution, unpack
from ganbench.registry import ARCHS


def _init(shapes: dict[str, tuple[int, ...]], generator: torch.Generator, init: str) -> Init:
    values = {}
    for name, shape in shapes.items():  # in declaration order: the draw order is part of the seed's meaning
        if name.startswith("w") and init != "default":  # ModelConfig.init, as torch.nn.init draws it
            values[name] = init_weight(init, shape, generator)
        elif name.startswith("w"):
            values[name] = normal(shape, 0.02, generator)
        else:
            values[name] = torch.ones(shape) if name.startswith("gamma") else torch.zeros(shape)
    return values


class DCGANGenerator(ConvEnsemble):
    def __init__(self, model, data_shape: tuple[int, ...], seeds: list[int]) -> None:
        self.base, self.m = resolution(data_shape, "dcgan")
        self.batch_norm_on = model.batch_norm
        self.channels = [model.width * 2 ** (self.m - 1 - i) for i in range(self.m)] + [data_shape[0]]
        c0, side = self.channels[0], self.base
        shapes: dict[str, tuple[int, ...]] = {
            "wfc": (c0 * side * side, model.z_dim),
            "bfc": (c0 * side * side,),
        }
        for i, (c_in, c_out) in enumerate(zip(self.channels[:-1], self.channels[1:], strict=True)):
            if self.batch_norm_on:
                shapes[f"gamma{i}"], shapes[f"beta{i}"] = (c_in,), (c_in,)
            shapes[f"w{i}"], shapes[f"b{i}"] = (c_in, c_out, 4, 4), (c_out,)
        self.weight_init = model.init
        super().__init__(shapes, seeds, "G", spectral_norm=False)

    def init(self, generator: torch.Generator) -> Init:
        return _init(self.shapes, generator, self.weight_init)

    def forward(self, z: Tensor) -> Tensor:
        k, b = z.shape[:2]
        h = self.linear(z, "fc").view(k, b, self.channels[0], self.base, self.base)
        h = pack(h, self.memory_format)
        for i in range(self.m):
            if self.batch_norm_on:
                h = self.batch_norm(h, str(i))
            h = self.conv_transpose(F.relu(h), str(i))  # 4x4, stride 2, pad 1: doubles the side
        return unpack(torch.tanh(h), k)


class DCGANDiscriminator(ConvEnsemble):
    def __init__(self, model, data_shape: tuple[int, ...], seeds: list[int]) -> None:
        self.base, self.m = resolution(data_shape, "dcgan")
        self.channels = [data_shape[0]] + [model.width * 2**i for i in range(self.m)]
        shapes: dict[str, tuple[int, ...]] = {}
        for i, (c_in, c_out) in enumerate(zip(self.channels[:-1], self.channels[1:], strict=True)):
            shapes[f"w{i}"], shapes[f"b{i}"] = (c_out, c_in, 4, 4), (c_out,)
        shapes["wfc"], shapes["bfc"] = (1, self.channels[-1] * self.base * self.base), (1,)
        self.weight_init = model.init
        super().__init__(shapes, seeds, "D", spectral_norm=model.spectral_norm)

    def init(self, generator: torch.Generator) -> Init:
        return _init(self.shapes, generator, self.weight_init)

    def forward(self, x: Tensor) -> Tensor:
        k, b = x.shape[:2]
        h = pack(x, self.memory_format)
        for i in range(self.m):
            h = F.leaky_relu(self.conv(h, str(i), stride=2, padding=1), 0.2)  # halves the side
        h = h.reshape(b, k, -1).transpose(0, 1)  # [K, B, C*base*base] (a copy if channels_last)
        return self.linear(h, "fc").squeeze(-1)


@ARCHS.register("dcgan")
def build_dcgan(model, data_shape: tuple[int, ...], seeds: list[int]) -> tuple[EnsembleNet, EnsembleNet]:
    return DCGANGenerator(model, data_shape, seeds), DCGANDiscriminator(model, data_shape, seeds)
