"""``load_suite``: read (a YAML file or a mapping), apply ``--set`` overrides, validate, check the
names a suite refers to, and expand datasets x variants x seeds into ``RunSpec``s."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ganbench import safe_yaml
from ganbench.errors import BadInput
from ganbench.registry import UnknownName, did_you_mean
from ganbench.suite.data import _resolve_datasets
from ganbench.suite.file import SuiteFile
from ganbench.suite.messages import _validate
from ganbench.suite.spec import RunSpec, Suite
from ganbench.suite.train_config import TrainConfig
from ganbench.suite.variants import _configs, _resolve_variant, _sweep

MAX_RUNS = 100_000  # datasets x configurations x seeds; checked before anything is expanded
DICT_LABEL = "<dict>"  # what errors call a suite given as a mapping instead of a file
REFERENCES = ("noise", "data")  # reserved variant names of the reference rows (see references.py)


def load_suite(
    path: str | Path | Mapping[str, Any],
    *,
    steps: int | None = None,
    seeds: int | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Suite:
    """Read, validate and expand a suite file; any problem raises BadInput naming file and key.

    `path` may also be a mapping holding what the YAML file would (``{"name": ..., "datasets":
    [...], ...}``): it is validated the same way, and errors name it ``<dict>``. `overrides`
    maps dotted key paths into the raw suite data to values (``{"defaults.steps": 100,
    "variants.wgan.optimizer.lr": 1e-4}``, the CLI's ``--set``), applied before validation;
    missing intermediate mappings are created."""
    if isinstance(path, Mapping):
        raw, path = _from_mapping(path), Path(DICT_LABEL)
    else:
        path = Path(path)
        raw = _read_yaml(path)
    if overrides:
        apply_overrides(raw, overrides, path)
    file = _validate(SuiteFile, raw, path, ())
    _check_seeds(file, path)
    for name in file.variants:
        if name in REFERENCES:
            raise BadInput(f"{path}: variants.{name}: {name!r} is reserved for the reference rows")
    sweeps = {name: _sweep(file, name, path) for name in file.variants}
    datasets = _resolve_datasets(file.datasets, path)
    n_seeds = seeds if seeds is not None else (file.seeds if isinstance(file.seeds, int) else len(file.seeds))
    n_configs = sum(sweep.size if sweep else 1 for sweep in sweeps.values())
    if len(datasets) * n_configs * n_seeds > MAX_RUNS:
        raise BadInput(
            f"{path}: {len(datasets)} datasets x {n_configs} configurations x {n_seeds} seeds is more "
            f"than the maximum of {MAX_RUNS:,} runs"
        )
    variants = {
        name: _resolve_variant(file.defaults, body, name, path, steps) for name, body in file.variants.items()
    }
    configs = {
        name: _configs(file, name, sweeps[name], variants[name], path, steps) for name in file.variants
    }
    seed_list = list(range(file.seeds)) if isinstance(file.seeds, int) else list(file.seeds)
    if seeds is not None:
        seed_list = list(range(seeds))
    _check_references(file, variants, datasets, path)
    specs = [
        RunSpec(file.name, variant, label, params, seed, config.train, config.label, config.values)
        for label, params in datasets.items()
        for variant, variant_configs in configs.items()
        for config in variant_configs
        for seed in seed_list
    ]
    return Suite(path, file, variants, configs, datasets, seed_list, specs)


def _check_seeds(file: SuiteFile, path: Path) -> None:
    if isinstance(file.seeds, list):
        if not file.seeds:
            raise BadInput(f"{path}: seeds: expected a count or a non-empty list of seeds")
        seen: set[int] = set()
        for i, seed in enumerate(file.seeds):
            if seed in seen:
                raise BadInput(f"{path}: seeds[{i}]: seed {seed} is listed twice")
            seen.add(seed)


def apply_overrides(raw: dict[str, Any], overrides: Mapping[str, Any], path: Path) -> None:
    """Set each dotted key path of `overrides` in `raw` (in place), creating missing mappings;
    a path that runs into a non-mapping value, or an empty segment, is a BadInput naming it."""
    for key_path, value in overrides.items():
        parts = str(key_path).split(".")
        if not key_path or any(not part for part in parts):
            raise BadInput(f"{path}: {key_path}: --set needs a dotted key path such as defaults.steps")
        node: Any = raw
        for depth, part in enumerate(parts[:-1]):
            child = node.get(part) if isinstance(node, dict) else None
            if child is None:
                child = node[part] = {}
            elif not isinstance(child, dict):
                where = ".".join(parts[: depth + 1])
                raise BadInput(
                    f"{path}: {key_path}: cannot set a key inside {where}, which is "
                    f"{safe_yaml.short(child)}, not a mapping"
                )
            node = child
        node[parts[-1]] = copy.deepcopy(value)


def _from_mapping(suite: Mapping[str, Any]) -> dict[str, Any]:
    """A suite given as a mapping, as plain data: a deep copy (the caller's dict is never changed),
    with the top-level keys checked to be strings as YAML's would be."""
    for key in suite:
        if not isinstance(key, str):
            raise BadInput(f"{DICT_LABEL}: top-level keys must be strings, got {safe_yaml.short(key)}")
    return copy.deepcopy(dict(suite))


def _read_yaml(path: Path) -> dict[str, Any]:
    # Bounded reading and parsing of untrusted files: size, regular files only, UTF-8, duplicate
    # keys, nesting depth and alias expansion (see ganbench.safe_yaml).
    raw = safe_yaml.load(safe_yaml.read_text(path), path)
    if not isinstance(raw, dict):
        raise BadInput(f"{path}: expected a mapping of suite keys at the top level, got {type(raw).__name__}")
    return raw


def _check_references(
    file: SuiteFile, variants: dict[str, TrainConfig], datasets: dict[str, dict[str, Any]], path: Path
) -> None:
    from ganbench.metrics import metric_info  # late: metrics register on import

    def known(value: str, choices: Any, where: str, kind: str) -> None:
        if value not in choices:
            raise BadInput(
                f"{path}: {where}: unknown {kind} {safe_yaml.short(value)}{did_you_mean(value, choices)}"
            )

    if not variants:
        raise BadInput(f"{path}: variants: expected at least one variant")
    for i, claim in enumerate(file.claims):
        known(claim.better, [*variants, *REFERENCES], f"claims[{i}].better", "variant")
        if claim.worse is not None:
            known(claim.worse, [*variants, *REFERENCES], f"claims[{i}].worse", "variant")
        for j, label in enumerate(claim.datasets or []):
            known(label, datasets, f"claims[{i}].datasets[{j}]", "dataset")
        try:
            metric_info(claim.metric)
        except UnknownName as err:
            raise BadInput(f"{path}: claims[{i}].metric: {err}") from None
    if file.tune:
        known(file.tune.variant, variants, "tune.variant", "variant")
        if file.tune.objective.dataset is not None:
            known(file.tune.objective.dataset, datasets, "tune.objective.dataset", "dataset")
