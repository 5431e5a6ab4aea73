"""What `ganbench tune` is told: how each trial runs (a RunOptions, as for `ganbench run`) and
the study around the trials."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ganbench.api import RunOptions
from ganbench.suite import ObjectiveConfig, Suite


@dataclass
class TuneOptions:
    run: RunOptions = field(default_factory=RunOptions)  # every trial runs with these (out: the study's dir)
    steps: int | None = None  # --steps: every variant's generator steps
    seeds: int | None = None  # --seeds: seeds per trial (wins over tune.seeds, which wins over the suite's)
    overrides: dict[str, Any] = field(default_factory=dict)  # --set key.path=value, applied to every trial
    trials: int | None = None  # trials the study should have done in all (None: tune.trials)
    workers: int = 1  # trials at once
    storage: str | None = None  # Optuna storage URL (None: SQLite in the output dir)
    study: str | None = None  # study name (None: <suite>-<variant>)
    per_variant: bool = False  # one study per variant, not only tune.variant
    export: Path | None = None  # write the best values as a YAML mapping of overrides
    objective: ObjectiveConfig | None = None  # None: the suite's tune.objective

    def out_dir(self, suite: Suite) -> Path:
        """Trials, the Optuna and MLflow stores: runs/<suite>-tune unless --out says otherwise."""
        return Path(self.run.out) if self.run.out else Path("runs") / f"{suite.name}-tune"

    def storage_url(self, out: Path) -> str:
        return self.storage or f"sqlite:///{(out / 'optuna.db').resolve()}"

    def study_name(self, suite: Suite, variant: str) -> str:
        """--study names the study; with --per-variant (several studies) it is their prefix."""
        if self.study and not self.per_variant:
            return self.study
        return f"{self.study or suite.name}-{variant}"
