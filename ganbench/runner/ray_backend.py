"""``--backend ray``: one Ray task per work unit, results recorded by the driver as they land.

The ``Backend`` contract (runner/backends.py): ``sink(results)`` is called in this (the driver)
process as each unit finishes, a unit whose results say ``failed`` is tried again up to
``retries`` times (``run_with_retries``, as on every backend), and ``on_progress`` advances by a
unit's generator steps when it finishes. On an interrupt or error, tasks still pending are
cancelled (``ray.cancel``), and a cluster this call started is shut down.

GPU units ask for 1/runs_per_device of a GPU (several small ensembles share one card) and no CPU,
so CPU slots stay free for CPU units; Ray sets CUDA_VISIBLE_DEVICES, so a task uses cuda:0. Ray
gives every GPU task a fresh worker process (its default max_calls=1 for GPU tasks), which frees
the card's memory between units and never leaves a reused worker bound to a previous task's GPU.
Crashed workers and lost nodes are retried by Ray itself; ``retries`` counts only runs that failed.
The nodes of a remote cluster need ganbench and its dependencies installed, as on the driver.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ganbench.errors import BadInput
from ganbench.metrics import EvalContext
from ganbench.registry import BACKENDS
from ganbench.results import RunResult
from ganbench.runner.backends import ResultSink, run_with_retries
from ganbench.runner.local import run_unit
from ganbench.runner.plan import WorkUnit

DEFAULT_RUNS_PER_GPU = 4
RunUnit = Callable[[WorkUnit, str, EvalContext], list[RunResult]]


def task_options(cluster_gpus: float, runs_per_device: int, force_cpu: bool = False) -> tuple[dict, str]:
    """Ray resource request of one unit's task, and the device it trains on."""
    if cluster_gpus and not force_cpu:
        return {"num_gpus": 1 / (runs_per_device or DEFAULT_RUNS_PER_GPU), "num_cpus": 0}, "cuda:0"
    return {"num_cpus": 1}, "cpu"


def _task(run: RunUnit, unit: WorkUnit, device: str, context: EvalContext) -> list[RunResult]:
    """Body of a Ray task. A CPU task holds one core, so torch must not spread over all of them."""
    if device == "cpu":
        import torch

        torch.set_num_threads(1)
    return run(unit, device, context)


@BACKENDS.register("ray")
@dataclass
class RayBackend:
    """``--backend ray``: one Ray task per unit on the cluster at ``address`` (None: a local one).

    ``force_cpu`` (``--devices cpu``) keeps units off a cluster's GPUs; ``run_unit`` is what each
    task calls, ``local.run_unit`` unless a test wants to see where and when tasks ran."""

    address: str | None = None
    runs_per_device: int = 0
    retries: int = 0
    force_cpu: bool = False
    run_unit: RunUnit = run_unit

    @classmethod
    def from_options(cls, options: Any, out_dir: Path) -> RayBackend:
        return cls(options.ray_address, options.runs_per_device, options.retries, options.devices == "cpu")

    def run(
        self,
        units: list[WorkUnit],
        context: EvalContext,
        sink: ResultSink,
        on_progress: Callable[[int], None] | None = None,
    ) -> None:
        import ray

        started_here = _connect(self.address)
        try:
            gpus = ray.cluster_resources().get("GPU", 0)
            options, device = task_options(gpus, self.runs_per_device, self.force_cpu)
            tasks = RayTasks(
                ray.remote(**options)(_task), self.run_unit, device, replace(context, device=device)
            )
            run_with_retries(units, tasks, self.retries, sink, on_progress)
        finally:
            if started_here:
                ray.shutdown()


class RayTasks:
    """Units as Ray tasks, all submitted at once: Ray queues them on the cluster's resources."""

    capacity = None
    reports_steps = False  # a task's steps count when it finishes

    def __init__(self, remote: Any, run: RunUnit, device: str, context: EvalContext) -> None:
        self.remote, self.run, self.device, self.context = remote, run, device, context

    def start(self, units: list[WorkUnit]) -> list[Any]:
        return [self.remote.remote(self.run, unit, self.device, self.context) for unit in units]

    def wait(self, handles: Sequence[Any]) -> set[int]:
        import ray

        (done,), _ = ray.wait(list(handles), num_returns=1)
        return {list(handles).index(done)}

    def results(self, handle: Any, unit: WorkUnit) -> list[RunResult]:
        return _results(handle, unit, self.device)

    def cancel(self, handles: Sequence[Any]) -> None:
        import ray

        for ref in handles:  # interrupted or failed: don't leave work running on a shared cluster
            with contextlib.suppress(Exception):
                ray.cancel(ref)


def _connect(address: str | None) -> bool:
    """Join the given cluster, or start a local one; True when this call started Ray."""
    import ray

    if ray.is_initialized():  # a caller (notebook, test) already chose the cluster
        return False
    if address:
        ray.init(address=address, log_to_driver=False, ignore_reinit_error=True)
    else:
        ray.init(
            num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False, ignore_reinit_error=True
        )
    return True


def _results(ref, unit: WorkUnit, device: str) -> list[RunResult]:
    """A unit's results; a task that died (worker crash, out of memory) marks its runs failed."""
    import ray
    from ray.exceptions import RayError, RayTaskError

    try:
        return ray.get(ref)
    except RayTaskError as err:
        if isinstance(err.cause, BadInput):  # the user's mistake: one line, as in the local backend
            raise err.cause from None
        error = f"{type(err.cause).__name__}: {err.cause}"
    except RayError as err:
        error = f"{type(err).__name__}: {err}"
    return [RunResult(spec, "failed", 0, device=device, error=error) for spec in unit.specs]
