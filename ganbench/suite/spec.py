"""An expanded suite: ``RunSpec`` (one run, fully resolved, its id the hash of what decides its
numbers), ``Config`` (one configuration of a variant) and ``Suite``."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from ganbench.suite.file import SuiteFile
from ganbench.suite.train_config import TrainConfig


@dataclass(frozen=True)
class RunSpec:
    """One training run, fully resolved. Everything that changes the numbers is in here."""

    suite: str
    variant: str
    dataset: str  # label
    data: dict[str, Any]  # resolved dataset parameters, `name` included
    seed: int
    train: TrainConfig
    config: str = ""  # label of the sweep configuration ("" when the variant is not swept)
    swept: dict[str, Any] = field(default_factory=dict)  # key path -> value of this configuration

    def resolved(self) -> dict[str, Any]:
        """The spec as plain data; the run id hashes this (the suite name is only a label)."""
        return {
            "variant": self.variant,
            "dataset": self.dataset,
            "data": self.data,
            "seed": self.seed,
            "train": self.train.model_dump(mode="json"),
        }

    @cached_property
    def run_id(self) -> str:
        canonical = json.dumps(self.resolved(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Config:
    """One configuration of a variant: the whole variant when it is not swept."""

    label: str
    values: dict[str, Any]  # swept key path -> value
    train: TrainConfig


@dataclass(frozen=True)
class Suite:
    path: Path
    file: SuiteFile
    variants: dict[str, TrainConfig]  # each variant without its sweep
    configs: dict[str, list[Config]]  # each variant's configurations (one when not swept)
    datasets: dict[str, dict[str, Any]]  # label -> resolved params
    seeds: list[int]
    specs: list[RunSpec] = field(repr=False)

    @property
    def name(self) -> str:
        return self.file.name
