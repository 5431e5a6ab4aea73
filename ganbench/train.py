"""The training engine: one generic GAN step, run for K runs at once as a batched ensemble.

A group of RunSpecs that share their shapes (see ``group_key``) trains as one stacked
computation: every member has its own weights, optimizer state, random streams, divergence flag
and metrics, and a member's numbers equal those of the same spec trained alone (K = 1), because
nothing in a step mixes members: matmuls are batched per member, losses are per member, and
their sum only joins them for one backward pass whose gradients stay separate.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import torch

from ganbench import health
from ganbench.checkpoint import Checkpointer, note
from ganbench.data import Dataset, build_datasets
from ganbench.losses import critic_estimate
from ganbench.metrics import EvalContext, evaluate, evaluate_each, metric_identity, training_metrics
from ganbench.metrics.training import OSC_WINDOW, TrainingTrace, critic_at_evals, oscillation
from ganbench.models.base import EnsembleNet
from ganbench.optim import BatchedOptimizer
from ganbench.registry import ARCHS, LOSSES, PENALTIES
from ganbench.results import RunResult
from ganbench.seeding import stream
from ganbench.suite import RunSpec, TrainConfig

CHUNK = 50  # generator steps of noise/data drawn per member at once (part of the RNG protocol)
CHECK_EVERY = 25  # steps between divergence checks (each one syncs with the device)
# Divergence beyond NaN/inf (R: the data's bounding radius, see _data_radius). A run diverges
# when a loss or the critic's estimate passes LOSS_BOUND * max(R, 1) in absolute value (Adam at
# lr 1e3 reaches 1e7-1e22, gp_weight 1e30 makes the critic loss ~1e30; healthy runs stay below
# 100), or when, at an evaluation, the median distance of its samples from the origin passes
# OUTPUT_BOUND * R (a generator that has left the data: healthy ones stay below ~2 R).
LOSS_BOUND = 1e6
OUTPUT_BOUND = 100.0
HISTORY_POINTS = 200  # loss curves are averaged into at most this many points per run
SAMPLES_KEPT = 1000  # final samples returned for the artifact plot
GRID_KEPT = 64  # images kept at each evaluation for a sample-grid artifact


# Scalars that may differ between members of one ensemble; everything else must match.
MEMBER_SCALARS = (
    "optimizer",
    "optimizer_g",
    "optimizer_d",
    "clip",
    "gp_weight",
    "ema",
    "min_count",
    "w1_points",
    "prdc_k",
)


def group_key(spec: RunSpec) -> str:
    """Specs with equal keys can train as one ensemble."""
    train = spec.train.model_dump(mode="json", exclude=set(MEMBER_SCALARS))
    structure = {
        "train": train,
        "clipped": spec.train.clip is not None,
        "penalised": (spec.train.gp_weight or 0) > 0,
        "ema": spec.train.ema is not None,
        # Toy mixtures share one shape, so different mixtures can share an ensemble.
        "data": "toy-2d" if spec.data["name"] in ("ring", "grid") else spec.data,
    }
    return repr(sorted(structure.items()))


class Streams:
    """Per-member noise/data/penalty draws, made CHUNK steps at a time and sliced per step."""

    def __init__(self, specs: list[RunSpec], datasets: list[Dataset], z_dim: int, device: str) -> None:
        self.train = specs[0].train
        self.datasets = datasets
        self.z_dim = z_dim
        self.device = device
        self.gens = {name: [stream(s.seed, name) for s in specs] for name in ("noise", "data", "penalty")}
        self.seeds = [s.seed for s in specs]
        self.loaded = -1  # index of the chunk of draws held now

    def chunk(self) -> None:
        t = self.train
        b, n = t.batch_size, t.n_critic
        self.noise = self._stack(
            [torch.randn(CHUNK * (n + 1), b, self.z_dim, generator=g) for g in self.gens["noise"]]
        )
        self.real = self._stack(
            [
                ds.sample(CHUNK * n * b, g).view(CHUNK * n, b, *ds.shape)
                for ds, g in zip(self.datasets, self.gens["data"], strict=True)
            ]
        )
        self.eps = self._stack([torch.rand(CHUNK * n, b, generator=g) for g in self.gens["penalty"]])

    def _stack(self, tensors: list[torch.Tensor]) -> torch.Tensor:
        # [K, draws, B, ...]: one transfer per chunk, not per step
        return torch.stack(tensors).to(self.device, non_blocking=True)

    def at(self, step: int, critic_iter: int | None) -> tuple[torch.Tensor, ...]:
        """Noise (and real data, penalty weights) of generator step `step` (0-based)."""
        if critic_iter is not None and critic_iter >= self.train.n_critic:
            return self.warmup()
        if step // CHUNK != self.loaded:  # once per chunk, not once per call at its first step
            self.chunk()
            self.loaded = step // CHUNK
        i = step % CHUNK
        n = self.train.n_critic
        if critic_iter is None:  # the generator's own update
            return (self.noise[:, i * (n + 1) + n],)
        j = i * n + critic_iter
        return self.noise[:, i * (n + 1) + critic_iter], self.real[:, j], self.eps[:, j]

    def perturbation(self, real: torch.Tensor) -> torch.Tensor:
        """Uniform [0, 1) draws shaped like `real` ([K, B, *shape]), from each member's own
        "perturb" stream: only penalties that ask for them (``needs_noise``) draw any."""
        if not hasattr(self, "perturb"):
            self.perturb = [stream(g_seed, "perturb") for g_seed in self.seeds]
        return self._stack([torch.rand(real.shape[1:], generator=g) for g in self.perturb])

    def state_dict(self) -> dict[str, Any]:
        """The generators' states. Valid at a chunk boundary only (a checkpoint's step is a
        multiple of CHUNK): then every draw made so far is used, and the next step draws anew."""
        gens = {name: [g.get_state() for g in gens] for name, gens in self.gens.items()}
        perturb = [g.get_state() for g in self.perturb] if hasattr(self, "perturb") else None
        return {"gens": gens, "perturb": perturb}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name, states in state["gens"].items():
            for g, saved in zip(self.gens[name], states, strict=True):
                g.set_state(saved)
        if state["perturb"] is not None:  # created lazily: only if the saved run had drawn from it
            self.perturb = [stream(g_seed, "perturb") for g_seed in self.seeds]
            for g, saved in zip(self.perturb, state["perturb"], strict=True):
                g.set_state(saved)
        self.loaded = -1  # the next step draws its chunk

    def warmup(self) -> tuple[torch.Tensor, ...]:
        """Noise, real data and penalty weights of one critic update beyond n_critic (critic
        warm-up), drawn when asked for from the member's own noise/data/penalty generators."""
        b = self.train.batch_size
        return (
            self._stack([torch.randn(b, self.z_dim, generator=g) for g in self.gens["noise"]]),
            self._stack([ds.sample(b, g) for ds, g in zip(self.datasets, self.gens["data"], strict=True)]),
            self._stack([torch.rand(b, generator=g) for g in self.gens["penalty"]]),
        )


@dataclass
class Carry:
    """Everything the training loop carries from one step to the next: what a checkpoint holds.
    Every field is changed in place by the loop, never rebound, so restoring in place suffices."""

    G: EnsembleNet
    D: EnsembleNet
    opt_g: BatchedOptimizer
    opt_d: BatchedOptimizer
    g_ema: torch.Tensor | None
    streams: Streams
    curves: torch.Tensor  # [3, steps, K]: d_loss, g_loss, critic estimate
    alive: torch.Tensor  # [K] bool, on the CPU
    steps_done: list[int]
    evals: list[dict[str, Any]]  # per evaluation: step, per-member metric dicts, time
    snapshots: list[list[tuple[int, np.ndarray]]]
    last_metrics: list[dict[str, float]]

    def state_dict(self, step: int) -> dict[str, Any]:
        """The state after `step` generator steps (a multiple of CHUNK), as tensors and JSON, so
        that torch.load(weights_only=True) reads it back: no pickled objects."""
        record = {"steps_done": self.steps_done, "evals": self.evals, "last_metrics": self.last_metrics}
        return {
            "nets": [self.G.state_dict(), self.D.state_dict()],  # flat weights and buffers (SN's u)
            "optimizers": [self.opt_g.state_dict(), self.opt_d.state_dict()],
            "g_ema": self.g_ema,
            "streams": self.streams.state_dict(),
            "curves": self.curves[:, :step].clone(),  # a copy: a view would save the whole tensor
            "alive": self.alive.clone(),
            # Metric values are Python floats (the evaluators' contract), which JSON keeps exactly.
            "record": json.dumps(record, default=lambda value: value.item()),
            "snapshots": [[(s, torch.from_numpy(a)) for s, a in member] for member in self.snapshots],
        }

    @torch.no_grad()
    def load_state_dict(self, state: dict[str, Any]) -> int:
        """Restore a state_dict() (read onto the CPU) in place; returns its step."""
        for net, saved in zip((self.G, self.D), state["nets"], strict=True):
            net.load_state_dict(saved)
        for opt, saved in zip((self.opt_g, self.opt_d), state["optimizers"], strict=True):
            opt.load_state_dict(saved)
        if self.g_ema is not None:
            self.g_ema.copy_(state["g_ema"])
        self.streams.load_state_dict(state["streams"])
        step = int(state["step"])
        self.curves[:, :step] = state["curves"]
        self.alive.copy_(state["alive"])
        record = json.loads(state["record"])
        self.steps_done[:] = record["steps_done"]
        self.evals[:] = record["evals"]
        self.last_metrics[:] = record["last_metrics"]
        self.snapshots[:] = [[(s, a.numpy()) for s, a in member] for member in state["snapshots"]]
        return step


def train_group(
    specs: list[RunSpec],
    device: str = "cpu",
    context: EvalContext | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> list[RunResult]:
    """Train specs (all with one group_key) as one ensemble and evaluate every member.

    A lone spec trains beside a ghost copy of itself (K = 2, the ghost is neither evaluated nor
    returned): batched matmuls of one member take another kernel than those of two or more (MKL's
    gemm, threaded within the matrix and with a gemv path for a width of 1, against its batched
    gemm), which changes the last bits, so without the ghost a run's numbers would depend on
    whether it trained alone. With it they do not (tests/test_invariance.py). An exception
    carries `steps_done`, the generator steps completed before it.

    With a checkpoint dir and cadence in the context, the loop saves what it carries (``Carry``)
    now and then, and a later call with the same specs resumes from the last checkpoint, with
    the numbers of an uninterrupted run (ganbench.checkpoint; tests/test_checkpoint.py)."""
    completed = [0]
    try:
        if len(specs) == 1:
            return _train_group([specs[0], specs[0]], device, context, on_progress, 1, completed)
        return _train_group(list(specs), device, context, on_progress, len(specs), completed)
    except Exception as err:
        with contextlib.suppress(AttributeError):
            err.steps_done = completed[0]
        raise


def _train_group(
    specs: list[RunSpec],
    device: str,
    context: EvalContext | None,
    on_progress: Callable[[int], None] | None,
    n_real: int,
    completed: list[int],
) -> list[RunResult]:
    """The ensemble loop; members from n_real on are ghosts (see train_group)."""
    started, started_at = time.perf_counter(), time.time()
    context = context or EvalContext(device=device)
    t = specs[0].train
    k = len(specs)
    datasets = build_datasets([s.data for s in specs], context.data_root)
    G, D = ARCHS.get(t.model.arch)(t.model, datasets[0].shape, [s.seed for s in specs])
    G, D = G.to(device), D.to(device)
    precision = configure_execution((G, D), device, context.precision)
    loss = LOSSES.get(t.loss)
    penalty_name = getattr(loss, "penalty", "gp")  # the PENALTIES entry gp_weight weighs
    penalty = PENALTIES.get(penalty_name) if penalty_name is not None else None
    opt_g = BatchedOptimizer(G.flat, [s.train.optimizer_g for s in specs])
    opt_d = BatchedOptimizer(D.flat, [s.train.optimizer_d for s in specs])
    clip = _member_column(specs, lambda s: s.train.clip or math.inf, device).unsqueeze(1)
    gp_weight = _member_column(specs, lambda s: s.train.gp_weight or 0.0, device)
    use_clip = bool(torch.isfinite(clip).any())
    use_gp = penalty is not None and bool((gp_weight > 0).any())
    perturbs = getattr(penalty, "needs_noise", False)  # per-element noise (DRAGAN)
    ema = _member_column(specs, lambda s: s.train.ema or 0.0, device).unsqueeze(1)
    g_ema = G.flat.detach().clone() if t.ema is not None else None
    streams = Streams(specs, datasets, t.model.z_dim, device)
    radius = [_data_radius(ds) for ds in datasets]
    loss_bound = torch.tensor([LOSS_BOUND * max(r, 1.0) for r in radius], device=device)
    output_bound = torch.tensor([OUTPUT_BOUND * r for r in radius])

    curves = torch.zeros(3, t.steps, k, device=device)  # d_loss, g_loss, critic estimate
    alive = torch.ones(k, dtype=torch.bool)
    steps_done = [t.steps] * k
    evals: list[dict[str, Any]] = []  # per evaluation: step, per-member metric dicts
    snapshots: list[list[tuple[int, np.ndarray]]] = [[] for _ in range(k)]
    last_metrics: list[dict[str, float]] = [{} for _ in range(k)]
    carry = Carry(
        G, D, opt_g, opt_d, g_ema, streams, curves, alive, steps_done, evals, snapshots, last_metrics
    )
    saver = _checkpointer(specs, n_real, device, precision, context)
    start = 0
    if saver is not None and (saved := saver.load()) is not None:
        try:
            start = completed[0] = carry.load_state_dict(saved)
        except (RuntimeError, KeyError, ValueError, TypeError):  # e.g. a plugin net changed shape
            saver.reject()
            raise
        started -= saved["wall_s"]  # the unit's wall time counts the steps trained before the kill
        started_at = saved["started_at"]
        note(f"{n_real} run(s) resume from their checkpoint at step {start} ({saver.path.name})")
        if on_progress:
            on_progress(start * n_real)

    for step in range(start, t.steps):
        for it in range(t.critic_iterations(step)):  # n_critic, or more during critic warm-up
            z, real, eps = streams.at(step, it)
            with torch.no_grad():
                fake = G(z)
            with D.step_views():
                d_real, d_fake = D(real), D(fake)
                loss_d = loss.d_loss(d_real, d_fake)
                if use_gp:
                    noise = streams.perturbation(real) if perturbs else None
                    loss_d = loss_d + gp_weight * penalty(D, real, fake, eps, noise)
                D.gradient(loss_d.sum())
            opt_d.step()
            if use_clip:
                with torch.no_grad():
                    _clip(D.flat, clip)
        (z,) = streams.at(step, None)
        # A relativistic loss's generator compares with D(real): the last critic update's real
        # batch, scored by the updated critic. Other losses get None (and no extra forward pass).
        if getattr(loss, "relativistic", False):
            with torch.no_grad():
                d_real_g = D(real)
        else:
            d_real_g = None
        with G.step_views():
            loss_g = loss.g_loss(d_real_g, D(G(z)))
            G.gradient(loss_g.sum())
        opt_g.step()
        if g_ema is not None:
            g_ema.lerp_(G.flat.detach(), 1 - ema)
        with torch.no_grad():
            curves[0, step], curves[1, step] = loss_d.detach(), loss_g.detach()
            curves[2, step] = critic_estimate(d_real, d_fake).detach()

        done = completed[0] = step + 1
        if done % CHECK_EVERY == 0 or done == t.steps:
            newly = _newly_diverged(curves[:, max(0, done - CHECK_EVERY) : done], G, D, alive, loss_bound)
            for m in newly.nonzero().flatten().tolist():
                steps_done[m] = done
                alive[m] = False
            if newly.any():
                _freeze(newly, G, D, opt_g, opt_d)
            if on_progress:
                on_progress(
                    CHECK_EVERY * n_real if done % CHECK_EVERY == 0 else (done % CHECK_EVERY) * n_real
                )
        if done % t.eval_every == 0 or done == t.steps:
            weights = g_ema if g_ema is not None else G.flat.detach()
            fakes = _generate(G, weights, specs, t, device)
            blown = alive & (_median_norm(fakes) > output_bound)  # samples far off the data
            for m in blown.nonzero().flatten().tolist():
                steps_done[m] = done
                alive[m] = False
            if blown.any():
                _freeze(blown, G, D, opt_g, opt_d)
            row = {"step": done, "metrics": [None] * k, "time": time.time()}
            members = [m for m in alive.nonzero().flatten().tolist() if m < n_real]  # no ghosts
            for m, metrics in zip(
                members, _evaluate_members(members, datasets, fakes, specs, context), strict=True
            ):
                row["metrics"][m] = last_metrics[m] = metrics
                if datasets[m].kind == "image":
                    # a copy: a view would keep all of `fakes` alive (and in every checkpoint)
                    snapshots[m].append((done, fakes[m, :GRID_KEPT].numpy().copy()))
            evals.append(row)
        if not alive.any():
            break
        if saver is not None and done < t.steps and saver.due(done):
            state = carry.state_dict(done)
            saver.save(done, {**state, "wall_s": time.perf_counter() - started, "started_at": started_at})

    wall = time.perf_counter() - started
    curves_np = curves.cpu().numpy()
    final_weights = g_ema if g_ema is not None else G.flat.detach()
    final = _generate(G, final_weights, specs, t, device)
    final_weights = final_weights.float().cpu().numpy()
    info = metric_identity(datasets[0], t, context)
    finals = [
        _final_metrics(last_metrics[m], evals, curves_np, m, loss.wasserstein, not alive[m], datasets[m].kind)
        for m in range(k)
    ]
    return [
        RunResult(
            spec=s,
            status="finished" if alive[m] else "diverged",
            steps_done=steps_done[m],
            health=health.classify(
                "finished" if alive[m] else "diverged",
                finals[m],
                _n_modes(datasets[m]),
                settled=sum(row["metrics"][m] is not None for row in evals) >= 2 * OSC_WINDOW,
            ),
            metrics=finals[m],
            history=_history(curves_np[:, : steps_done[m], m], evals, m, loss.wasserstein),
            samples=final[m, :SAMPLES_KEPT].cpu().numpy() if alive[m] else None,
            snapshots=snapshots[m],
            wall_s=wall / n_real,  # the ensemble's wall time, shared out evenly
            device=device,
            precision=precision,
            info=info,
            started_at=started_at,
            ended_at=time.time(),
            step_times=[(row["step"], row["time"]) for row in evals if row["metrics"][m] is not None],
            generator=final_weights[m].copy() if alive[m] else None,
        )
        for m, s in enumerate(specs[:n_real])
    ]


def _checkpointer(
    specs: list[RunSpec], n_real: int, device: str, precision: str, context: EvalContext
) -> Checkpointer | None:
    """The unit's checkpointer, if the context asks for checkpoints. What must match to resume:
    the members' specs in ensemble order (ghost included), the precision and the device type."""
    if not context.checkpoint_dir or (context.checkpoint_every <= 0 and context.checkpoint_seconds <= 0):
        return None
    identity = {
        "specs": [s.resolved() for s in specs],
        "n_real": n_real,
        "chunk": CHUNK,
        "precision": precision,
        "device": torch.device(device).type,
    }
    run_ids = [s.run_id for s in specs[:n_real]]
    return Checkpointer(
        context.checkpoint_dir,
        run_ids,
        identity,
        align=CHUNK,
        every=context.checkpoint_every,
        seconds=context.checkpoint_seconds,
    )


def _evaluate_members(
    members: list[int],
    datasets: list[Dataset],
    fakes: torch.Tensor,
    specs: list[RunSpec],
    context: EvalContext,
) -> list[dict[str, float]]:
    """Each member's metrics at one evaluation, from its own "eval_real" stream."""
    jobs = [
        partial(evaluate, datasets[m], fakes[m], stream(specs[m].seed, "eval_real"), specs[m].train, context)
        for m in members
    ]
    return evaluate_each(jobs, [datasets[m].kind for m in members])


def _n_modes(dataset: Dataset) -> int | None:
    centres = getattr(dataset, "centres", None)
    return None if centres is None else len(centres)


def configure_execution(nets: tuple[EnsembleNet, ...], device: str, requested: str) -> str:
    """Set the nets' precision and memory layout for this device; return the precision used.

    "auto" means bf16 autocast and channels_last for convolutional nets on a CUDA device that
    supports bf16 (tensor cores make both pay), float32 everywhere else: on CPU and for the
    MLP tier bf16 only costs accuracy. "bf16" or "fp32" force it, on any device."""
    conv = all(net.convolutional for net in nets)
    cuda = device.startswith("cuda")
    if requested == "auto":
        requested = "bf16" if cuda and conv and torch.cuda.is_bf16_supported() else "fp32"
    for net in nets:
        net.compute_dtype = torch.bfloat16 if requested == "bf16" else None
        if conv and cuda:
            net.memory_format = torch.channels_last
    if not cuda and max(net.flat.nbytes for net in nets) > MMAP_CEILING:
        _keep_freed_memory()
    return requested


# glibc serves every allocation above this from fresh pages (mmap) and returns them on free.
MMAP_CEILING = 32 * 2**20


@functools.cache
def _keep_freed_memory() -> None:
    """Serve large tensors from the heap and keep freed memory for reuse, for this process.

    A wide ensemble allocates tensors over glibc's largest mmap threshold every step (the [K, P]
    weight gradients: 84 MB for 40 members of 3x512): each is mapped afresh and page-faulted in,
    which costs more than the arithmetic on it (40 x 3x512 WGANs: 36.4 s -> 26.9 s for 20 steps
    with this; nets under the ceiling never pay it, glibc reuses their blocks already). The
    numbers do not change. The price: this process keeps its peak memory until it exits. Not
    glibc: no-op."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    m_trim_threshold, m_mmap_max = -1, -4  # mallopt parameter numbers (malloc.h)
    libc.mallopt(m_mmap_max, 0)
    libc.mallopt(m_trim_threshold, 2**31 - 1)


def _clip(flat: torch.Tensor, clip: torch.Tensor) -> None:
    """Weight clipping in place. A scalar bound when all members share it (the common case);
    per-member bounds as maximum then minimum, clamp's own order (so the same values): torch's
    clamp with broadcast [K, 1] bounds takes a slow path, 8x slower on [54, 8577]."""
    if bool((clip == clip[0]).all()):
        flat.clamp_(-clip[0].item(), clip[0].item())
    else:
        torch.maximum(flat, -clip, out=flat)
        torch.minimum(flat, clip, out=flat)


def _member_column(specs: list[RunSpec], value: Callable[[RunSpec], float], device: str) -> torch.Tensor:
    return torch.tensor([value(s) for s in specs], dtype=torch.float32, device=device)


def _newly_diverged(
    window: torch.Tensor, G, D, alive: torch.Tensor, loss_bound: torch.Tensor
) -> torch.Tensor:
    """Members whose losses or weights became NaN/inf since the last check, or whose losses
    (or critic estimate) went beyond their bound (see LOSS_BOUND)."""
    finite = torch.isfinite(window).all(dim=(0, 1))
    finite &= torch.isfinite(G.flat).all(dim=1) & torch.isfinite(D.flat).all(dim=1)
    finite &= (window.abs() <= loss_bound).all(dim=(0, 1))
    return alive & ~finite.cpu()


def _data_radius(dataset: Dataset) -> float:
    """The data's bounding radius: the farthest mode centre plus 3 std for mixtures, the norm of
    an all-ones image for images (pixels lie in [-1, 1]), else the largest norm of 1,024 samples
    drawn with a fixed generator (not any member's stream)."""
    centres = getattr(dataset, "centres", None)
    if centres is not None:
        return float(torch.as_tensor(centres).norm(dim=1).max()) + 3 * float(dataset.std)
    if dataset.kind == "image":
        return math.sqrt(math.prod(dataset.shape))
    sample = dataset.sample(1024, torch.Generator().manual_seed(0))
    return float(sample.flatten(1).norm(dim=1).max())


def _median_norm(fakes: torch.Tensor) -> torch.Tensor:
    """Median distance of each member's samples from the origin, [K] (NaN samples: NaN)."""
    return fakes.flatten(2).norm(dim=2).median(dim=1).values


@torch.no_grad()
def _freeze(members: torch.Tensor, G, D, opt_g: BatchedOptimizer, opt_d: BatchedOptimizer) -> None:
    """A diverged member stops alone: zero weights keep its slice finite, lr 0 keeps it still."""
    members = members.to(G.flat.device)
    for net, opt in ((G, opt_g), (D, opt_d)):
        net.flat[members] = 0.0
        opt.freeze(members)


@torch.no_grad()
def _generate(G, weights: torch.Tensor, specs: list[RunSpec], t: TrainConfig, device: str) -> torch.Tensor:
    """eval_samples per member from its own eval stream, with the given (e.g. EMA) weights."""
    z = torch.stack(
        [torch.randn(t.eval_samples, t.model.z_dim, generator=stream(s.seed, "eval")) for s in specs]
    )
    saved = G.flat.detach().clone()
    G.flat.copy_(weights)
    out = torch.cat([G(chunk.to(device)) for chunk in z.split(4096, dim=1)], dim=1).float()
    G.flat.copy_(saved)
    return out.cpu()


def _final_metrics(
    last: dict[str, float],
    evals: list[dict[str, Any]],
    curves: np.ndarray,
    m: int,
    wasserstein: bool,
    diverged: bool,
    kind: str,
) -> dict[str, float]:
    """Member m's last evaluation's metrics, then the training-stage metrics of its trace."""
    series: dict[str, list[float]] = {}
    for row in evals:
        for name, value in (row["metrics"][m] or {}).items():
            series.setdefault(name, []).append(value)
    evaluated = [row["metrics"][m] is not None for row in evals]
    critic = (
        critic_at_evals(curves[2, :, m], [row["step"] for row in evals], evaluated) if wasserstein else None
    )
    trace = TrainingTrace(diverged=diverged, series=series, critic=critic)
    return dict(last) | training_metrics(trace, kind) | oscillation(trace)


def _history(
    curves: np.ndarray, evals: list[dict[str, Any]], m: int, wasserstein: bool
) -> dict[str, list[tuple[int, float]]]:
    names = ["d_loss", "g_loss"] + (["critic_w"] if wasserstein else [])
    steps = curves.shape[1]
    width = max(1, math.ceil(steps / HISTORY_POINTS))
    history: dict[str, list[tuple[int, float]]] = {}
    for i, name in enumerate(names):
        history[name] = [
            (min(start + width, steps), float(np.mean(curves[i, start : start + width])))
            for start in range(0, steps, width)
        ]
    for row in evals:
        for name, value in (row["metrics"][m] or {}).items():
            history.setdefault(name, []).append((row["step"], float(value)))
    return history
