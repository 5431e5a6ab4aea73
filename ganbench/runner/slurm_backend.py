"""``--backend slurm``: one Slurm job per work unit, through submitit; the driver records results.

The units are submitted as one job array (``executor.batch()``); the driver polls ``job.done()``
every ``poll_s`` seconds and calls ``sink`` here, in the driver, as each job lands. A job that
died (a time limit, a node failure, an out-of-memory kill, an error outside the training, which
submitit raises from ``job.result()``) records its runs as failed with the error, and
``--retries`` submits it again (``backends.run_with_retries``, as on every backend); a failing
run inside a job is recorded by ``run_unit`` itself, as locally. On SIGINT/SIGTERM
(``Interrupted``) or any error, the jobs still pending or running are cancelled (``job.cancel``:
``scancel`` on Slurm), so nothing is left to train for nobody; the next ``run`` resumes.

Executors (``--slurm-executor``, else ``GANBENCH_SLURM_EXECUTOR``, else ``auto``): ``slurm``
submits with sbatch; ``local`` is submitit's local executor, each job a subprocess of this
machine (tests, laptops; at most cores / cpus-per-job at once); ``auto`` is ``slurm`` where
``sbatch`` is on the PATH, else ``local``. A job unpickles and runs ``local.run_unit`` in a fresh
Python on its node, so the nodes need the driver's environment (ganbench installed, on a shared
file system), as Ray's do. Job scripts, pickles and logs go to ``--slurm-folder`` (default
``OUT/slurm_logs``). A job with GPUs trains its unit on the first one (``cuda:0``: Slurm narrows
CUDA_VISIBLE_DEVICES to the job's), so one GPU per job is what a unit can use.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ganbench.errors import BadInput
from ganbench.metrics import EvalContext
from ganbench.registry import BACKENDS
from ganbench.results import RunResult
from ganbench.runner import interrupts
from ganbench.runner.backends import ResultSink, run_with_retries
from ganbench.runner.local import run_unit
from ganbench.runner.plan import WorkUnit

EXECUTORS = ("auto", "slurm", "local")
ENV_EXECUTOR = "GANBENCH_SLURM_EXECUTOR"


def choose_executor(flag: str, environ: Mapping[str, str] = os.environ) -> str:
    """``slurm`` or ``local``: the flag wins over the environment, which wins over ``auto``."""
    choice = flag if flag != "auto" else environ.get(ENV_EXECUTOR, "").strip() or "auto"
    if choice not in EXECUTORS:
        source = "--slurm-executor" if flag != "auto" else ENV_EXECUTOR
        raise BadInput(f"{source}: expected one of {', '.join(EXECUTORS)}, got {choice!r}")
    if choice == "auto":
        return "slurm" if shutil.which("sbatch") else "local"
    return choice


def _job(unit: WorkUnit, device: str, context: EvalContext, threads: int) -> list[RunResult] | BadInput:
    """Body of a job, in a fresh Python on its node. It holds `threads` cores, so torch must not
    spread over more. BadInput is returned, not raised: submitit would turn it into a
    FailedJobError, and the driver re-raises it as the user's one-line mistake."""
    import torch

    torch.set_num_threads(threads)
    try:
        return run_unit(unit, device, context)
    except BadInput as err:
        return err


@BACKENDS.register("slurm")
@dataclass
class SlurmBackend:
    """``--backend slurm``: one job per unit, each asking for ``cpus_per_job`` cores,
    ``gpus_per_job`` GPUs and ``time_min`` minutes on ``partition`` (None: the cluster's default)."""

    folder: Path
    executor: str = "local"  # slurm | local (see choose_executor)
    partition: str | None = None
    time_min: int = 60
    gpus_per_job: int = 0
    cpus_per_job: int = 1
    retries: int = 0
    force_cpu: bool = False  # --devices cpu: train on the job's CPUs even if it has GPUs
    poll_s: float = 1.0

    @classmethod
    def from_options(cls, options: Any, out_dir: Path) -> SlurmBackend:
        return cls(
            folder=Path(options.slurm_folder or out_dir / "slurm_logs"),
            executor=choose_executor(options.slurm_executor),
            partition=options.slurm_partition,
            time_min=options.slurm_time,
            gpus_per_job=options.slurm_gpus_per_job,
            cpus_per_job=options.slurm_cpus_per_job,
            retries=options.retries,
            force_cpu=options.devices == "cpu",
        )

    def run(
        self,
        units: list[WorkUnit],
        context: EvalContext,
        sink: ResultSink,
        on_progress: Callable[[int], None] | None = None,
    ) -> None:
        device = "cuda:0" if self.gpus_per_job and not self.force_cpu else "cpu"
        # On this machine, no more jobs at once than its cores hold; Slurm queues them itself.
        capacity = max(1, (os.cpu_count() or 1) // self.cpus_per_job) if self.executor == "local" else None
        jobs = SlurmJobs(self._executor(), device, replace(context, device=device), self, capacity)
        run_with_retries(units, jobs, self.retries, sink, on_progress)

    def _executor(self) -> Any:
        import submitit

        executor = submitit.AutoExecutor(folder=self.folder, cluster=self.executor)
        executor.update_parameters(
            name="ganbench",
            timeout_min=self.time_min,
            cpus_per_task=self.cpus_per_job,
            gpus_per_node=self.gpus_per_job,
            **({"slurm_partition": self.partition} if self.partition else {}),
        )
        return executor


class SlurmJobs:
    """Units as submitit jobs: a batch is one job array; finished jobs are found by polling."""

    reports_steps = False  # a job's steps count when it lands

    def __init__(
        self, executor: Any, device: str, context: EvalContext, backend: SlurmBackend, capacity: int | None
    ) -> None:
        self.executor, self.device, self.context = executor, device, context
        self.threads, self.poll_s, self.capacity = backend.cpus_per_job, backend.poll_s, capacity

    def start(self, units: list[WorkUnit]) -> list[Any]:
        args = (self.device, self.context, self.threads)
        jobs: list[Any] = []
        try:
            # A signal waits until the jobs are submitted and known here, so cancel() reaches them.
            with interrupts.deferred(), self._output_to_log():
                if len(units) == 1:
                    jobs = [self.executor.submit(_job, units[0], *args)]
                else:
                    with self.executor.batch():  # one sbatch for the lot: a job array
                        batch = [self.executor.submit(_job, unit, *args) for unit in units]
                    jobs = batch
        except BaseException:
            self.cancel(jobs)
            raise
        return jobs

    @contextlib.contextmanager
    def _output_to_log(self) -> Iterator[None]:
        """submitit's local executor starts a controller process per job, which inherits this
        process's stdout and stderr and prints a traceback there when cancelled: started while
        they point at a log file in the jobs' folder, it writes there (one-line errors, --json)."""
        if self.executor.cluster != "local":
            yield
            return
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        saved = [os.dup(1), os.dup(2)]
        Path(self.executor.folder).mkdir(parents=True, exist_ok=True)
        with open(Path(self.executor.folder) / "controllers.log", "ab") as log:
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            for fd, copy in zip((1, 2), saved, strict=True):
                os.dup2(copy, fd)
                os.close(copy)

    def wait(self, handles: Sequence[Any]) -> set[int]:
        while True:
            done = {i for i, job in enumerate(handles) if job.done()}
            if done:
                return done
            time.sleep(self.poll_s)  # an interrupt lands here, and cancel() stops the jobs

    def results(self, handle: Any, unit: WorkUnit) -> list[RunResult]:
        try:
            outcome = handle.result()
        except Exception as err:  # noqa: BLE001 - submitit: the job raised, was killed or timed out
            error = _job_error(handle, err)
            return [RunResult(spec, "failed", 0, device=self.device, error=error) for spec in unit.specs]
        if isinstance(outcome, BadInput):
            raise outcome
        return outcome

    def cancel(self, handles: Sequence[Any]) -> None:
        for job in handles:
            with contextlib.suppress(Exception):
                job.cancel(check=False)


def _job_error(job: Any, err: Exception) -> str:
    """The error of a job that died: a one-line summary (the job, and the trace's last line), then
    submitit's whole message (the trace or the job's error stream, and the log paths)."""
    text = str(err)
    sections = text.split("-" * 22)  # a FailedJobError: header, the job's traceback, log paths
    body = sections[1] if type(err).__name__ == "FailedJobError" and len(sections) >= 3 else text
    lines = [line.strip() for line in body.splitlines() if line.strip().strip("-")]
    summary = lines[-1] if lines else "no output"
    return f"slurm job {job.job_id}: {type(err).__name__}: {summary}\n{text}"
