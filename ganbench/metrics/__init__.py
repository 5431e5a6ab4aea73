"""Metrics: what each reported number means, and how a dataset kind is evaluated.

``METRICS`` maps a metric name to its ``MetricInfo`` (direction, worst value), which claims and
leaderboards use. ``EVALUATORS`` maps a dataset kind ("toy", "image") to a function

    evaluate(dataset, fake: Tensor[n, *shape], generator: torch.Generator, train: TrainConfig,
             context: EvalContext) -> dict[str, float]

that computes every metric of that kind in one call (torch-fidelity style). Derived stability
metrics (``<metric>_std``, ``<metric>_osc``, ``divergence_rate``, ...) are resolved by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ganbench.registry import METRICS, Registry, UnknownName, did_you_mean

EVALUATORS: Registry[Any] = Registry("evaluator")


@dataclass(frozen=True)
class MetricInfo:
    name: str
    higher_is_better: bool
    worst: float | None = None  # value a diverged run counts as in claims; None: worst observed
    description: str = ""


@dataclass(frozen=True)
class EvalContext:
    """Machine-specific inputs to evaluation that are not part of a run's identity."""

    data_root: str | None = None
    inception_weights: str | None = None
    cache_dir: str | None = None
    device: str = "cpu"
    precision: str = "auto"  # of training forwards: auto | fp32 | bf16 (see train.configure_execution)
    extra: dict[str, Any] = field(default_factory=dict)


def register_metric(
    name: str, higher_is_better: bool, worst: float | None = None, description: str = ""
) -> None:
    METRICS.add(name, MetricInfo(name, higher_is_better, worst, description))


# Per-run and per-variant stability metrics that any claim can name.
register_metric(
    "diverged", False, 1.0, "1 if the run hit a NaN/inf, else 0 (its mean is the divergence rate)"
)
register_metric("divergence_rate", False, 1.0, "share of a variant's runs that diverged")
register_metric(
    "w_quality_corr",
    True,
    -1.0,
    "Spearman correlation over training of the critic's W estimate and the exact w1",
)
DERIVED_SUFFIXES = {
    "_std": "seed-to-seed standard deviation of the final value (per variant; lower is steadier)",
    "_osc": "std of the value over the last evaluations of a run (lower is steadier)",
}


def metric_info(name: str) -> MetricInfo:
    """Direction of a metric, including derived ``<metric>_std`` / ``<metric>_osc`` names."""
    if name in METRICS:
        return METRICS.get(name)
    for suffix, description in DERIVED_SUFFIXES.items():
        base = name.removesuffix(suffix)
        if base != name and base in METRICS:
            return MetricInfo(name, False, None, f"{description} of {base}")
    raise UnknownName(f"unknown metric {name!r}{did_you_mean(name, list(METRICS))}")


def evaluate(dataset: Any, fake: Any, generator: Any, train: Any, context: EvalContext) -> dict[str, float]:
    return EVALUATORS.get(dataset.kind)(dataset, fake, generator, train, context)


def metric_identity(dataset: Any, train: Any, context: EvalContext) -> dict[str, str]:
    """What the numbers were computed with (extractor, weights hash, n_real, n_fake), if the
    evaluator says: recorded as MLflow params and runs.csv columns beside the metrics."""
    identity = getattr(EVALUATORS.get(dataset.kind), "identity", None)
    return identity(dataset, train, context) if identity else {}


# Registers the "toy" (mog) and "image" (images) evaluators and their metrics.
from ganbench.metrics import images, mog  # noqa: E402,F401
