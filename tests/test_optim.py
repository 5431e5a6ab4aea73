"""The batched optimizer reproduces torch.optim member by member, mixed optimizers included."""

import pytest
import torch

from ganbench.optim import BatchedOptimizer
from ganbench.suite import OptimizerConfig

CONFIGS = [
    OptimizerConfig(name="adam", lr=1e-2, betas=(0.5, 0.999)),
    OptimizerConfig(name="adam", lr=3e-3, betas=(0.0, 0.9), weight_decay=0.01),
    OptimizerConfig(name="rmsprop", lr=5e-3, alpha=0.99),
    OptimizerConfig(name="sgd", lr=0.1, momentum=0.9),
    OptimizerConfig(name="sgd", lr=0.05),
]


def torch_optimizer(config: OptimizerConfig, params):
    if config.name == "adam":
        return torch.optim.Adam(
            params, lr=config.lr, betas=config.betas, eps=config.eps, weight_decay=config.weight_decay
        )
    if config.name == "rmsprop":
        return torch.optim.RMSprop(
            params, lr=config.lr, alpha=config.alpha, eps=config.eps, weight_decay=config.weight_decay
        )
    return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)


def test_matches_torch_optim_per_member():
    torch.manual_seed(0)
    start = torch.randn(len(CONFIGS), 50, dtype=torch.float64)
    grads = torch.randn(20, len(CONFIGS), 50, dtype=torch.float64)
    flat = start.clone().requires_grad_(True)
    batched = BatchedOptimizer(flat, CONFIGS)
    references = [start[k].clone().requires_grad_(True) for k in range(len(CONFIGS))]
    optimizers = [torch_optimizer(c, [p]) for c, p in zip(CONFIGS, references, strict=True)]
    for g in grads:
        flat.grad = g.clone()
        batched.step()
        for k, (p, opt) in enumerate(zip(references, optimizers, strict=True)):
            p.grad = g[k].clone()
            opt.step()
    for k, p in enumerate(references):
        assert torch.allclose(flat[k].detach(), p.detach(), rtol=1e-10, atol=1e-12), CONFIGS[k].name


def test_freeze_stops_one_member():
    flat = torch.zeros(2, 4, requires_grad=True)
    opt = BatchedOptimizer(flat, [OptimizerConfig(name="sgd", lr=1.0)] * 2)
    opt.freeze(torch.tensor([True, False]))
    flat.grad = torch.ones(2, 4)
    opt.step()
    assert flat[0].tolist() == [0.0] * 4
    assert flat[1].tolist() == [-1.0] * 4


def test_unknown_optimizer_rejected():
    with pytest.raises(ValueError, match="did you mean 'adam'"):
        OptimizerConfig(name="adma")
