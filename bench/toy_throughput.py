"""Throughput of ganbench's ensemble engine against the plain PyTorch loop, on one suite.

    .venv/bin/python bench/toy_throughput.py [SUITE] [--steps N] [--runs N] [--device cpu|cuda]
                                             [--set defaults.model.hidden=512 ...]

(a) the plain loop: each run trained alone, one after another, as a user would write it
    (nn.Sequential MLPs, torch.optim, one training step after another);
(b) ganbench: the same specs and steps through the planner and train_group (no evaluation).
Both are timed in this invocation, with a fp32 matmul peak measured on the same device, and the
script prints run-steps/s, the ratio, and achieved GFLOP/s against that peak. `--set` overrides
suite keys as `ganbench run --set` does: `--set defaults.model.hidden=512` trains the WGAN-GP
authors' toy width (3x512) instead of the main suite's 3x64, where matmuls dominate a step.
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

from ganbench.cli import add_overrides  # noqa: E402
from ganbench.data import build_dataset  # noqa: E402
from ganbench.losses import gradient_penalty  # noqa: E402
from ganbench.registry import LOSSES  # noqa: E402
from ganbench.runner.plan import plan_units  # noqa: E402
from ganbench.suite import RunSpec, load_suite  # noqa: E402
from ganbench.train import train_group  # noqa: E402


def mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def optimizer(config, params):
    if config.name == "adam":
        return torch.optim.Adam(params, lr=config.lr, betas=config.betas)
    if config.name == "rmsprop":
        return torch.optim.RMSprop(params, lr=config.lr, alpha=config.alpha)
    return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum)


def plain_run(spec: RunSpec, device: str) -> None:
    """The loop a user writes: one run, nothing shared, torch.optim, clamp_ for clipping."""
    t, m = spec.train, spec.train.model
    torch.manual_seed(spec.seed)
    data = build_dataset(spec.data)
    G = mlp([m.z_dim] + [m.hidden] * m.depth + [2]).to(device)
    D = mlp([2] + [m.hidden] * m.depth + [1]).to(device)
    opt_g, opt_d = optimizer(t.optimizer_g, G.parameters()), optimizer(t.optimizer_d, D.parameters())
    loss = LOSSES.get(t.loss)
    gen = torch.Generator().manual_seed(spec.seed)
    for _ in range(t.steps):
        for _ in range(t.n_critic):
            real = data.sample(t.batch_size, gen).to(device)
            fake = G(torch.randn(t.batch_size, m.z_dim, device=device)).detach()
            d_loss = loss.d_loss(D(real)[None, :, 0], D(fake)[None, :, 0]).sum()
            if t.gp_weight:
                eps = torch.rand(1, t.batch_size, device=device)
                d_loss = (
                    d_loss
                    + t.gp_weight
                    * gradient_penalty(lambda x: D(x[0])[None, :, 0], real[None], fake[None], eps).sum()
                )
            opt_d.zero_grad()
            d_loss.backward()
            opt_d.step()
            if t.clip:
                for p in D.parameters():
                    p.data.clamp_(-t.clip, t.clip)
        g_loss = loss.g_loss(None, D(G(torch.randn(t.batch_size, m.z_dim, device=device)))[None, :, 0]).sum()
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def flops_per_step(spec: RunSpec) -> float:
    """Matmul FLOPs of one generator step (n_critic critic updates + one generator update)."""
    t, m = spec.train, spec.train.model
    sizes_g = [m.z_dim] + [m.hidden] * m.depth + [2]
    sizes_d = [2] + [m.hidden] * m.depth + [1]
    mac = lambda sizes: sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))  # noqa: E731
    fwd_g, fwd_d = 2 * t.batch_size * mac(sizes_g), 2 * t.batch_size * mac(sizes_d)
    # forward + backward (about twice the forward) of D on real and fake; G forward only
    critic = fwd_g + 2 * 3 * fwd_d + (3 * 3 * fwd_d if t.gp_weight else 0)
    generator = 3 * fwd_g + 3 * fwd_d
    return t.n_critic * critic + generator


def peak_gflops(device: str) -> float:
    """The best of several timed blocks of a square fp32 matmul: a peak, so noise only lowers it."""
    n = 2048 if device.startswith("cuda") else 1024
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    for _ in range(3):
        a @ b
    reps = 50 if device.startswith("cuda") else 10
    best = math.inf
    for _ in range(5):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(reps):
            a @ b
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 * reps / best / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("suite", nargs="?", default="suites/wgan_vs_gan.yaml")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--runs", type=int, default=0, help="first N runs of the suite (0: all)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    add_overrides(parser)
    args = parser.parse_args()
    device = "cuda:0" if args.device == "cuda" else args.device

    suite = load_suite(args.suite, steps=args.steps, overrides=dict(args.overrides or []))
    # Time training only: one evaluation at the very end, on few samples.
    specs = [
        RunSpec(
            s.suite,
            s.variant,
            s.dataset,
            s.data,
            s.seed,
            s.train.model_copy(update={"eval_every": 10**9, "eval_samples": 64, "w1_points": 16}),
        )
        for s in suite.specs
    ]
    specs = specs[: args.runs] if args.runs else specs
    run_steps = sum(s.train.steps for s in specs)
    flops = sum(flops_per_step(s) * s.train.steps for s in specs)
    peak = peak_gflops(device)

    start = time.perf_counter()
    for spec in specs:
        plain_run(spec, device)
    plain = time.perf_counter() - start

    start = time.perf_counter()
    units = plan_units(specs, device)
    for unit in units:
        train_group(list(unit.specs), device)
    engine = time.perf_counter() - start

    print(
        f"device {device}, torch threads {torch.get_num_threads()}, {len(specs)} runs x {args.steps} steps, "
        f"{len(units)} ensembles, nets {specs[0].train.model.depth}x{specs[0].train.model.hidden}"
    )
    print(f"fp32 matmul peak measured now: {peak:8.1f} GFLOP/s")
    print(f"{'':14}{'wall s':>9}{'run-steps/s':>14}{'GFLOP/s':>10}{'% peak':>8}")
    for name, wall in (("plain loop", plain), ("ganbench", engine)):
        achieved = flops / wall / 1e9
        print(f"{name:14}{wall:9.2f}{run_steps / wall:14.1f}{achieved:10.2f}{100 * achieved / peak:8.2f}")
    print(f"speed-up (ganbench / plain loop): {plain / engine:.2f}x")
    assert math.isfinite(plain / engine)


if __name__ == "__main__":
    main()
