"""Run work units on a Ray cluster: one task per unit, results recorded by the driver as they land.

Same contract as ``execute_local``: ``sink(results)`` is called in this (the driver) process as
each unit finishes, a unit whose results say ``failed`` is tried again up to ``retries`` times,
and ``on_progress`` advances by a unit's generator steps when it finishes.

GPU units ask for 1/runs_per_device of a GPU (several small ensembles share one card) and no CPU,
so CPU slots stay free for CPU units; Ray sets CUDA_VISIBLE_DEVICES, so a task uses cuda:0. Ray
gives every GPU task a fresh worker process (its default max_calls=1 for GPU tasks), which frees
the card's memory between units and never leaves a reused worker bound to a previous task's GPU.
Crashed workers and lost nodes are retried by Ray itself; ``retries`` counts only runs that failed.
The nodes of a remote cluster need ganbench and its dependencies installed, as on the driver.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace

from ganbench.errors import BadInput
from ganbench.metrics import EvalContext
from ganbench.runner.local import ResultSink, run_unit
from ganbench.runner.plan import WorkUnit
from ganbench.train import RunResult

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


def execute_ray(
    units: list[WorkUnit],
    address: str | None,
    runs_per_device: int,
    context: EvalContext,
    sink: ResultSink,
    on_progress: Callable[[int], None] | None = None,
    retries: int = 0,
    force_cpu: bool = False,
    run: RunUnit = run_unit,
) -> None:
    """``force_cpu`` (``--devices cpu``) keeps units off a cluster's GPUs; ``run`` is what each task
    calls, ``run_unit`` unless a test wants to see where and when tasks ran."""
    import ray

    started_here = _connect(address)
    pending: dict = {}  # ObjectRef -> (unit, attempt)
    try:
        options, device = task_options(ray.cluster_resources().get("GPU", 0), runs_per_device, force_cpu)
        remote = ray.remote(**options)(_task)
        ctx = replace(context, device=device)
        for unit in units:
            pending[remote.remote(run, unit, device, ctx)] = (unit, 0)
        while pending:
            (done,), _ = ray.wait(list(pending), num_returns=1)
            unit, attempt = pending.pop(done)
            results = _results(done, unit, device)
            if any(r.status == "failed" for r in results) and attempt < retries:
                pending[remote.remote(run, unit, device, ctx)] = (unit, attempt + 1)
                continue
            sink(results)
            if on_progress:
                on_progress(unit.run_steps)
    finally:
        for ref in pending:  # interrupted or failed: don't leave work running on a shared cluster
            ray.cancel(ref)
        if started_here:
            ray.shutdown()


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
