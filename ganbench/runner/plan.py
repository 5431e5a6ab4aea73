"""Turn run specs into work units (ensembles) and decide where they run.

Specs with the same ``group_key`` train as one ensemble; a group larger than what fits in a
device's memory (or than ``max_members``) is split into near-equal units.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import torch

from ganbench.errors import BadInput
from ganbench.suite import RunSpec
from ganbench.train import group_key

MAX_MEMBERS = 64  # beyond this, per-step overhead is already amortised on CPU and GPU alike
MIN_SPLIT = 4  # members per half below which a unit is not split for parallelism
MEMORY_SHARE = 0.5  # of a device's free memory one unit may plan to use
# A CPU job of MLPs this small (member x critic steps, with widths up to SMALL_WIDTH) trains in
# the calling process: on 2 cores it takes a few seconds in one ensemble, about what starting
# worker processes (each importing torch) costs before they train anything.
SMALL_WORK = 50_000
SMALL_WIDTH = 128


@dataclass(frozen=True)
class WorkUnit:
    specs: tuple[RunSpec, ...]

    @property
    def run_steps(self) -> int:
        return sum(s.train.steps for s in self.specs)

    @property
    def label(self) -> str:
        s = self.specs[0]
        return f"{s.variant}/{s.dataset} x{len(self.specs)}"


def parse_devices(text: str) -> list[str]:
    """`auto` -> every CUDA device, else the CPU; `cpu`; `cuda:0,1` or `cuda:0,cuda:1`."""
    if text == "auto":
        return [f"cuda:{i}" for i in range(torch.cuda.device_count())] or ["cpu"]
    if text == "cpu":
        return ["cpu"]
    devices = []
    for part in text.split(","):
        part = part.strip()
        index = part.removeprefix("cuda:")
        if not index.isdigit():
            raise BadInput(f"--devices: expected auto, cpu or cuda:0,1, got {text!r}")
        devices.append(f"cuda:{index}")
    available = torch.cuda.device_count()
    missing = [d for d in devices if int(d.split(":")[1]) >= available]
    if missing:
        raise BadInput(f"--devices: {', '.join(missing)} not available ({available} CUDA device(s) visible)")
    return devices


def member_bytes(spec: RunSpec) -> int:
    """A generous estimate of one member's training memory (weights, grads, Adam moments,
    activations of a batch), used to fit ensembles to a device."""
    m, t = spec.train.model, spec.train
    # `model` keys depend on the arch (suite.AnyModel): `module` and plugins may lack these.
    hidden, depth, width = getattr(m, "hidden", 128), getattr(m, "depth", 3), getattr(m, "width", 64)
    if m.arch == "mlp":
        params = 2 * (hidden * hidden * depth + 8 * hidden)
        activations = 4 * t.batch_size * hidden * depth * 8
    else:  # conv nets: dominated by feature maps
        params = 2 * 64 * width * width * 16
        activations = 4 * t.batch_size * width * 64 * 64 * 4
    eval_batch = 4 * t.eval_samples * (hidden if m.arch == "mlp" else width * 64) * 2
    return 4 * params * 4 + activations + eval_batch


def free_bytes(device: str) -> int:
    if device.startswith("cuda"):
        free, _ = torch.cuda.mem_get_info(torch.device(device))
        return free
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def small_job(specs: list[RunSpec]) -> bool:
    """Whether `specs` are cheap enough to train in this process rather than in workers."""
    work = sum(s.train.steps * s.train.n_critic for s in specs)
    small_nets = all(
        s.train.model.arch == "mlp" and getattr(s.train.model, "hidden", SMALL_WIDTH + 1) <= SMALL_WIDTH
        for s in specs
    )
    return small_nets and work <= SMALL_WORK


def plan_units(
    specs: list[RunSpec], device: str = "cpu", max_members: int = MAX_MEMBERS, min_units: int = 1
) -> list[WorkUnit]:
    """Ensembles of specs that share a group_key, each fitting the device's memory; big units are
    halved until there are `min_units` (the worker slots), so one large sweep still uses every
    core. Splitting is free: a member's numbers do not depend on its ensemble's composition."""
    groups: dict[str, list[RunSpec]] = {}
    for spec in specs:
        groups.setdefault(group_key(spec), []).append(spec)
    units = []
    for members in groups.values():
        fit = max(1, int(free_bytes(device) * MEMORY_SHARE // member_bytes(members[0])))
        size = min(max_members, fit)
        n_units = math.ceil(len(members) / size)
        per_unit = math.ceil(len(members) / n_units)
        units += [WorkUnit(tuple(members[i : i + per_unit])) for i in range(0, len(members), per_unit)]
    while len(units) < min_units:
        largest = max(units, key=lambda u: len(u.specs))
        if len(largest.specs) < 2 * MIN_SPLIT:
            break
        half = math.ceil(len(largest.specs) / 2)
        units.remove(largest)
        units += [WorkUnit(largest.specs[:half]), WorkUnit(largest.specs[half:])]
    # Longest first, so the slowest unit never starts last.
    return sorted(units, key=lambda u: -u.run_steps * u.specs[0].train.n_critic)
