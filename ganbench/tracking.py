"""MLflow records: one parent run per suite invocation, one child run per GAN run.

Only the parent process talks to MLflow (workers return results), so the SQLite store never sees
concurrent writers, and every child is logged in a few ``log_batch`` calls: per-call logging
costs about 5 ms a metric on SQLite.
"""

from __future__ import annotations

import contextlib
import logging
import os
import platform
import subprocess
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

from ganbench.train import RunResult

BATCH = 900  # MLflow accepts at most 1000 metrics and 100 params per log_batch
PARAM_BATCH = 90
PACKAGES = ("ganbench", "torch", "torchvision", "numpy", "scipy", "mlflow", "torch-fidelity")


def default_uri(out_dir: Path) -> str:
    """--tracking-uri wins, then MLFLOW_TRACKING_URI, then an SQLite file inside the output dir."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{(out_dir / 'mlflow.db').resolve()}"


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = str(value)
    return flat


def provenance() -> dict[str, str]:
    """Git commit and package versions, recorded with every run."""
    tags = {"python": platform.python_version(), "platform": platform.platform()}
    try:
        root = Path(__file__).resolve().parent.parent
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True, timeout=5
        )
        tags["git_commit"] = commit.stdout.strip() or "unknown"
        tags["git_dirty"] = str(bool(dirty.stdout.strip()))
    except (OSError, subprocess.SubprocessError):
        tags["git_commit"] = "unknown"
    for package in PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            tags[f"version.{package}"] = metadata.version(package)
    return tags


class Tracker:
    def __init__(self, uri: str, experiment: str, artifact_root: Path) -> None:
        from mlflow.tracking import MlflowClient

        logging.getLogger("mlflow").setLevel(logging.WARNING)  # no schema-migration chatter
        # An explicit client, never mlflow.set_tracking_uri: that also sets MLFLOW_TRACKING_URI
        # in the environment, and the next suite run in this process would log into this store.
        self.client = MlflowClient(tracking_uri=uri)
        found = self.client.get_experiment_by_name(experiment)
        if found is None:
            # Created here, in the parent, before any worker starts: concurrent first use of a
            # fresh SQLite store fails in its schema migration.
            location = artifact_root.resolve().as_uri() if uri.startswith("sqlite") else None
            self.experiment_id = self.client.create_experiment(experiment, artifact_location=location)
        else:
            self.experiment_id = found.experiment_id
        self.tags = provenance()
        self.parent_id: str | None = None

    def start_parent(self, suite: str, params: dict[str, str]) -> str:
        run = self.client.create_run(
            self.experiment_id, run_name=f"{suite}", tags={"suite": suite, **self.tags}
        )
        self.parent_id = run.info.run_id
        self._log(run.info.run_id, params=params)
        return self.parent_id

    def end_parent(self, status: str = "FINISHED") -> None:
        if self.parent_id:
            self.client.set_terminated(self.parent_id, status)

    def log_run(self, result: RunResult, artifacts: list[Path]) -> str:
        spec = result.spec
        tags = {
            "suite": spec.suite,
            "run_id": spec.run_id,
            "variant": spec.variant,
            "dataset": spec.dataset,
            "seed": str(spec.seed),
            "status": result.status,
            "device": result.device,
            "precision": result.precision,
            **self.tags,
        }
        if self.parent_id:
            tags["mlflow.parentRunId"] = self.parent_id
        if result.error:
            tags["error"] = result.error[:5000]
        run = self.client.create_run(
            self.experiment_id, run_name=f"{spec.variant}/{spec.dataset}/seed{spec.seed}", tags=tags
        )
        run_id = run.info.run_id
        params = flatten(spec.resolved()) | {f"metric_identity.{k}": v for k, v in result.info.items()}
        self._log(run_id, params=params, result=result)
        for path in artifacts:
            self.client.log_artifact(run_id, str(path))
        self.client.set_terminated(run_id, "FAILED" if result.status == "failed" else "FINISHED")
        return run_id

    def _log(self, run_id: str, params: dict[str, str], result: RunResult | None = None) -> None:
        from mlflow.entities import Metric, Param

        items = [Param(k, v[:6000]) for k, v in params.items()]
        for i in range(0, len(items), PARAM_BATCH):
            self.client.log_batch(run_id, params=items[i : i + PARAM_BATCH])
        if result is None:
            return
        now = 0  # fixed timestamps keep records reproducible; steps carry the order
        points = [
            Metric(name, value, now, step)
            for name, series in result.history.items()
            for step, value in series
            if value == value  # MLflow rejects NaN on some stores; a missing point says the same
        ]
        final_step = result.steps_done
        points += [
            Metric(f"final.{name}", value, now, final_step)
            for name, value in result.metrics.items()
            if value == value
        ]
        points.append(Metric("wall_s", result.wall_s, now, final_step))
        for i in range(0, len(points), BATCH):
            self.client.log_batch(run_id, metrics=points[i : i + BATCH])


def artifact_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="ganbench-artifacts-"))
