"""Datasets. A registered dataset factory takes its parameters as keyword arguments (plus an
optional ``data_root``, which is machine-specific and so never part of a run id) and returns an
object following ``Dataset``. Presets such as ``ring8`` are registered as dicts of parameters.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from ganbench.data import (
    images,  # noqa: F401  (registers mnist, cifar10, digits, ...)
    toy,  # noqa: F401  (registers ring, grid, ring8, grid25)
)

if TYPE_CHECKING:
    import torch


class Dataset(Protocol):
    kind: str  # "toy" (points in R^d, scored by mode coverage) or "image" (scored by FID & co.)
    shape: tuple[int, ...]  # shape of one sample, e.g. (2,) or (1, 28, 28)

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """n training samples, float32 on the CPU, drawn with `generator` only."""
        ...


def build_dataset(params: dict, data_root: str | None = None) -> Dataset:
    """Resolved parameters (as in RunSpec.data) -> dataset object."""
    import inspect

    from ganbench.registry import DATASETS

    factory = DATASETS.get(params["name"])
    kwargs = {k: v for k, v in params.items() if k != "name"}
    if "data_root" in inspect.signature(factory).parameters:
        kwargs["data_root"] = data_root
    return factory(**kwargs)


def build_datasets(params: list[dict], data_root: str | None = None) -> list[Dataset]:
    """One dataset per entry of `params`; entries with equal parameters share one object, so a
    dataset is loaded (from disk, for images) once however many runs use it."""
    built: dict[str, Dataset] = {}
    keys = [repr(sorted(p.items())) for p in params]
    for key, p in zip(keys, params, strict=True):
        if key not in built:
            built[key] = build_dataset(p, data_root)
    return [built[key] for key in keys]
