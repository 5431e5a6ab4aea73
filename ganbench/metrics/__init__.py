"""Metrics: each one registered with its computation, in one place.

``@metric(name, ...)`` records a metric's name, direction, worst value, range, scope (one value
per run, or one per variant over its runs), the dataset kinds it applies to, whether reports
show it by default, and the function that computes it. Two stages feed the functions:

- ``stage="samples"``: ``compute(view)`` at each evaluation, where ``view`` is the dataset kind's
  *view* of one member's generated samples (``EVALUATORS``: kind -> view class, e.g.
  ``metrics.toy.ToyView``). A view computes what several metrics share once (the mode histogram,
  the Inception features), torch-fidelity style, and a metric reads its share of it.
- ``stage="training"``: ``compute(trace)`` once at the end of training, from the run's training
  curves (``metrics.training.TrainingTrace``: the critic's estimate, each metric's series).

``evaluate`` and ``training_metrics`` loop over what is registered, so a new metric (built in or
a plugin's) is one decorated function in one file. A compute function returns a float, or None
where the metric does not apply (a critic estimate of a non-Wasserstein loss).

The modules that register the built-ins (toy, images, training) import torch, POT and
torch-fidelity inside their functions only: ``ganbench validate`` and ``list`` read this whole
catalogue without importing them (tests/test_cold_start.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ganbench.registry import EVALUATORS, METRICS, UnknownName, did_you_mean, load_plugins

__all__ = [
    "EVALUATORS",
    "EvalContext",
    "MetricInfo",
    "evaluate",
    "evaluate_each",
    "is_metric",
    "metric",
    "metric_identity",
    "metric_info",
    "metrics_for",
    "training_metrics",
]

SCOPES = ("run", "variant")
SHARE = (0.0, 1.0)
NON_NEGATIVE = (0.0, None)
CORRELATION = (-1.0, 1.0)
STAGES = ("samples", "training", "tables")  # tables: computed over a variant's runs by the leaderboard


@dataclass(frozen=True)
class MetricInfo:
    name: str
    higher_is_better: bool
    worst: float | None = None  # value a diverged run counts as in claims; None: worst observed
    description: str = ""
    # The range the metric can take, (low, high), None for unbounded: intervals and bands in
    # reports are clipped to it (a share is never below 0 or above 1).
    bounds: tuple[float | None, float | None] = (None, None)
    kinds: tuple[str, ...] = ()  # dataset kinds it applies to ("toy", "image"); () = every kind
    scope: str = "run"  # run: one value per run; variant: one per variant, over its runs
    stage: str = "samples"  # see the module docstring
    group: str | None = None  # an optional group a variant turns on (image_metrics: inception, ...)
    shown: bool = True  # in the summary's and the report's tables and figures by default
    compute: Callable[[Any], float | None] | None = None


@dataclass(frozen=True)
class EvalContext:
    """Machine-specific inputs to evaluation that are not part of a run's identity."""

    data_root: str | None = None
    inception_weights: str | None = None
    cache_dir: str | None = None
    device: str = "cpu"
    precision: str = "auto"  # of training forwards: auto | fp32 | bf16 (see train.configure_execution)
    # Where and how often a unit saves a checkpoint (ganbench.checkpoint): every N generator
    # steps, else every S seconds of training; both 0: never.
    checkpoint_dir: str | None = None
    checkpoint_every: int = 0
    checkpoint_seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


def metric(
    name: str,
    *,
    higher_is_better: bool,
    worst: float | None = None,
    description: str = "",
    bounds: tuple[float | None, float | None] = (None, None),
    kinds: tuple[str, ...] = (),
    scope: str = "run",
    stage: str = "samples",
    group: str | None = None,
    shown: bool = True,
) -> Callable[[Callable[[Any], float | None]], Callable[[Any], float | None]]:
    """Register the decorated function as the computation of metric `name` (checked on entry)."""

    def add(compute: Callable[[Any], float | None]) -> Callable[[Any], float | None]:
        info = MetricInfo(
            name,
            higher_is_better,
            worst,
            description,
            (bounds[0], bounds[1]),
            tuple(kinds),
            scope,
            stage,
            group,
            shown,
            compute,
        )
        _check(info)
        METRICS.add(name, info)
        return compute

    return add


def _check(info: MetricInfo) -> None:
    problems = []
    if not info.name or not isinstance(info.name, str) or any(c.isspace() for c in info.name):
        problems.append("a name without spaces")
    if not isinstance(info.higher_is_better, bool):
        problems.append("higher_is_better True or False")
    if info.scope not in SCOPES:
        problems.append(f"scope one of {SCOPES}")
    if info.stage not in STAGES:
        problems.append(f"stage one of {STAGES}")
    low, high = info.bounds
    if low is not None and high is not None and not low < high:
        problems.append("bounds (low, high) with low < high")
    if info.stage != "tables" and not callable(info.compute):
        problems.append("a compute function")
    if problems:
        raise ValueError(f"metric {info.name!r}: expected " + "; ".join(problems))


def metrics_for(kind: str, stage: str, groups: tuple[str, ...] | list[str] = ()) -> list[MetricInfo]:
    """The registered metrics of `stage` that apply to dataset kind `kind`, in registration order
    (which is runs.csv's column order); group members only when their group is turned on."""
    load_plugins()  # an installed plugin's metrics are computed too
    return [
        info
        for info in METRICS.registered()
        if info.stage == stage
        and (not info.kinds or kind in info.kinds)
        and (info.group is None or info.group in groups)
    ]


def shown_metrics() -> list[str]:
    """Per-run metrics the summary and the report show by default, in registration order."""
    return [info.name for info in METRICS.registered() if info.shown and info.scope == "run"]


# Derived names any metric has: (description, scope, stage). `_osc` is computed with the training
# metrics (metrics.training), `_std` by the leaderboard over a variant's seeds.
DERIVED_SUFFIXES = {
    "_std": "seed-to-seed standard deviation of the final value (per variant; lower is steadier)",
    "_osc": "std of the value over the last evaluations of a run (lower is steadier)",
}
DERIVED_SCOPES = {"_std": ("variant", "tables"), "_osc": ("run", "training")}


def metric_info(name: str) -> MetricInfo:
    """Direction of a metric, including derived ``<metric>_std`` / ``<metric>_osc`` names."""
    if name in METRICS:
        return METRICS.get(name)
    for suffix, description in DERIVED_SUFFIXES.items():
        base = name.removesuffix(suffix)
        if base != name and base in METRICS:
            scope, stage = DERIVED_SCOPES[suffix]
            info = METRICS.get(base)
            return MetricInfo(
                name,
                False,
                None,
                f"{description} of {base}",
                NON_NEGATIVE,
                info.kinds,
                scope,
                stage,
                shown=False,
            )
    if load_plugins():  # an installed plugin may register it
        return metric_info(name)
    raise UnknownName(f"unknown metric {name!r}{did_you_mean(name, list(METRICS))}")


def is_metric(name: str) -> bool:
    """Whether `name` is a metric (registered, or a derived ``_std`` / ``_osc`` of one)."""
    try:
        metric_info(name)
    except KeyError:
        return False
    return True


def evaluate(dataset: Any, fake: Any, generator: Any, train: Any, context: EvalContext) -> dict[str, float]:
    """Every registered samples-stage metric of the dataset's kind, from one view of `fake`."""
    view = EVALUATORS.get(dataset.kind)(dataset, fake, generator, train, context)
    groups = tuple(getattr(train, "image_metrics", ()) or ())
    out = {}
    for info in metrics_for(dataset.kind, "samples", groups):
        value = info.compute(view)
        if value is not None:
            out[info.name] = float(value)
    return out


def evaluate_each(jobs: list[Callable[[], dict[str, float]]], kinds: list[str]) -> list[dict[str, float]]:
    """Run evaluation jobs (one per run), in threads, as many as torch's, when every dataset is a
    2-D mixture: its exact W1 (POT) and mode counts release the GIL, and each job draws from its
    own streams, so the numbers do not depend on the threads. Image jobs run one at a time."""
    import torch

    threads = min(torch.get_num_threads(), len(jobs))
    if threads < 2 or any(kind != "toy" for kind in kinds):
        return [job() for job in jobs]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(lambda job: job(), jobs))


def training_metrics(trace: Any, kind: str) -> dict[str, float]:
    """Every registered training-stage metric of a run, from its training trace."""
    out = {}
    for info in metrics_for(kind, "training"):
        value = info.compute(trace)
        if value is not None:
            out[info.name] = float(value)
    return out


def metric_identity(dataset: Any, train: Any, context: EvalContext) -> dict[str, str]:
    """What the numbers were computed with (extractor, weights hash, n_real, n_fake), if the
    evaluator says: recorded as MLflow params and runs.csv columns beside the metrics."""
    identity = getattr(EVALUATORS.get(dataset.kind), "identity", None)  # a view class's staticmethod
    return identity(dataset, train, context) if identity else {}


# The built-in metrics register on import (their modules import nothing heavy at top level).
from ganbench.metrics import images, toy, training  # noqa: E402, F401
