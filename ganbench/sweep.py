"""Hyperparameter sweeps: a variant's `sweep:` expanded into configurations (sub-variants).

    sweep:
      grid:   {clip: [0.01, 0.1], optimizer.lr: [1.0e-4, 5.0e-4]}    # every combination
      random: {n_critic: {int: [1, 10]}, optimizer.betas: {choice: [[0.5, 0.999], [0.0, 0.9]]}}
      samples: 20    # draws of the random axes per grid point
      seed: 0

Axes are dotted key paths into the variant. Random axes use the distribution grammar of
`tune.space` (log_uniform, uniform, int, choice). Continuous draws are rounded to 4 significant
digits, so a configuration's label (`clip=0.1,optimizer.lr=0.0005`) is exactly what it trains
with, and the same sweep (same seed) always expands to the same configurations and run ids.
"""

from __future__ import annotations

import itertools
import json
import math
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

DISTRIBUTIONS = ("log_uniform", "uniform", "int", "choice")
SIGNIFICANT_DIGITS = 4

Distribution = dict[Literal["log_uniform", "uniform", "int", "choice"], list[Any]]


def check_distribution(spec: dict[str, list[Any]]) -> str | None:
    """What is wrong with one `{kind: bounds}` entry, or None (shared with `tune.space`)."""
    if len(spec) != 1:
        return f"expected exactly one of {', '.join(DISTRIBUTIONS)}, got {sorted(spec)}"
    ((kind, bounds),) = spec.items()
    if kind == "choice":
        return None if bounds else "choice: expected at least one value"
    if len(bounds) != 2 or not all(_is_number(b) for b in bounds) or not bounds[0] < bounds[1]:
        return f"{kind}: expected [low, high] with low < high, got {bounds!r}"
    if kind == "int" and not all(isinstance(b, int) for b in bounds):
        return f"int: expected integer bounds, got {bounds!r}"
    if kind == "log_uniform" and bounds[0] <= 0:
        return f"log_uniform: expected a low bound > 0, got {bounds[0]!r}"
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


class SweepConfig(BaseModel):
    """A variant's (or `defaults`') `sweep:`: its configurations, each a sub-variant."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    grid: dict[str, Annotated[list[Any], Field(min_length=1)]] = Field(
        {}, description="key path -> list of values; every combination of the grid axes is a configuration"
    )
    random: dict[str, Distribution] = Field(
        {},
        description="key path -> {log_uniform|uniform|int: [low, high]} or {choice: [...]} (as tune.space)",
    )
    samples: Annotated[int, Field(ge=1, le=100_000)] = Field(
        1, description="draws of the random axes per grid point"
    )
    seed: Annotated[int, Field(ge=0)] = Field(0, description="seed of the random draws")

    @model_validator(mode="after")
    def _check(self) -> SweepConfig:
        if not self.grid and not self.random:
            raise ValueError("expected at least one axis under `grid` or `random`")
        both = set(self.grid) & set(self.random)
        if both:
            raise ValueError(f"key path {sorted(both)[0]!r} is both a grid and a random axis")
        for path, spec in self.random.items():
            problem = check_distribution(spec)
            if problem:
                raise ValueError(f"random.{path}: {problem}")
        if self.samples > 1 and not self.random:
            raise ValueError("`samples` draws random axes, but there are none")
        return self

    @property
    def axes(self) -> list[str]:
        return [*self.grid, *self.random]

    @property
    def size(self) -> int:
        """Number of configurations (at most: repeated random draws are dropped), known before
        anything is expanded."""
        return math.prod(len(v) for v in self.grid.values()) * (self.samples if self.random else 1)


def expand(sweep: SweepConfig) -> list[dict[str, Any]]:
    """Every configuration as {key path: value}, grid axes first, in a reproducible order.

    A random draw that repeats an earlier configuration (likely with `int` or `choice` axes) is
    dropped: it would be the same runs, with the same run ids, twice."""
    rng = np.random.default_rng(sweep.seed)
    configs: dict[str, dict[str, Any]] = {}
    for point in itertools.product(*sweep.grid.values()):
        fixed = dict(zip(sweep.grid, point, strict=True))
        for _ in range(sweep.samples if sweep.random else 1):
            drawn = {path: draw(spec, rng) for path, spec in sweep.random.items()}
            configs.setdefault(label({**fixed, **drawn}), {**fixed, **drawn})
    return list(configs.values())


def draw(spec: Distribution, rng: np.random.Generator) -> Any:
    ((kind, bounds),) = spec.items()
    if kind == "choice":
        return bounds[int(rng.integers(len(bounds)))]
    if kind == "int":
        return int(rng.integers(bounds[0], bounds[1] + 1))
    if kind == "log_uniform":
        value = math.exp(rng.uniform(math.log(bounds[0]), math.log(bounds[1])))
    else:
        value = rng.uniform(bounds[0], bounds[1])
    return float(f"{value:.{SIGNIFICANT_DIGITS}g}")


def label(values: dict[str, Any]) -> str:
    """A stable, readable name of one configuration: `clip=0.1,optimizer.lr=0.0005`."""
    return ",".join(f"{path}={_text(value)}" for path, value in values.items())


def _text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.{SIGNIFICANT_DIGITS + 2}g}"
    return json.dumps(value, separators=(",", ":")) if isinstance(value, (list, tuple, dict)) else str(value)


def nested(flat: dict[str, Any]) -> dict[str, Any]:
    """{"optimizer.lr": 1e-3} -> {"optimizer": {"lr": 1e-3}}"""
    tree: dict[str, Any] = {}
    for path, value in flat.items():
        node = tree
        *parents, leaf = path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return tree
