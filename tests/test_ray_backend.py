"""The Ray backend on a real local cluster: same numbers as the local runner, GPU packing."""

from __future__ import annotations

import time

import pandas as pd
import pytest
import ray

from ganbench.api import RunOptions, run_suite
from ganbench.runner.ray_backend import task_options
from ganbench.suite import load_suite
from tests.conftest import TINY_SUITE, write


@pytest.fixture(scope="module")
def cluster():
    # Two fake GPUs on a GPU-less machine: Ray packs fractional-GPU tasks onto them and sets
    # CUDA_VISIBLE_DEVICES, which is what the packing logic needs.
    ray.init(num_cpus=2, num_gpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_ray_runs_match_local_runs(cluster, tmp_path):
    suite = load_suite(write(tmp_path, TINY_SUITE), steps=20)
    local = run_suite(suite, RunOptions(out=tmp_path / "local", devices="cpu", runs_per_device=1, quiet=True))
    remote = run_suite(suite, RunOptions(out=tmp_path / "ray", devices="cpu", backend="ray", quiet=True))
    cols = ["run_id", "status", "w1", "modes_covered", "hq_share"]
    pd.testing.assert_frame_equal(local.runs[cols], remote.runs[cols])
    assert ray.is_initialized()  # a cluster the caller started is left running


def test_task_options():
    assert task_options(0, 0) == ({"num_cpus": 1}, "cpu")
    assert task_options(2, 0) == ({"num_gpus": 0.25, "num_cpus": 0}, "cuda:0")
    assert task_options(2, 2) == ({"num_gpus": 0.5, "num_cpus": 0}, "cuda:0")
    assert task_options(2, 2, force_cpu=True) == ({"num_cpus": 1}, "cpu")


def test_fractional_gpu_packing(cluster):
    options, _ = task_options(ray.cluster_resources()["GPU"], runs_per_device=2)

    @ray.remote(**options)
    def unit():
        start = time.time()
        time.sleep(1.0)
        return ray.get_gpu_ids()[0], start, time.time()

    spans = ray.get([unit.remote() for _ in range(6)])
    for gpu in {g for g, _, _ in spans}:
        mine = [(s, e) for g, s, e in spans if g == gpu]
        overlap = max(sum(s <= t < e for s, e in mine) for t, _ in mine)
        assert overlap <= 2  # never more than runs_per_device units on one GPU
    assert len({g for g, _, _ in spans}) == 2  # both GPUs used
    assert max(sum(s <= t < e for _, s, e in spans) for _, t, _ in spans) == 4  # 2 per GPU at once
