"""Suite files: strict schema, YAML loading with key paths in errors, expansion into RunSpecs.

A suite is datasets x variants x seeds. Each variant is ``defaults`` deep-merged with the
variant's own keys and validated as a ``TrainConfig``; the cross product becomes frozen
``RunSpec``s whose ``run_id`` is the hash of everything that determines the result.
"""

from __future__ import annotations

import copy
import hashlib
import inspect
import json
import typing
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ganbench.errors import BadInput
from ganbench.registry import ARCHS, DATASETS, LOSSES, OPTIMIZERS, UnknownName, did_you_mean, load_builtins

PositiveFloat = Annotated[float, Field(gt=0)]
PositiveInt = Annotated[int, Field(gt=0)]
Unit = Annotated[float, Field(ge=0, lt=1)]


def registered(registry: Any, name: str) -> str:
    """Validator body: pydantic reports ValueErrors with their key path, not KeyErrors."""
    try:
        registry.get(name)
    except UnknownName as err:
        raise ValueError(str(err)) from None
    return name


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OptimizerConfig(Strict):
    name: str = "adam"
    lr: PositiveFloat = 1e-4
    betas: tuple[Unit, Unit] = (0.5, 0.999)  # adam
    momentum: Unit = 0.0  # sgd
    alpha: Unit = 0.99  # rmsprop smoothing constant (torch's default)
    eps: PositiveFloat = 1e-8
    weight_decay: Annotated[float, Field(ge=0)] = 0.0

    @field_validator("name")
    @classmethod
    def _known(cls, name: str) -> str:
        return registered(OPTIMIZERS, name)


class ModelConfig(Strict):
    arch: str = "mlp"
    z_dim: PositiveInt = 2
    hidden: PositiveInt = 128  # MLP width
    depth: PositiveInt = 3  # MLP hidden layers
    activation: Literal["relu", "leaky_relu", "elu", "tanh"] = "relu"
    batch_norm: bool = False  # in the generator
    width: PositiveInt = 64  # base channel count of conv archs
    spectral_norm: bool = False  # in the discriminator

    @field_validator("arch")
    @classmethod
    def _known(cls, arch: str) -> str:
        return registered(ARCHS, arch)


class TrainConfig(Strict):
    """One variant after ``defaults`` are merged in: everything that shapes a training run."""

    loss: str = "ns"
    n_critic: PositiveInt = 1
    clip: PositiveFloat | None = None  # weight clipping of the critic (WGAN)
    gp_weight: Annotated[float, Field(ge=0)] | None = None  # None: the loss's own default
    optimizer: OptimizerConfig = OptimizerConfig()
    optimizer_g: OptimizerConfig | None = None  # None: `optimizer`
    optimizer_d: OptimizerConfig | None = None
    steps: PositiveInt = 5000  # generator updates
    batch_size: PositiveInt = 64
    eval_every: PositiveInt = 500
    eval_samples: PositiveInt = 2500
    min_count: PositiveInt = 1  # high-quality samples a mode needs to count as covered
    w1_points: PositiveInt = 1000  # points per side of the exact Wasserstein-1 distance
    ema: Unit | None = None  # decay of an EMA copy of G's weights used for evaluation
    image_metrics: list[Literal["inception", "classifier"]] = ["classifier"]  # image metric groups to compute
    model: ModelConfig = ModelConfig()

    @field_validator("loss")
    @classmethod
    def _known_loss(cls, loss: str) -> str:
        return registered(LOSSES, loss)

    @model_validator(mode="after")
    def _resolve(self) -> TrainConfig:
        # Make the resolved spec explicit, so the run id changes whenever behaviour does.
        updates: dict[str, Any] = {}
        if self.optimizer_g is None:
            updates["optimizer_g"] = self.optimizer
        if self.optimizer_d is None:
            updates["optimizer_d"] = self.optimizer
        if self.gp_weight is None:
            updates["gp_weight"] = float(getattr(LOSSES.get(self.loss), "default_gp_weight", 0.0))
        if self.eval_every > self.steps:
            updates["eval_every"] = self.steps
        for key, value in updates.items():
            object.__setattr__(self, key, value)
        return self


class ClaimConfig(Strict):
    """`better` beats `worse` on `metric` (two samples), or `better` beats `threshold` (one sample,
    e.g. "the critic's estimate correlates positively with quality": w_quality_corr > 0)."""

    id: str
    text: str = ""
    metric: str
    better: str
    worse: str | None = None
    threshold: float | None = None
    datasets: list[str] | None = None  # dataset labels; None: all
    expect: Literal["supported", "contradicted", "inconclusive"] = "supported"
    test: Literal["mannwhitney", "welch", "bootstrap"] = "mannwhitney"
    alpha: Annotated[float, Field(gt=0, lt=1)] = 0.05

    @model_validator(mode="after")
    def _one_reference(self) -> ClaimConfig:
        if (self.worse is None) == (self.threshold is None):
            raise ValueError("give exactly one of `worse` (a variant) and `threshold` (a value)")
        return self


class ToleranceConfig(Strict):
    """Band around a baseline mean that a regression check accepts (the widest given wins)."""

    metrics: list[str] | None = None  # None: every metric in the baseline
    absolute: Annotated[float, Field(ge=0)] | None = None
    relative: Annotated[float, Field(ge=0)] | None = None
    k_se: Annotated[float, Field(ge=0)] | None = None  # k standard errors of the baseline mean

    @model_validator(mode="after")
    def _some_band(self) -> ToleranceConfig:
        if self.absolute is None and self.relative is None and self.k_se is None:
            raise ValueError("give at least one of absolute, relative, k_se")
        return self


class ObjectiveConfig(Strict):
    metric: str
    dataset: str | None = None  # None: mean over the suite's datasets


class TuneConfig(Strict):
    variant: str
    objective: ObjectiveConfig
    # key path into the variant (e.g. optimizer.lr) -> {log_uniform|uniform|int: [lo, hi]} or {choice: [...]}
    space: dict[str, dict[Literal["log_uniform", "uniform", "int", "choice"], list[Any]]]
    trials: PositiveInt = 20
    seeds: PositiveInt | None = None  # seeds per trial; None: the suite's


class SuiteFile(Strict):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")]
    description: str = ""
    defaults: dict[str, Any] = {}
    datasets: list[str | dict[str, Any]]
    seeds: PositiveInt | list[Annotated[int, Field(ge=0)]] = 5
    variants: dict[str, dict[str, Any]]
    claims: list[ClaimConfig] = []
    tolerance: ToleranceConfig | None = None
    tune: TuneConfig | None = None
    data_root: str | None = None  # image datasets; CLI --data-root and GANBENCH_DATA_ROOT win
    inception_weights: str | None = None  # offline Inception weights file for FID/IS/KID


@dataclass(frozen=True)
class RunSpec:
    """One training run, fully resolved. Everything that changes the numbers is in here."""

    suite: str
    variant: str
    dataset: str  # label
    data: dict[str, Any]  # resolved dataset parameters, `name` included
    seed: int
    train: TrainConfig

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
class Suite:
    path: Path
    file: SuiteFile
    variants: dict[str, TrainConfig]
    datasets: dict[str, dict[str, Any]]  # label -> resolved params
    seeds: list[int]
    specs: list[RunSpec] = field(repr=False)

    @property
    def name(self) -> str:
        return self.file.name


# ----------------------------------------------------------------------------- loading


def load_suite(path: str | Path, *, steps: int | None = None, seeds: int | None = None) -> Suite:
    """Read, validate and expand a suite file; any problem raises BadInput naming file and key."""
    load_builtins()
    path = Path(path)
    raw = _read_yaml(path)
    file = _validate(SuiteFile, raw, path, ())
    variants = {
        name: _resolve_variant(file.defaults, body, name, path, steps) for name, body in file.variants.items()
    }
    datasets = _resolve_datasets(file.datasets, path)
    seed_list = list(range(file.seeds)) if isinstance(file.seeds, int) else list(file.seeds)
    if seeds is not None:
        seed_list = list(range(seeds))
    _check_references(file, variants, datasets, path)
    specs = [
        RunSpec(file.name, variant, label, params, seed, train)
        for label, params in datasets.items()
        for variant, train in variants.items()
        for seed in seed_list
    ]
    return Suite(path, file, variants, datasets, seed_list, specs)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except OSError as err:
        raise BadInput(f"{path}: cannot read suite file: {err.strerror or err}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise BadInput(f"{path}{where}: YAML syntax error: {problem}") from None
    if not isinstance(raw, dict):
        raise BadInput(f"{path}: expected a mapping of suite keys at the top level, got {type(raw).__name__}")
    return raw


def _resolve_variant(
    defaults: dict[str, Any], body: dict[str, Any], name: str, path: Path, steps: int | None
) -> TrainConfig:
    merged = deep_merge(defaults, body)
    if steps is not None:
        merged["steps"] = steps
    try:
        return TrainConfig.model_validate(merged)
    except ValidationError as err:
        # Blame the variant if it set the offending key, else the defaults it inherited.
        first = err.errors()[0]["loc"]
        prefix = ("variants", name) if _has_key(body, first) else ("defaults",)
        raise BadInput(_format_error(err, path, prefix, TrainConfig)) from None


def _has_key(body: dict[str, Any], loc: tuple[Any, ...]) -> bool:
    node: Any = body
    for part in loc:
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def resolve_dataset(entry: str | dict[str, Any], where: str) -> tuple[str, dict[str, Any]]:
    """A registry name or ``{name: ..., **params}`` -> (label, full parameters).

    Presets (``ring8``) are registered as dicts of parameters of a parametric dataset (``ring``),
    so the resolved form is always explicit.
    """
    if isinstance(entry, str):
        entry = {"name": entry}
    entry = dict(entry)
    label = entry.pop("label", None)
    name = entry.get("name")
    if not isinstance(name, str):
        raise BadInput(f"{where}.name: expected a dataset name, got {name!r}")
    try:
        factory = DATASETS.get(name)
    except UnknownName as err:
        raise BadInput(f"{where}.name: {err}") from None
    if isinstance(factory, dict):  # a preset
        label = label or name
        params = {**factory, **{k: v for k, v in entry.items() if k != "name"}}
        factory = DATASETS.get(params["name"])
    else:
        label = label or name
        params = entry
    return label, _bind_params(factory, params, where)


def _bind_params(factory: Any, params: dict[str, Any], where: str) -> dict[str, Any]:
    signature = inspect.signature(factory)
    accepted = [p for p in signature.parameters if p != "data_root"]
    hints = typing.get_type_hints(factory)
    bound = {"name": params["name"]}
    for key, value in params.items():
        if key == "name":
            continue
        if key not in accepted:
            raise BadInput(f"{where}.{key}: unknown dataset parameter{did_you_mean(key, accepted)}")
        expected = hints.get(key)
        if expected in (int, float) and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise BadInput(f"{where}.{key}: expected a number, got {value!r}")
        bound[key] = float(value) if expected is float else value
    for key in accepted:
        default = signature.parameters[key].default
        if key not in bound:
            if default is inspect.Parameter.empty:
                raise BadInput(f"{where}.{key}: required parameter of dataset {params['name']!r} is missing")
            bound[key] = default
    return bound


def _resolve_datasets(entries: list[str | dict[str, Any]], path: Path) -> dict[str, dict[str, Any]]:
    resolved: dict[str, dict[str, Any]] = {}
    for i, entry in enumerate(entries):
        label, params = resolve_dataset(entry, f"{path}: datasets[{i}]")
        if label in resolved:
            raise BadInput(f"{path}: datasets[{i}]: label {label!r} is used twice; give one a `label:`")
        resolved[label] = params
    if not resolved:
        raise BadInput(f"{path}: datasets: expected at least one dataset")
    return resolved


def _check_references(
    file: SuiteFile, variants: dict[str, TrainConfig], datasets: dict[str, dict[str, Any]], path: Path
) -> None:
    from ganbench.metrics import metric_info  # late: metrics register on import

    def known(value: str, choices: Any, where: str, kind: str) -> None:
        if value not in choices:
            raise BadInput(f"{path}: {where}: unknown {kind} {value!r}{did_you_mean(value, choices)}")

    if not variants:
        raise BadInput(f"{path}: variants: expected at least one variant")
    for i, claim in enumerate(file.claims):
        known(claim.better, variants, f"claims[{i}].better", "variant")
        if claim.worse is not None:
            known(claim.worse, variants, f"claims[{i}].worse", "variant")
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


# ----------------------------------------------------------------------------- error messages


def _format_error(err: ValidationError, path: Path, prefix: tuple[Any, ...], model: type[BaseModel]) -> str:
    """First pydantic error as `file: key.path: what was expected, got X`."""
    first = err.errors()[0]
    loc = tuple(first["loc"])
    key = _key_path(prefix + loc)
    if first["type"] == "extra_forbidden":
        fields = _fields_at(model, loc[:-1])
        return f"{path}: {key}: unknown key{did_you_mean(str(loc[-1]), fields)}"
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "missing":
        return f"{path}: {key}: required key is missing"
    got = first.get("input")
    return (
        f"{path}: {key}: {message}, got {got!r}" if not isinstance(got, dict) else f"{path}: {key}: {message}"
    )


def _key_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _fields_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names of the (nested) model reached by following `loc`, for "did you mean"."""
    current: Any = model
    for part in loc:
        if isinstance(part, int) or not (isinstance(current, type) and issubclass(current, BaseModel)):
            continue
        info = current.model_fields.get(part)
        if info is None:
            return []
        current = _model_in(info.annotation)
    return list(current.model_fields) if isinstance(current, type) and issubclass(current, BaseModel) else []


def _model_in(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _validate(model: type[Strict], raw: dict[str, Any], path: Path, prefix: tuple[Any, ...]) -> Any:
    try:
        return model.model_validate(raw)
    except ValidationError as err:
        raise BadInput(_format_error(err, path, prefix, model)) from None
