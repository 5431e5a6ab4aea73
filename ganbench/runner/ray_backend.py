"""Run work units on a Ray cluster: one task per unit, results recorded by the driver as they land.

GPU units ask for 1/runs_per_device of a GPU (several small ensembles share one card) and no CPU,
so CPU slots stay free for CPU units; Ray sets CUDA_VISIBLE_DEVICES, so a task uses cuda:0.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace

from ganbench.metrics import EvalContext
from ganbench.runner.local import ResultSink, run_unit
from ganbench.runner.plan import WorkUnit

DEFAULT_RUNS_PER_GPU = 4


def _task(unit: WorkUnit, device: str, context: EvalContext):
    import torch

    torch.set_num_threads(1 if device == "cpu" else max(1, torch.get_num_threads()))
    return run_unit(unit, device, context)


def task_options(cluster_gpus: float, runs_per_device: int, force_cpu: bool = False) -> tuple[dict, str]:
    """Ray resource request of one unit's task, and the device it trains on."""
    if cluster_gpus and not force_cpu:
        return {"num_gpus": 1 / (runs_per_device or DEFAULT_RUNS_PER_GPU), "num_cpus": 0}, "cuda:0"
    return {"num_cpus": 1}, "cpu"


def execute_ray(
    units: list[WorkUnit],
    address: str | None,
    runs_per_device: int,
    context: EvalContext,
    sink: ResultSink,
    on_progress: Callable[[int], None] | None = None,
    retries: int = 0,
    force_cpu: bool = False,
) -> None:
    import ray

    started_here = not ray.is_initialized()
    if started_here:
        kwargs = {"address": address} if address else {"num_cpus": os.cpu_count(), "include_dashboard": False}
        ray.init(log_to_driver=False, ignore_reinit_error=True, **kwargs)
    try:
        options, device = task_options(ray.cluster_resources().get("GPU", 0), runs_per_device, force_cpu)
        remote = ray.remote(**options)(_task)

        ctx = replace(context, device=device)
        attempts = {}
        pending = {}
        for unit in units:
            ref = remote.remote(unit, device, ctx)
            pending[ref], attempts[ref] = unit, 0
        while pending:
            (done,), _ = ray.wait(list(pending), num_returns=1)
            unit, attempt = pending.pop(done), attempts.pop(done)
            results = ray.get(done)
            if any(r.status == "failed" for r in results) and attempt < retries:
                ref = remote.remote(unit, device, ctx)
                pending[ref], attempts[ref] = unit, attempt + 1
                continue
            sink(results)
            if on_progress:
                on_progress(unit.run_steps)
    finally:
        if started_here:
            ray.shutdown()
