"""The study in MLflow: one parent run per study (run name = the study's), and each trial's
suite run (the parent `run_suite` starts) nested under it, renamed `trial <n>` and given the
trial's values as params and its objective value as a metric. A trial that trained nothing (all
its runs reused) gets a run of its own under the study, tagged with the dir whose runs it reused.

A resumed study (same storage, same name) reopens its parent run, so all its trials stay under
one run, whichever invocation ran them.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

from ganbench.tracking import Tracker
from ganbench.tune.trial import TrialResult

KIND = "ganbench.kind"


class StudyRun:
    def __init__(self, uri: str, experiment: str, out: Path, study: str, storage: str) -> None:
        self.tracker = Tracker(uri, experiment, artifact_root=out / "mlartifacts", out_dir=out)
        self.client, self.experiment = self.tracker.client, self.tracker.experiment_id
        self.study, self.storage = study, storage
        self.id = ""

    def start(self, params: dict[str, Any]) -> str:
        found = self._existing()
        if found is not None:
            self.id = found.info.run_id
            self.client.update_run(self.id, status="RUNNING")
            return self.id
        tags = {
            **self.tracker.tags,
            KIND: "study",
            "ganbench.study": self.study,
            "ganbench.storage": self.storage,
        }
        self.id = self.client.create_run(self.experiment, run_name=self.study, tags=tags).info.run_id
        for key, value in params.items():
            self.client.log_param(self.id, key, str(value)[:6000])
        return self.id

    def _existing(self) -> Any:
        for run in self.client.search_runs([self.experiment], f"tags.`{KIND}` = 'study'", max_results=1000):
            tags = run.data.tags
            if tags.get("ganbench.study") == self.study and tags.get("ganbench.storage") == self.storage:
                return run
        return None

    def log_trial(
        self,
        number: int,
        result: TrialResult,
        params: dict[str, Any],
        value: tuple[str, float] | None,
        since_ms: int,
    ) -> str:
        """Nest, name and annotate trial `number`'s suite run; `value` is (metric, value)."""
        run_id = self._suite_run(result, since_ms) or self._own_run(number, result.folder)
        self.client.update_run(run_id, name=f"trial {number}")
        self.client.set_tag(run_id, "optuna.trial", str(number))
        for key, param in params.items():
            self.client.log_param(run_id, key, json.dumps(param) if isinstance(param, list) else str(param))
        if value is not None and math.isfinite(value[1]):
            self.client.log_metric(run_id, value[0], value[1], step=number)
            self.client.log_metric(self.id, value[0], value[1], step=number)  # the study's curve
        return run_id

    def _suite_run(self, result: TrialResult, since_ms: int) -> str | None:
        """The suite run this trial's invocation of run_suite started: the parent of the GAN runs
        it trained (only one invocation holds a trial dir at a time)."""
        if not result.trained:
            return None
        parents = {self.client.get_run(i).data.tags.get("mlflow.parentRunId") for i in result.mlflow_ids}
        for parent in filter(None, parents):
            run = self.client.get_run(parent)
            if run.data.tags.get("mlflow.parentRunId") == self.id and (run.info.start_time or 0) >= since_ms:
                return parent
        return None

    def _own_run(self, number: int, folder: Path) -> str:
        tags = {
            **self.tracker.tags,
            "mlflow.parentRunId": self.id,
            KIND: "trial",
            "ganbench.reused_runs_of": str(folder.resolve()),
        }
        run_id = self.client.create_run(self.experiment, run_name=f"trial {number}", tags=tags).info.run_id
        self.client.set_terminated(run_id, "FINISHED")
        return run_id

    def end(self, status: str, best: dict[str, Any] | None = None) -> None:
        """Close the study's run; its tags hold the best values so far (params are write-once)."""
        if not self.id:
            return
        for key, value in (best or {}).items():
            self.client.set_tag(self.id, f"best.{key}", str(value))
        self.client.set_terminated(self.id, status, end_time=int(time.time() * 1000))
