"""Reference rows: what "no better than noise" and "as good as the data" score on each dataset.

Every leaderboard reads its variants against two references evaluated with the same metrics,
settings and seeds as the runs:

- ``noise``: uniform samples over the data's bounding box: a mixture's centres' box widened by
  ``BOX_MARGIN`` of its span on each side (ring8: [-2.5, 2.5]^2, grid25: [-5, 5]^2, the box of the
  references quoted in the literature notes), an image's pixel range. A generator that does not
  beat it has learned nothing useful, yet with the >= 1-sample rule it covers about 5.4/8 ring
  modes and 20.7/25 grid modes (M(1 - exp(-N hq / M)) with hq the modes' share of the box's area);
  its exact W1 is about 0.74 (ring8) and 0.76 (grid25).
- ``data``: fresh samples of the real distribution, the best any generator can score at this
  number of samples (W1 between two finite samples of one distribution is not 0).

They are records like runs (variant ``noise`` / ``data``, status ``reference``), so they are
computed once per output dir, appear in runs.csv and the leaderboards, and claims can name them
(``worse: noise``). Computing one costs one evaluation, no training.
"""

from __future__ import annotations

import time
from functools import partial

import torch

from ganbench.data import Dataset, build_dataset, build_datasets
from ganbench.metrics import EvalContext, evaluate, evaluate_each, metric_identity
from ganbench.metrics.mog import HQ_STDS
from ganbench.results import RunResult
from ganbench.seeding import stream
from ganbench.suite import REFERENCES, RunSpec, Suite

BOX_MARGIN = 0.125  # of the centres' span, on each side


def reference_specs(suite: Suite) -> list[RunSpec]:
    """One spec per reference x dataset x seed, evaluated with the first variant's settings."""
    train = next(iter(suite.variants.values()))
    return [
        RunSpec(suite.name, name, label, params, seed, train)
        for label, params in suite.datasets.items()
        for name in REFERENCES
        for seed in suite.seeds
    ]


def reference_samples(dataset: Dataset, name: str, n: int, generator: torch.Generator) -> torch.Tensor:
    """n samples of reference `name` ("noise" or "data") for `dataset`, from `generator` only."""
    if name == "data":
        return dataset.sample(n, generator)
    if dataset.kind == "toy":
        low, high = dataset.centres.min(dim=0).values, dataset.centres.max(dim=0).values
        margin = torch.clamp(BOX_MARGIN * (high - low), min=HQ_STDS * dataset.std)
        low, high = low - margin, high + margin
    else:  # images are float tensors in [-1, 1]
        low, high = torch.tensor(-1.0), torch.tensor(1.0)
    return low + (high - low) * torch.rand(n, *dataset.shape, generator=generator)


def evaluate_reference(spec: RunSpec, context: EvalContext, dataset: Dataset | None = None) -> RunResult:
    """One reference row (`dataset`: the spec's, when the caller has built it already)."""
    started = time.perf_counter()
    dataset = dataset if dataset is not None else build_dataset(spec.data, context.data_root)
    fake = reference_samples(dataset, spec.variant, spec.train.eval_samples, stream(spec.seed, "reference"))
    metrics = evaluate(dataset, fake, stream(spec.seed, "eval"), spec.train, context)
    return RunResult(
        spec=spec,
        status="reference",
        steps_done=0,
        health="reference",
        metrics=metrics,
        wall_s=time.perf_counter() - started,
        info=metric_identity(dataset, spec.train, context),
    )


def evaluate_references(specs: list[RunSpec], context: EvalContext) -> list[RunResult]:
    """Every reference row, in order, each dataset built once (see metrics.evaluate_each)."""
    datasets = build_datasets([s.data for s in specs], context.data_root)
    jobs = [partial(evaluate_reference, s, context, d) for s, d in zip(specs, datasets, strict=True)]
    return evaluate_each(jobs, [d.kind for d in datasets])
