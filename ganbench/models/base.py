"""K independent copies of one network with all parameters in a single leaf tensor.

Keeping every parameter of every member in one ``flat`` tensor of shape [K, P] makes the
optimizer step, weight clipping, EMA and divergence resets a handful of ops on one tensor,
whatever the depth of the network: that is where the ensemble engine's speed comes from on
small models. Layers read their weights as views of ``flat`` (``param``); a training step runs
its forwards inside ``step_views`` and ``gradient`` writes d loss / d flat into ``flat.grad``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


class EnsembleNet(nn.Module):
    convolutional = False  # conv nets get bf16 and channels_last on CUDA (train.configure_execution)

    def __init__(self, k: int, shapes: dict[str, tuple[int, ...]]) -> None:
        super().__init__()
        self.k = k
        self.shapes = dict(shapes)
        self.slices: dict[str, slice] = {}
        offset = 0
        for name, shape in self.shapes.items():
            size = math.prod(shape)
            self.slices[name] = slice(offset, offset + size)
            offset += size
        self.flat = nn.Parameter(torch.zeros(k, offset))
        self._views: dict[str, torch.Tensor] | None = None
        # bfloat16: forwards run under autocast (matmuls and convolutions in bf16) while the
        # weights, their gradients and the optimizer state stay float32; outputs come back as
        # float32, so losses and penalties are computed in full precision. No loss scaling is
        # needed: bf16 has float32's exponent range.
        self.compute_dtype: torch.dtype | None = None

    def __call__(self, *args, **kwargs):
        with self.step_views():
            if self.compute_dtype is None:
                return super().__call__(*args, **kwargs)
            with torch.autocast(self.flat.device.type, dtype=self.compute_dtype):
                return super().__call__(*args, **kwargs).float()

    @contextmanager
    def step_views(self) -> Iterator[None]:
        """Split `flat` into per-parameter views once for every forward inside the block (a
        training step's real, fake and penalty passes), so their gradients meet in the views and
        `gradient` can write them into one reused buffer. Outside a block each forward splits
        anew. One split, not a slice per parameter: a slice's backward would allocate and add a
        full-size zero gradient per parameter."""
        if self._views is not None:  # nested: the enclosing block's views
            yield
            return
        chunks = self.flat.split([s.stop - s.start for s in self.slices.values()], dim=1)
        self._views = dict(zip(self.slices, chunks, strict=True))
        try:
            yield
        finally:
            self._views = None

    def gradient(self, loss: torch.Tensor) -> torch.Tensor:
        """d loss / d flat for a loss computed inside `step_views`, written into `flat.grad`.

        The buffer is allocated once: letting autograd differentiate through the split would
        allocate a fresh [K, P] tensor every step, which costs more than the copy itself once
        the tensor is too large for the allocator to reuse (tens of MB: 40 members of 3x512)."""
        assert self._views is not None, "gradient() needs the forwards inside step_views()"
        grads = torch.autograd.grad(loss, list(self._views.values()), materialize_grads=True)
        if self.flat.grad is None:
            self.flat.grad = torch.empty_like(self.flat)
        return torch.cat(grads, dim=1, out=self.flat.grad)

    @property
    def n_params(self) -> int:
        return self.flat.shape[1]

    def param(self, name: str) -> torch.Tensor:
        """Parameter `name` of every member: [K, *shape], a view of `flat`."""
        chunk = self._views[name] if self._views is not None else self.flat[:, self.slices[name]]
        return chunk.view(self.k, *self.shapes[name])

    def set_member(self, k: int, values: dict[str, torch.Tensor]) -> None:
        with torch.no_grad():
            for name, value in values.items():
                self.flat[k, self.slices[name]] = value.reshape(-1).to(self.flat)

    def member_state(self, k: int) -> dict[str, torch.Tensor]:
        return {name: self.param(name)[k].detach().clone() for name in self.shapes}


def uniform_init(shape: tuple[int, ...], bound: float, generator: torch.Generator) -> torch.Tensor:
    """U(-bound, bound), PyTorch's default for Linear/Conv weights and biases (bound = 1/sqrt(fan_in))."""
    return (torch.rand(shape, generator=generator) * 2 - 1) * bound


def init_weight(
    init: str, shape: tuple[int, ...], generator: torch.Generator, transposed: bool = False
) -> torch.Tensor:
    """A weight under ModelConfig.init ("normal_0.02", "xavier" or "kaiming"), drawn exactly as
    torch.nn.init draws it on the equivalent torch module's weight with the same generator.

    `shape` is in torch's layout ([out, in, *kernel] for Linear and Conv, [in, out, *kernel] for
    ConvTranspose, whose fans torch.nn.init computes from that layout), unless `transposed`:
    then it is [in, out] (an MLP's x @ W), and the weight is drawn as nn.Linear's [out, in] and
    transposed, so its values are nn.Linear's. Biases under these inits are zero (not drawn).
    """
    w = torch.empty((shape[1], shape[0], *shape[2:]) if transposed else shape)
    if init == "normal_0.02":  # DCGAN, and the WGAN-GP authors' toy script
        nn.init.normal_(w, 0.0, 0.02, generator=generator)
    elif init == "xavier":  # Glorot & Bengio, uniform, gain 1
        nn.init.xavier_uniform_(w, generator=generator)
    elif init == "kaiming":  # He et al., normal, fan_in, ReLU gain sqrt(2)
        nn.init.kaiming_normal_(w, mode="fan_in", nonlinearity="relu", generator=generator)
    else:
        raise ValueError(f"unknown init {init!r}; the arch's own `default` is not drawn here")
    return w.T.contiguous() if transposed else w
