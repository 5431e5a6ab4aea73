"""Metrics: what each reported number means, and how a dataset kind is evaluated.

``METRICS`` maps a metric name to its ``MetricInfo`` (direction, worst value), which claims and
leaderboards use. ``EVALUATORS`` maps a dataset kind ("toy", "image") to a function

    evaluate(dataset, fake: Tensor[n, *shape], generator: torch.Generator, train: TrainConfig,
             context: EvalContext) -> dict[str, float]

that computes every metric of that kind in one call (torch-fidelity style). Derived stability
metrics (``<metric>_std``, ``<metric>_osc``, ``divergence_rate``, ...) are resolved by name.

This module is the catalogue of the built-in metrics (names, directions, ranges, meanings) and
imports neither torch nor the evaluators: those load on first use (see ganbench.registry).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ganbench.registry import EVALUATORS, METRICS, UnknownName, did_you_mean, load_plugins

__all__ = ["EVALUATORS", "EvalContext", "MetricInfo", "evaluate", "metric_identity", "metric_info"]


@dataclass(frozen=True)
class MetricInfo:
    name: str
    higher_is_better: bool
    worst: float | None = None  # value a diverged run counts as in claims; None: worst observed
    description: str = ""
    # The range the metric can take, (low, high), None for unbounded: intervals and bands in
    # reports are clipped to it (a share is never below 0 or above 1).
    bounds: tuple[float | None, float | None] = (None, None)


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
    name: str,
    higher_is_better: bool,
    worst: float | None = None,
    description: str = "",
    bounds: tuple[float | None, float | None] = (None, None),
) -> None:
    METRICS.add(name, MetricInfo(name, higher_is_better, worst, description, tuple(bounds)))


SHARE = (0.0, 1.0)
NON_NEGATIVE = (0.0, None)
CORRELATION = (-1.0, 1.0)

# Per-run and per-variant stability metrics that any claim can name.
register_metric(
    "diverged",
    False,
    1.0,
    "1 if the run hit a NaN/inf, else 0 (its mean is the divergence rate)",
    SHARE,
)
register_metric("divergence_rate", False, 1.0, "share of a variant's runs that diverged", SHARE)
register_metric(
    "w_quality_corr",
    True,
    -1.0,
    "Spearman correlation over training of the critic's W estimate and the exact w1",
    CORRELATION,
)

# 2-D mixtures (evaluated by ganbench.metrics.mog).
# modes_fair: a mode counts when it holds at least this fraction of its fair share (n / M) of all
# samples as high-quality samples. A uniform cloud puts ~2 of 2,500 samples within 3 std of each
# mode of ring8 or grid25 (fair share 312 or 100, so 31 or 10 needed): it scores 0 where VEEGAN's
# >= 1-sample rule gives it 5.4/8 and 20.7/25. An exact sampler holds ~99% of its share per mode.
FAIR_SHARE_FRACTION = 0.1
register_metric(
    "modes_covered",
    True,
    0.0,
    "modes with at least min_count high-quality samples nearest to them",
    NON_NEGATIVE,
)
register_metric(
    "modes_fair",
    True,
    0.0,
    f"modes holding >= {FAIR_SHARE_FRACTION:.0%} of their fair share (n / M) of samples as high-quality samples",
    NON_NEGATIVE,
)
register_metric("hq_share", True, 0.0, "share of samples within 3 std of their nearest mode", SHARE)
register_metric(
    "reverse_kl",
    False,
    None,
    "KL(histogram of high-quality samples over the modes || uniform)",
    NON_NEGATIVE,
)
register_metric(
    "w1", False, None, "exact Wasserstein-1 distance between generated and fresh real points", NON_NEGATIVE
)
register_metric("critic_w", False, None, "the critic's Wasserstein estimate, mean D(real) - mean D(fake)")
register_metric(
    "critic_w1_ratio", True, 0.0, "the critic's estimate / the exact w1, median over the last evaluations"
)

# Images (evaluated by ganbench.metrics.images).
register_metric(
    "fid", False, None, "Fréchet Inception Distance to the held-out split (torch-fidelity)", NON_NEGATIVE
)
register_metric("is_mean", True, 1.0, "Inception Score, mean over 10 splits", (1.0, None))
register_metric("is_std", False, None, "Inception Score, std over 10 splits", NON_NEGATIVE)
register_metric(  # the unbiased MMD^2 estimate can be slightly negative
    "kid_mean", False, None, "Kernel Inception Distance (unbiased MMD^2, cubic kernel), mean over subsets"
)
register_metric("kid_std", False, None, "Kernel Inception Distance, std over subsets", NON_NEGATIVE)
register_metric(
    "precision",
    True,
    0.0,
    "share of generated images inside the real Inception-feature manifold (k-NN balls, k = prdc_k)",
    SHARE,
)
register_metric(
    "recall",
    True,
    0.0,
    "share of real images inside the generated Inception-feature manifold (k-NN balls, k = prdc_k)",
    SHARE,
)
register_metric(
    "density",
    True,
    0.0,
    "mean number of real Inception-feature k-NN balls holding a generated image, over k (Naeem et al.; ~1 when matched)",
    NON_NEGATIVE,
)
register_metric(
    "coverage",
    True,
    0.0,
    "share of real images whose Inception-feature k-NN ball holds a generated image (Naeem et al.)",
    SHARE,
)
register_metric(
    "classifier_fid",
    False,
    None,
    "Fréchet distance on the features of ganbench's own classifier",
    NON_NEGATIVE,
)
register_metric(
    "classes_covered",
    True,
    0.0,
    "classes predicted for at least 10% of their uniform share of samples",
    NON_NEGATIVE,
)
register_metric(
    "class_kl", False, None, "KL(predicted-class histogram || uniform); 0 is balanced", NON_NEGATIVE
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
            return MetricInfo(name, False, None, f"{description} of {base}", NON_NEGATIVE)
    if load_plugins():  # an installed plugin may register it
        return metric_info(name)
    raise UnknownName(f"unknown metric {name!r}{did_you_mean(name, list(METRICS))}")


def evaluate(dataset: Any, fake: Any, generator: Any, train: Any, context: EvalContext) -> dict[str, float]:
    return EVALUATORS.get(dataset.kind)(dataset, fake, generator, train, context)


def metric_identity(dataset: Any, train: Any, context: EvalContext) -> dict[str, str]:
    """What the numbers were computed with (extractor, weights hash, n_real, n_fake), if the
    evaluator says: recorded as MLflow params and runs.csv columns beside the metrics."""
    identity = getattr(EVALUATORS.get(dataset.kind), "identity", None)
    return identity(dataset, train, context) if identity else {}
