"""MLP generator and discriminator for low-dimensional data, batched over K members with bmm."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from ganbench.models.base import EnsembleNet, init_weight, uniform_init
from ganbench.registry import ARCHS
from ganbench.seeding import stream

ACTIVATIONS = {
    "relu": F.relu,
    "leaky_relu": lambda x: F.leaky_relu(x, 0.2),
    "elu": F.elu,
    "tanh": torch.tanh,
}


class MLP(EnsembleNet):
    def __init__(
        self,
        sizes: list[int],
        seeds: list[int],
        role: str,
        activation: str,
        batch_norm: bool,
        init: str = "default",
    ) -> None:
        shapes: dict[str, tuple[int, ...]] = {}
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            shapes[f"w{i}"] = (fan_in, fan_out)
            shapes[f"b{i}"] = (fan_out,)
            if batch_norm and i < len(sizes) - 2:
                shapes[f"gamma{i}"] = (fan_out,)
                shapes[f"beta{i}"] = (fan_out,)
        super().__init__(len(seeds), shapes)
        self.n_layers = len(sizes) - 1
        self.act = ACTIVATIONS[activation]
        self.batch_norm = batch_norm
        for k, seed in enumerate(seeds):
            self.set_member(k, self._init(seed, role, init))

    def _init(self, seed: int, role: str, init: str) -> dict[str, Tensor]:
        # default: nn.Linear's bound, weights and biases ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in));
        # otherwise weights as torch.nn.init draws them on nn.Linear, zero biases.
        generator = stream(seed, role)
        values = {}
        for name, shape in self.shapes.items():
            if name.startswith(("gamma", "beta")):
                values[name] = torch.ones(shape) if name.startswith("gamma") else torch.zeros(shape)
            elif init == "default":
                fan_in = self.shapes["w" + name[1:]][0]
                values[name] = uniform_init(shape, 1 / math.sqrt(fan_in), generator)
            elif name.startswith("w"):
                values[name] = init_weight(init, shape, generator, transposed=True)
            else:
                values[name] = torch.zeros(shape)
        return values

    def forward(self, x: Tensor) -> Tensor:
        h = x.flatten(start_dim=2)
        for i in range(self.n_layers):
            h = torch.baddbmm(self.param(f"b{i}").unsqueeze(1), h, self.param(f"w{i}"))
            if i < self.n_layers - 1:
                if self.batch_norm:
                    h = self._batch_norm(h, i)
                h = self.act(h)
        return h

    def _batch_norm(self, h: Tensor, i: int) -> Tensor:
        # Batch statistics per member, always (no running averages): evaluation batches are large.
        var, mean = torch.var_mean(h, dim=1, keepdim=True, correction=0)
        h = (h - mean) * torch.rsqrt(var + 1e-5)
        return h * self.param(f"gamma{i}").unsqueeze(1) + self.param(f"beta{i}").unsqueeze(1)


class MLPGenerator(MLP):
    def __init__(self, model, data_shape: tuple[int, ...], seeds: list[int]) -> None:
        self.data_shape = data_shape
        sizes = [model.z_dim] + [model.hidden] * model.depth + [math.prod(data_shape)]
        super().__init__(sizes, seeds, "G", model.activation, model.batch_norm, model.init)

    def forward(self, z: Tensor) -> Tensor:
        return super().forward(z).view(*z.shape[:2], *self.data_shape)


class MLPDiscriminator(MLP):
    def __init__(self, model, data_shape: tuple[int, ...], seeds: list[int]) -> None:
        sizes = [math.prod(data_shape)] + [model.hidden] * model.depth + [1]
        super().__init__(sizes, seeds, "D", model.activation, batch_norm=False, init=model.init)

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x).squeeze(-1)


@ARCHS.register("mlp")
def build_mlp(model, data_shape: tuple[int, ...], seeds: list[int]) -> tuple[EnsembleNet, EnsembleNet]:
    return MLPGenerator(model, data_shape, seeds), MLPDiscriminator(model, data_shape, seeds)
