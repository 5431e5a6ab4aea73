"""Training speed of `arch: module` (plain nn.Modules through torch.func.vmap) against the built-in
flat-tensor `mlp` arch, on the same ensemble.

    .venv/bin/python bench/module_vs_builtin.py [--members 20] [--steps 200] [--loss wgan|ns] [--repeats 2]
                                                [--threads 1]

Both train K members (seeds 0..K-1, ring8, 3x64 ReLU MLPs, batch 64; WGAN with weight clipping,
RMSProp, n_critic 5 by default) through train_group with one evaluation at the end on few samples,
alternately in this invocation; the best of `--repeats` timings of each is reported as
run-steps/s (generator steps x members per second) and as a ratio.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ganbench.registry import MODULES  # noqa: E402
from ganbench.suite import load_suite  # noqa: E402
from ganbench.train import train_group  # noqa: E402

LOSSES = {
    "wgan": {"loss": "wgan", "clip": 0.01, "n_critic": 5, "optimizer": {"name": "rmsprop", "lr": 2.0e-4}},
    "ns": {"loss": "ns", "optimizer": {"name": "adam", "lr": 1.0e-3, "betas": [0.5, 0.999]}},
}


def mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(fan_in, fan_out))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class Generator(nn.Module):
    def __init__(self, z_dim: int, data_shape: tuple[int, ...], hidden: int, depth: int) -> None:
        super().__init__()
        self.net = mlp([z_dim] + [hidden] * depth + [math.prod(data_shape)])

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class Critic(nn.Module):
    def __init__(self, data_shape: tuple[int, ...], hidden: int, depth: int) -> None:
        super().__init__()
        self.net = mlp([math.prod(data_shape)] + [hidden] * depth + [1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.flatten(1))


# Registered by name, as a plugin would: the suite names them without an import path.
MODULES.add("bench_generator", Generator)
MODULES.add("bench_critic", Critic)


def specs(model: dict, members: int, steps: int, loss: str) -> list:
    suite = {
        "name": "module_vs_builtin",
        "datasets": ["ring8"],
        "seeds": members,
        # one evaluation, at the end, on few samples: the timing is training
        "defaults": {
            "steps": steps,
            "eval_every": steps,
            "eval_samples": 64,
            "w1_points": 16,
            "model": model,
        },
        "variants": {"v": LOSSES[loss]},
    }
    return load_suite(suite).specs


def timed(run_specs: list) -> float:
    start = time.perf_counter()
    results = train_group(run_specs)
    assert all(r.status == "finished" for r in results)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=20)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--depth", type=int, default=3)
    parser.add_argument("--loss", choices=sorted(LOSSES), default="wgan")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (1: steady on a shared machine)"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    size = {"hidden": args.hidden, "depth": args.depth}
    builtin = specs({"arch": "mlp", "z_dim": 2, **size}, args.members, args.steps, args.loss)
    module = specs(
        {
            "arch": "module",
            "z_dim": 2,
            "generator": "bench_generator",
            "discriminator": "bench_critic",
            "generator_args": size,
            "discriminator_args": size,
        },
        args.members,
        args.steps,
        args.loss,
    )
    for model in (builtin, module):  # warm-up: first-call costs (imports, allocator) are not timed
        timed(specs(model[0].train.model.model_dump(), 2, 5, args.loss))
    walls: dict[str, list[float]] = {"builtin mlp": [], "module": []}
    for _ in range(args.repeats):  # alternated, so a busy moment of the machine hits both
        walls["builtin mlp"].append(timed(builtin))
        walls["module"].append(timed(module))
    run_steps = args.members * args.steps
    print(
        f"torch threads {torch.get_num_threads()}, K={args.members} members x {args.steps} steps, "
        f"{args.depth}x{args.hidden} MLPs, loss {args.loss}, best of {args.repeats}"
    )
    print(f"{'':14}{'wall s':>9}{'run-steps/s':>14}")
    best = {name: min(times) for name, times in walls.items()}
    for name, wall in best.items():
        print(f"{name:14}{wall:9.2f}{run_steps / wall:14.1f}")
    print(f"ratio (builtin mlp / module run-steps/s): {best['module'] / best['builtin mlp']:.2f}x")


if __name__ == "__main__":
    main()
