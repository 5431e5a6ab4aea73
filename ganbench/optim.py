"""One batched optimizer for SGD (with momentum), RMSProp and Adam, on a flat [K, P] tensor.

All three are instances of one update with per-member coefficients:

    m <- b1 * m + d1 * g                 first moment (SGD's momentum buffer when d1 = 1)
    v <- b2 * v + (1 - b2) * g^2          second moment (unused by SGD)
    p <- p - lr * (m / c1) / (sqrt(v / c2) + eps)     c1, c2: Adam's bias corrections, else 1

so members of one ensemble may use different optimizers and hyperparameters and still update in
a dozen tensor ops. The formulas match torch.optim.{SGD, RMSprop, Adam} with their defaults
(no nesterov, dampening 0, RMSprop uncentred without momentum); tests compare against them.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ganbench.registry import OPTIMIZERS

# name -> (OptimizerConfig -> coefficients b1, d1, b2, use_v, bias_correction)
OPTIMIZERS.add("sgd", lambda o: (o.momentum, 1.0, 0.0, 0.0, 0.0))
OPTIMIZERS.add("rmsprop", lambda o: (0.0, 1.0, o.alpha, 1.0, 0.0))
OPTIMIZERS.add("adam", lambda o: (o.betas[0], 1.0 - o.betas[0], o.betas[1], 1.0, 1.0))


class BatchedOptimizer:
    def __init__(self, flat: Tensor, configs: list) -> None:
        """flat: the [K, P] leaf tensor; configs: one OptimizerConfig per member."""
        self.flat = flat
        columns = list(zip(*(OPTIMIZERS.get(c.name)(c) for c in configs), strict=True))
        per_member = lambda values: torch.tensor(values, dtype=flat.dtype, device=flat.device).unsqueeze(1)  # noqa: E731
        self.b1, self.d1, self.b2, use_v, bias = (per_member(col) for col in columns)
        self.lr = per_member([c.lr for c in configs])
        self.eps = per_member([c.eps for c in configs])
        self.wd = per_member([c.weight_decay for c in configs])
        self.use_v = use_v.bool()
        self.bias = bias.bool()
        self.any_v, self.all_v = bool(self.use_v.any()), bool(self.use_v.all())
        self.any_wd = bool((self.wd > 0).any())
        self.m = torch.zeros_like(flat)
        self.v = torch.zeros_like(flat) if self.any_v else None
        self.one_minus_b2 = 1 - self.b2
        # Two [K, P] scratch tensors for the step's intermediates, allocated once: a fresh
        # [K, P] per op costs more than the op itself when the allocator cannot reuse memory
        # that large (every step pays the page faults; 5x on 40 members of 3x512).
        self.scratch = (torch.empty_like(flat), torch.empty_like(flat)) if self.any_v else None
        self.t = 0

    @torch.no_grad()
    def step(self) -> None:
        g = self.flat.grad
        if self.any_wd:
            g = g.add(self.flat * self.wd)
        self.t += 1
        self.m.mul_(self.b1).addcmul_(g, self.d1)
        one = torch.ones_like(self.b1)
        step_size = self.lr / torch.where(self.bias, 1 - self.b1**self.t, one)
        if not self.any_v:  # SGD only
            self.flat.addcmul_(self.m, step_size, value=-1)
            return
        scaled, denom = self.scratch
        self.v.mul_(self.b2).addcmul_(g, torch.mul(g, self.one_minus_b2, out=scaled))
        torch.sqrt(self.v, out=denom)
        if bool(self.bias.any()):  # Adam's bias correction of the second moment
            denom.mul_(torch.where(self.bias, (1 - self.b2**self.t).rsqrt(), one))
        denom.add_(self.eps)
        if not self.all_v:  # SGD members of a mixed ensemble divide by 1
            denom.masked_fill_(~self.use_v, 1.0)
        self.flat.addcdiv_(torch.mul(self.m, step_size, out=scaled), denom, value=-1)

    def state_dict(self) -> dict[str, Tensor | int | None]:
        """What changes while training (moments, step count, per-member lr: freeze zeroes it);
        the coefficients come from the configs again."""
        return {"m": self.m, "v": self.v, "t": self.t, "lr": self.lr}

    @torch.no_grad()
    def load_state_dict(self, state: dict[str, Tensor | int | None]) -> None:
        """Restore a state_dict() in place (tensors keep this optimizer's device)."""
        self.m.copy_(state["m"])
        if self.v is not None:
            self.v.copy_(state["v"])
        self.lr.copy_(state["lr"])
        self.t = int(state["t"])

    @torch.no_grad()
    def freeze(self, members: Tensor) -> None:
        """Stop updating the given members (a bool mask [K]): their lr becomes 0."""
        self.lr[members] = 0.0
        self.m[members] = 0.0
        if self.v is not None:
            self.v[members] = 0.0
