"""The Ray backend on a real local cluster: GPU packing, retries, errors. (Its runs.csv equals the
local and Slurm backends' in tests/test_backends.py.)

One cluster (about 4 s and 1 GB to start) serves the whole file. It declares two fake GPUs, so
fractional-GPU packing is tested on a GPU-less machine: Ray schedules by declared resources and
sets CUDA_VISIBLE_DEVICES. Stand-ins for `run_unit` (closures, shipped to the workers by value)
record where and when each task ran, since real training on a fake GPU cannot start.
"""

from __future__ import annotations

import os
import time

import pytest
import ray

from ganbench.errors import BadInput
from ganbench.metrics import EvalContext
from ganbench.results import RunResult
from ganbench.runner.plan import WorkUnit
from ganbench.runner.ray_backend import RayBackend, task_options
from ganbench.suite import load_suite
from tests.conftest import TINY_SUITE, write


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, num_gpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture
def units(tmp_path) -> list[WorkUnit]:
    """Four one-run units of the tiny suite."""
    suite = load_suite(write(tmp_path, TINY_SUITE), steps=20)
    return [WorkUnit((spec,)) for spec in suite.specs[:4]]


def test_task_options():
    assert task_options(0, 0) == ({"num_cpus": 1}, "cpu")
    assert task_options(2, 0) == ({"num_gpus": 0.25, "num_cpus": 0}, "cuda:0")  # default: 4 runs per GPU
    assert task_options(2, 2) == ({"num_gpus": 0.5, "num_cpus": 0}, "cuda:0")
    assert task_options(2, 2, force_cpu=True) == ({"num_cpus": 1}, "cpu")


def test_fractional_gpu_packing(cluster, units):
    def stand_in(unit, device, context):
        start = time.time()
        time.sleep(1.5)
        share = ray.get_runtime_context().get_assigned_resources().get("GPU")
        info = {"gpu": os.environ["CUDA_VISIBLE_DEVICES"], "share": str(share)}
        return [
            RunResult(s, "finished", 1, {"start": start, "end": time.time()}, device=device, info=info)
            for s in unit.specs
        ]

    received, steps = [], []
    RayBackend(None, runs_per_device=2, run_unit=stand_in).run(
        units, EvalContext(), received.append, steps.append
    )
    assert ray.is_initialized()  # a cluster the caller started is left running
    results = [r for batch in received for r in batch]
    assert len(received) == 4  # one sink call per unit
    assert sorted(r.spec.run_id for r in results) == sorted(u.specs[0].run_id for u in units)
    assert steps == [20] * 4  # progress advances by each unit's generator steps
    assert {r.device for r in results} == {"cuda:0"}  # Ray narrows CUDA_VISIBLE_DEVICES to the task's GPU
    assert {r.info["share"] for r in results} == {"0.5"}  # 1 / runs_per_device of a GPU each
    spans = [(r.info["gpu"], r.metrics["start"], r.metrics["end"]) for r in results]
    assert {gpu for gpu, _, _ in spans} <= {"0", "1"}
    for gpu in {gpu for gpu, _, _ in spans}:
        mine = [(s, e) for g, s, e in spans if g == gpu]
        assert max(sum(s <= t < e for s, e in mine) for t, _ in mine) <= 2  # never more than runs_per_device


def test_failed_units_are_retried_and_errors_recorded(cluster, units, tmp_path):
    marker = tmp_path / "attempts"
    marker.mkdir()

    def flaky(unit, device, context):  # fails the first attempt of every unit
        seen = marker / unit.specs[0].run_id
        status = "finished" if seen.exists() else "failed"
        seen.touch()
        return [RunResult(s, status, 0, device=device) for s in unit.specs]

    received = []
    backend = RayBackend(retries=1, force_cpu=True, run_unit=flaky)
    backend.run(units[:2], EvalContext(), received.append, None)
    assert [r.status for batch in received for r in batch] == ["finished", "finished"]
    assert len(received) == 2  # the failed first attempts never reached the sink

    def broken(unit, device, context):
        raise RuntimeError("boom")

    received = []
    RayBackend(force_cpu=True, run_unit=broken).run(units[:1], EvalContext(), received.append, None)
    ((result,),) = received
    assert result.status == "failed" and "RuntimeError: boom" in result.error and result.device == "cpu"


def test_bad_input_in_a_task_reaches_the_driver(cluster, units):
    def bad(unit, device, context):
        raise BadInput("suite.yaml: datasets[0]: no such data")

    with pytest.raises(BadInput, match="^suite.yaml: datasets"):
        RayBackend(force_cpu=True, run_unit=bad).run(units[:1], EvalContext(), lambda results: None, None)
