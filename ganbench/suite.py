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
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from ganbench import safe_yaml
from ganbench.errors import BadInput
from ganbench.registry import (
    ARCHS,
    CLAIM_TESTS,
    DATASETS,
    LOSSES,
    MODULES,
    OPTIMIZERS,
    UnknownName,
    did_you_mean,
)
from ganbench.sweep import SweepConfig, expand, nested
from ganbench.sweep import label as config_label

MAX_RUNS = 100_000  # datasets x configurations x seeds; checked before anything is expanded
DICT_LABEL = "<dict>"  # what errors call a suite given as a mapping instead of a file
REFERENCES = ("noise", "data")  # reserved variant names of the reference rows (see references.py)

PositiveFloat = Annotated[float, Field(gt=0)]
PositiveInt = Annotated[int, Field(gt=0)]
Unit = Annotated[float, Field(ge=0, lt=1)]


def registered(registry: Any, name: str) -> str:
    """Validator body: pydantic reports ValueErrors with their key path, not KeyErrors."""
    try:
        registry.check(name)  # a built-in's implementation (and torch) is not imported
    except UnknownName as err:
        raise ValueError(str(err)) from None
    return name


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OptimizerConfig(Strict):
    """An optimizer and its hyperparameters (``optimizer``, ``optimizer_g``, ``optimizer_d``)."""

    name: str = Field("adam", description="`sgd`, `rmsprop` or `adam` (as in torch.optim, defaults included)")
    lr: PositiveFloat = Field(1e-4, description="learning rate")
    betas: tuple[Unit, Unit] = Field((0.5, 0.999), description="Adam's (beta1, beta2)")
    momentum: Unit = Field(0.0, description="SGD's momentum")
    alpha: Unit = Field(0.99, description="RMSProp's smoothing constant (torch's default)")
    eps: PositiveFloat = Field(1e-8, description="added to the denominator (RMSProp, Adam)")
    weight_decay: Annotated[float, Field(ge=0)] = Field(0.0, description="L2 penalty added to the gradient")

    @field_validator("name")
    @classmethod
    def _known(cls, name: str) -> str:
        return registered(OPTIMIZERS, name)


# ----------------------------------------------------------------------------- model configs
# `model` is a union discriminated on `arch`: each built-in architecture has its own config whose
# fields are exactly the knobs it reads, so any other knob is an "extra" error at validate time
# (it would change the run id and nothing else; _format_error words it as such), unless it is at
# its legacy default (BuiltinModel). Names that are not built-in (a plugin's arch, an import path)
# get PluginModel, which keeps every legacy knob and allows extra keys.

# Every key the single model config of earlier versions gave every arch, at its default: the
# built-in configs dump the ones they do not read at these values, so resolved specs and run ids
# of existing suites stay what they were (run ids hash the dump).
LEGACY_MODEL_KEYS: dict[str, Any] = {
    "arch": "mlp",
    "z_dim": 2,
    "hidden": 128,
    "depth": 3,
    "activation": "relu",
    "batch_norm": False,
    "width": 64,
    "spectral_norm": False,
    "init": "default",
}
INIT_DESCRIPTION = (
    "weights of the built-in archs: `default` is each arch's own (mlp: torch's U(+-1/sqrt(fan_in)) for "
    "weights and biases; dcgan: N(0, 0.02); resnet: Xavier uniform, gain sqrt(2) after ReLUs); the "
    "others as torch.nn.init draws them, with zero biases: N(0, 0.02) (DCGAN, the WGAN-GP toy script), "
    "Xavier uniform (gain 1), Kaiming normal (fan_in, ReLU gain)"
)
Init = Literal["default", "normal_0.02", "xavier", "kaiming"]
ZDim = Annotated[int, Field(gt=0, description="dimension of the generator's noise input")]


class BuiltinModel(Strict):
    """Base of the built-in archs' configs: their dump carries the legacy keys (see above)."""

    @model_validator(mode="before")
    @classmethod
    def _drop_legacy_defaults(cls, data: Any) -> Any:
        # A knob this arch does not read is accepted at exactly its legacy default, since it then
        # changes nothing, the run id included; so a dump (which carries them all) validates back.
        if not isinstance(data, dict):
            return data
        return {
            key: value
            for key, value in data.items()
            if key in cls.model_fields or key not in LEGACY_MODEL_KEYS or value != LEGACY_MODEL_KEYS[key]
        }

    @model_serializer(mode="wrap")
    def _with_legacy_keys(self, handler: Any) -> dict[str, Any]:
        data = handler(self)
        return {**{key: data.get(key, value) for key, value in LEGACY_MODEL_KEYS.items()}, **data}


class MLPModel(BuiltinModel):
    """`model` of `arch: mlp`: fully connected generator and discriminator (ganbench/models/mlp.py)."""

    arch: Literal["mlp"] = Field("mlp", description="`mlp`")
    z_dim: ZDim = 2
    hidden: PositiveInt = Field(128, description="width of the hidden layers")
    depth: PositiveInt = Field(3, description="hidden layers")
    activation: Literal["relu", "leaky_relu", "elu", "tanh"] = Field("relu", description="activation")
    batch_norm: bool = Field(False, description="batch norm in the generator (batch statistics always)")
    init: Init = Field("default", description=INIT_DESCRIPTION)


class ConvModel(BuiltinModel):
    """The knobs of the image archs, whose resolution and channels come from the dataset."""

    arch: Literal["dcgan", "resnet"] = Field(description="`dcgan` or `resnet`")
    z_dim: ZDim = 2
    width: PositiveInt = Field(64, description="base channel count")
    batch_norm: bool = Field(False, description="batch norm in the generator (batch statistics always)")
    spectral_norm: bool = Field(False, description="spectral norm on every discriminator weight")
    init: Init = Field("default", description=INIT_DESCRIPTION)


class DCGANModel(ConvModel):
    """`model` of `arch: dcgan` (ganbench/models/dcgan.py)."""

    arch: Literal["dcgan"] = Field(description="`dcgan`")


class ResNetModel(ConvModel):
    """`model` of `arch: resnet` (ganbench/models/resnet.py): the same knobs as dcgan."""

    arch: Literal["resnet"] = Field(description="`resnet`")


class ModuleModel(Strict):
    """`model` of `arch: module`: your own `torch.nn.Module` classes, K members trained at once
    through torch.func (ganbench/models/module.py, docs/extending.md). Validating it imports the
    classes (and torch) to check their arguments."""

    arch: Literal["module"] = Field(description="`module`")
    z_dim: ZDim = 2
    generator: str = Field(
        description="import path `pkg.module:Class` (or a name in ganbench.registry.MODULES) of an nn.Module "
        "mapping noise [B, z_dim] to samples [B, *data_shape]"
    )
    discriminator: str = Field(
        description="the same for the discriminator: samples [B, *data_shape] to scores [B] or [B, 1]"
    )
    generator_args: dict[str, Any] = Field(
        {},
        description="keyword arguments of the generator's constructor; `z_dim` and `data_shape` are "
        "passed by ganbench when the constructor takes them",
    )
    discriminator_args: dict[str, Any] = Field(
        {}, description="keyword arguments of the discriminator's constructor (`data_shape` is passed)"
    )
    spectral_norm: bool = Field(
        False,
        description="wrap every Linear/Conv weight of the discriminator in "
        "torch.nn.utils.parametrizations.spectral_norm (power-iteration vectors per member)",
    )

    @field_validator("generator", "discriminator")
    @classmethod
    def _known_module(cls, name: str) -> str:
        return registered(MODULES, name)

    @field_validator("generator_args", "discriminator_args")
    @classmethod
    def _binds(cls, args: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        role = "generator" if info.field_name == "generator_args" else "discriminator"
        name = info.data.get(role)
        if name is not None:  # else its own error is reported
            check_module_args(name, MODULES.get(name), args, MODULE_INJECTED[role])
        return args


# Arguments ganbench passes to a module's constructor when its signature names them.
MODULE_INJECTED = {"generator": ("z_dim", "data_shape"), "discriminator": ("data_shape",)}


def check_module_args(name: str, factory: Any, args: dict[str, Any], injected: tuple[str, ...]) -> None:
    """ValueError unless `factory(**args, <injected it takes>)` binds to its signature."""
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):  # no signature to check (a builtin): the build will tell
        return
    taken = [p for p in injected if p in signature.parameters]
    given = sorted(set(taken) & set(args))
    if given:
        raise ValueError(
            f"{given[0]}: ganbench passes it to {name} (from the data and model.z_dim); remove it"
        )
    try:
        signature.bind(**args, **dict.fromkeys(taken))
    except TypeError as err:
        accepted = [p for p in signature.parameters if p not in taken]
        unknown = sorted(set(args) - set(accepted))
        hint = did_you_mean(unknown[0], accepted) if unknown else f"; it takes {', '.join(accepted)}"
        raise ValueError(f"{name}({', '.join(signature.parameters)}): {err}{hint}") from None


class PluginModel(Strict):
    """`model` of any other arch (a plugin's name or an import path `pkg.module:build`): every
    knob below is passed on, and so are extra keys, since the build function reads what it reads."""

    model_config = ConfigDict(extra="allow", frozen=True)

    arch: str = Field(
        description="a registered arch name or an import path `pkg.module:build`",
        json_schema_extra={"not": {"enum": ["mlp", "dcgan", "resnet", "module"]}},  # one member matches
    )
    z_dim: ZDim = 2
    hidden: PositiveInt = Field(128, description="MLP width (if the arch reads it)")
    depth: PositiveInt = Field(3, description="MLP hidden layers (if the arch reads it)")
    activation: Literal["relu", "leaky_relu", "elu", "tanh"] = Field("relu", description="MLP activation")
    batch_norm: bool = Field(False, description="batch norm in the generator")
    width: PositiveInt = Field(64, description="base channel count of conv archs")
    spectral_norm: bool = Field(False, description="spectral norm in the discriminator")
    init: Init = Field("default", description=INIT_DESCRIPTION)

    @field_validator("arch")
    @classmethod
    def _known(cls, arch: str) -> str:
        return registered(ARCHS, arch)


# The union's tags: a built-in arch's name, or "plugin" for every other name.
MODEL_CLASSES: dict[str, type[Strict]] = {
    "mlp": MLPModel,
    "dcgan": DCGANModel,
    "resnet": ResNetModel,
    "module": ModuleModel,
    "plugin": PluginModel,
}


def _model_tag(value: Any) -> str:
    arch = value.get("arch", "mlp") if isinstance(value, dict) else getattr(value, "arch", "mlp")
    return arch if isinstance(arch, str) and arch in MODEL_CLASSES and arch != "plugin" else "plugin"


AnyModel = Annotated[
    Annotated[MLPModel, Tag("mlp")]
    | Annotated[DCGANModel, Tag("dcgan")]
    | Annotated[ResNetModel, Tag("resnet")]
    | Annotated[ModuleModel, Tag("module")]
    | Annotated[PluginModel, Tag("plugin")],
    Discriminator(_model_tag),
]
_MODEL_ADAPTER: TypeAdapter[Any] = TypeAdapter(AnyModel)


def ModelConfig(**keys: Any) -> MLPModel | ConvModel | ModuleModel | PluginModel:  # noqa: N802 - was a class
    """The `model` config of `keys` (``ModelConfig(arch="dcgan", width=8)``), as a suite's
    `model:` mapping is validated: the class follows `arch` (mlp when not given)."""
    return _MODEL_ADAPTER.validate_python(keys)


def first_error(err: ValidationError) -> dict[str, Any]:
    """The first error of `err`, its `loc` without the model union's tag (so that it is the key
    path in the suite: model.hidden, not model.dcgan.hidden) and `arch` set to that tag, if any."""
    first = dict(err.errors()[0])
    loc, arch = list(first["loc"]), None
    for i in range(1, len(loc)):
        if loc[i - 1] == "model" and loc[i] in MODEL_CLASSES:
            arch = loc.pop(i)
            break
    first["loc"], first["arch"] = tuple(loc), arch
    return first


class CriticWarmupConfig(Strict):
    """The WGAN reference code's critic schedule: `n_critic` critic updates, instead of the
    variant's, before each of the first `steps` generator updates and before every `every`-th one."""

    steps: Annotated[int, Field(ge=0)] = Field(
        25, description="generator updates at the start that get the extra critic updates"
    )
    every: PositiveInt = Field(500, description="and every `every`-th generator update after them")
    n_critic: PositiveInt = Field(100, description="critic updates before each of those generator updates")


class TrainConfig(Strict):
    """One variant after ``defaults`` are merged in: everything that shapes a training run."""

    loss: str = Field(
        "ns",
        description="GAN objective: `mm` (minimax), `ns` (non-saturating), `lsgan`, `hinge`, `wgan`, "
        "`wgan-gp`, `rsgan`, `rasgan` (relativistic), `ns-r1` (non-saturating + R1), or an import "
        "path `pkg.module:loss` (docs/extending.md)",
    )
    n_critic: PositiveInt | None = Field(
        None,
        description="critic updates per generator update; not given: the loss's (wgan, wgan-gp: 5; others: 1)",
    )
    clip: PositiveFloat | None = Field(
        None,
        description="weight clipping of the critic to [-clip, clip]; not given: the loss's default "
        "(wgan: 0.01); `clip: null` turns it off",
    )
    critic_warmup: CriticWarmupConfig | None = Field(
        None,
        description="the WGAN code's extra critic updates; `{}` gives its {steps: 25, every: 500, n_critic: 100}",
    )
    gp_weight: Annotated[float, Field(ge=0)] | None = Field(
        None,
        description="weight of the loss's critic penalty: WGAN-GP's gradient penalty (lambda) for every "
        "built-in loss but `ns-r1`, whose R1 penalty it weighs as gamma / 2; not given: the loss's "
        "(wgan-gp: 10; ns-r1: 5; others: 0, no penalty)",
    )
    optimizer: OptimizerConfig = Field(OptimizerConfig(), description="optimizer of both nets")
    optimizer_g: OptimizerConfig | None = Field(
        None, description="the generator's optimizer; not given: `optimizer`"
    )
    optimizer_d: OptimizerConfig | None = Field(
        None, description="the discriminator's optimizer; not given: `optimizer`"
    )
    steps: PositiveInt = Field(5000, description="generator updates")
    batch_size: PositiveInt = Field(64, description="samples per batch (real and generated)")
    eval_every: PositiveInt = Field(
        500, description="generator updates between evaluations (capped at `steps`)"
    )
    eval_samples: PositiveInt = Field(2500, description="generated samples per evaluation")
    min_count: PositiveInt = Field(1, description="high-quality samples a mode needs to count as covered")
    w1_points: PositiveInt = Field(1000, description="points per side of the exact Wasserstein-1 distance")
    ema: Unit | None = Field(
        None, description="decay of an EMA copy of G's weights used for evaluation; null: none"
    )
    image_metrics: list[Literal["inception", "classifier"]] = Field(
        ["classifier"], description="image metric groups to compute (inception needs offline weights)"
    )
    prdc_k: PositiveInt = Field(
        5, description="k of the k-NN balls of precision/recall and density/coverage (Naeem et al.)"
    )
    model: AnyModel = Field(
        MLPModel(),
        description="architecture; its keys depend on `arch` (mlp when not given)",
    )

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
        loss = LOSSES.get(self.loss)
        if self.gp_weight is None:
            updates["gp_weight"] = float(getattr(loss, "default_gp_weight", 0.0))
        if self.n_critic is None:
            updates["n_critic"] = int(getattr(loss, "default_n_critic", 1))
        if self.clip is None and "clip" not in self.model_fields_set:
            updates["clip"] = getattr(loss, "default_clip", None)
        if self.eval_every > self.steps:
            updates["eval_every"] = self.steps
        for key, value in updates.items():
            object.__setattr__(self, key, value)
        if getattr(loss, "wasserstein", False) and not (
            self.clip or self.gp_weight or getattr(self.model, "spectral_norm", False)
        ):
            raise ValueError(
                f"loss {self.loss!r} needs a Lipschitz constraint on its critic: give clip (the WGAN "
                "paper's 0.01), gp_weight > 0 or model.spectral_norm"
            )
        if self.gp_weight and getattr(loss, "penalty", "gp") is None:
            raise ValueError(f"loss {self.loss!r} takes no penalty: gp_weight must be 0 or not given")
        if self.critic_warmup is not None and self.critic_warmup.n_critic < self.n_critic:
            raise ValueError(
                f"critic_warmup.n_critic ({self.critic_warmup.n_critic}) is below n_critic ({self.n_critic})"
            )
        if "inception" in self.image_metrics and self.prdc_k >= self.eval_samples:
            raise ValueError(f"prdc_k ({self.prdc_k}) must be below eval_samples ({self.eval_samples})")
        return self

    def critic_iterations(self, step: int) -> int:
        """Critic updates before generator update `step` (0-based), critic warm-up included."""
        warmup = self.critic_warmup
        if warmup is not None and (step < warmup.steps or step % warmup.every == 0):
            return warmup.n_critic
        return self.n_critic


class ClaimConfig(Strict):
    """`better` beats `worse` on `metric` (two samples), or `better` beats `threshold` (one sample,
    e.g. "the critic's estimate correlates positively with quality": w_quality_corr > 0)."""

    id: str = Field(description="short name of the claim (a row of claims.csv per dataset)")
    text: str = Field("", description="the claim in words")
    metric: str = Field(description="any metric in runs.csv; its direction comes from the metric catalogue")
    better: str = Field(description="the variant expected to be better (or `noise` / `data`)")
    worse: str | None = Field(None, description="the variant expected to be worse; give this or `threshold`")
    threshold: float | None = Field(
        None, description="one-sample claim: `better` beats this value (e.g. w_quality_corr > 0)"
    )
    datasets: list[str] | None = Field(None, description="dataset labels to test it on; null: all")
    expect: Literal["supported", "contradicted", "inconclusive"] = Field(
        "supported", description="the verdict `ganbench check` requires"
    )
    test: str = Field(
        "permutation", description="`permutation`, `mannwhitney`, `welch` or `bootstrap` (ganbench.claims)"
    )
    alpha: Annotated[float, Field(gt=0, lt=1)] = Field(0.05, description="significance level")
    protocol: Literal["pooled", "tuned", "success_rate"] = Field(
        "pooled",
        description="how configs x seeds of swept variants decide it: all runs as one sample, the "
        "best config of each side (picked on `selection_seeds`) on fresh seeds, or the share of "
        "successful runs (`success:`)",
    )
    selection_seeds: PositiveInt | None = Field(
        None, description="tuned: the first N sorted seeds pick the config; null: half, at least 1"
    )
    healthy_only: bool = Field(
        False,
        description="test only the runs classified healthy (ganbench.health): for claims about how "
        "a working GAN behaves (e.g. the critic's loss tracks quality), which a dead critic would blur",
    )

    @field_validator("test")
    @classmethod
    def _known_test(cls, test: str) -> str:
        return registered(CLAIM_TESTS, test)

    @model_validator(mode="after")
    def _one_reference(self) -> ClaimConfig:
        if (self.worse is None) == (self.threshold is None):
            raise ValueError("give exactly one of `worse` (a variant) and `threshold` (a value)")
        if self.selection_seeds is not None and self.protocol != "tuned":
            raise ValueError("`selection_seeds` only applies to `protocol: tuned`")
        if self.protocol == "success_rate" and self.threshold is not None and not 0 < self.threshold < 1:
            raise ValueError(
                f"a success_rate claim's `threshold` is a proportion in (0, 1), got {self.threshold}"
            )
        return self


class ToleranceConfig(Strict):
    """Band around a baseline mean that a regression check accepts (the widest given wins)."""

    metrics: list[str] | None = Field(
        None, description="metrics to check; null: every metric in the baseline"
    )
    absolute: Annotated[float, Field(ge=0)] | None = Field(None, description="band of +- this value")
    relative: Annotated[float, Field(ge=0)] | None = Field(
        None, description="band of +- this share of the baseline mean"
    )
    k_se: Annotated[float, Field(ge=0)] | None = Field(
        None, description="band of +- k standard errors of the baseline mean"
    )

    @model_validator(mode="after")
    def _some_band(self) -> ToleranceConfig:
        if self.absolute is None and self.relative is None and self.k_se is None:
            raise ValueError("give at least one of absolute, relative, k_se")
        return self


class ObjectiveConfig(Strict):
    """What `ganbench tune` optimises (``tune.objective``)."""

    metric: str = Field(description="a per-run metric; its direction comes from the metric catalogue")
    dataset: str | None = Field(None, description="dataset label; null: the mean over the suite's datasets")


class TuneConfig(Strict):
    """Optuna search of one variant's hyperparameters (``ganbench tune``)."""

    variant: str = Field(description="the variant to tune")
    objective: ObjectiveConfig = Field(description="what to optimise")
    space: dict[str, dict[Literal["log_uniform", "uniform", "int", "choice"], list[Any]]] = Field(
        description="key path into the variant (e.g. optimizer.lr) -> {log_uniform|uniform|int: "
        "[low, high]} or {choice: [...]}"
    )
    trials: PositiveInt = Field(20, description="Optuna trials (`--trials` overrides)")
    seeds: PositiveInt | None = Field(None, description="seeds per trial; null: the suite's")


class SuiteFile(Strict):
    """A suite file: datasets x variants x seeds, and the claims the suite tests."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")] = Field(
        description="the suite's name: labels its runs and the default output dir runs/<name>"
    )
    description: str = Field("", description="what the suite asks, in words")
    defaults: dict[str, Any] = Field(
        {}, description="variant keys (the Variant table) applied to every variant, deep-merged"
    )
    datasets: list[str | dict[str, Any]] = Field(
        description="registry names (`ring8`) or `{name: ring, modes: 8, ..., label: ...}` (the Datasets table)"
    )
    seeds: PositiveInt | list[Annotated[int, Field(ge=0)]] = Field(
        5, description="a count N (seeds 0..N-1) or an explicit list of seeds"
    )
    variants: dict[str, dict[str, Any]] = Field(
        description="variant name -> variant keys (the Variant table), over `defaults`; `noise` and `data` are reserved"
    )
    claims: list[ClaimConfig] = Field([], description="the claims the suite tests (the Claim table)")
    p_adjust: Literal["holm", "bh", "none"] = Field(
        "holm", description="multiple-comparison adjustment over claims x datasets (p_adjusted)"
    )
    success: dict[str, dict[Literal["below", "above"], float]] | None = Field(
        default=None,
        validate_default=True,
        description="what a successful run is (success_rate claims): every condition holds, e.g. "
        "{w1: {below: 0.3}, hq_share: {above: 0.5}}",
    )
    tolerance: ToleranceConfig | None = Field(
        None, description="the regression band of `ganbench check --baseline`"
    )
    tune: TuneConfig | None = Field(None, description="the search of `ganbench tune`")
    data_root: str | None = Field(
        None, description="folder with image datasets; --data-root and GANBENCH_DATA_ROOT win"
    )
    inception_weights: str | None = Field(
        None,
        description="offline Inception weights file for FID/IS/KID; --inception-weights and GANBENCH_INCEPTION_WEIGHTS win",
    )

    @field_validator("success")
    @classmethod
    def _success_criterion(
        cls, success: dict[str, dict[str, float]] | None, info: ValidationInfo
    ) -> dict[str, dict[str, float]] | None:
        """Reported at `success`: missing while a claim needs it, an empty condition, a bad metric."""
        if success is None:
            for i, claim in enumerate(info.data.get("claims") or []):
                if claim.protocol == "success_rate":
                    raise ValueError(
                        f"claims[{i}] ({claim.id}) has protocol success_rate, which needs a `success:` "
                        "criterion such as {w1: {below: 0.3}}"
                    )
            return None
        from ganbench.metrics import metric_info  # late: metrics register on import

        for metric, bounds in success.items():
            if not bounds:
                raise ValueError(f"{metric}: give `below:` and/or `above:`")
            try:
                metric_info(metric)
            except UnknownName as err:
                raise ValueError(str(err)) from None
        return success


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


# ----------------------------------------------------------------------------- loading


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


def variant_body(file: SuiteFile, name: str) -> dict[str, Any]:
    """A variant's keys with the defaults merged in and its sweep left out."""
    merged = deep_merge(file.defaults, file.variants[name])
    merged.pop("sweep", None)
    return merged


def _sweep(file: SuiteFile, name: str, path: Path) -> SweepConfig | None:
    """The variant's sweep (its own keys deep-merged over a sweep in `defaults`), validated."""
    body, default = file.variants[name].get("sweep"), file.defaults.get("sweep")
    if body is None and default is None:
        return None
    both_maps = isinstance(body, (dict, type(None))) and isinstance(default, (dict, type(None)))
    raw = deep_merge(default or {}, body or {}) if both_maps else (body if body is not None else default)
    prefix = ("variants", name, "sweep") if body is not None else ("defaults", "sweep")
    return _validate(SweepConfig, raw, path, prefix)


def _configs(
    file: SuiteFile, name: str, sweep: SweepConfig | None, base: TrainConfig, path: Path, steps: int | None
) -> list[Config]:
    if sweep is None:
        return [Config("", {}, base)]
    where = f"variants.{name}.sweep" if "sweep" in file.variants[name] else "defaults.sweep"
    body = variant_body(file, name)
    configs = []
    for values in expand(sweep):
        merged = deep_merge(body, nested(values))
        if steps is not None:
            merged["steps"] = steps
        try:
            train = TrainConfig.model_validate(merged)
        except ValidationError as err:
            first = first_error(err)
            loc = ".".join(str(p) for p in first["loc"])
            axis = next((a for a in values if loc == a or loc.startswith(a + ".") or a.startswith(loc)), None)
            kind = "grid" if axis in sweep.grid else "random"
            if axis is None:  # the sweep made a key invalid that it does not set itself
                raise BadInput(_format_error(err, path, ("variants", name), TrainConfig)) from None
            if first["type"] == "extra_forbidden":
                raise BadInput(f"{path}: {where}.{kind}.{axis}: not a key path of a variant") from None
            message = first["msg"].removeprefix("Value error, ")
            raise BadInput(
                f"{path}: {where}.{kind}.{axis}: {message}, got {_short(values[axis])} "
                f"(configuration {config_label(values)})"
            ) from None
        configs.append(Config(config_label(values), values, train))
    return configs


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


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


def _resolve_variant(
    defaults: dict[str, Any], body: dict[str, Any], name: str, path: Path, steps: int | None
) -> TrainConfig:
    merged = deep_merge(defaults, body)
    merged.pop("sweep", None)
    if steps is not None:
        merged["steps"] = steps
    try:
        return TrainConfig.model_validate(merged)
    except ValidationError as err:
        # Blame the variant if it set the offending key, else the defaults it inherited.
        first = first_error(err)["loc"]
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
    if label is not None and not isinstance(label, str):
        raise BadInput(f"{where}.label: expected a string, got {safe_yaml.short(label)}")
    name = entry.get("name")
    if not isinstance(name, str):
        raise BadInput(f"{where}.name: expected a dataset name, got {safe_yaml.short(name)}")
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
    try:
        hints = typing.get_type_hints(factory, include_extras=True)
    except Exception:  # noqa: BLE001 - a plugin's unresolvable annotations: check nothing
        hints = {}
    bound = {"name": params["name"]}
    for key, value in params.items():
        if key == "name":
            continue
        if key not in accepted:
            raise BadInput(f"{where}.{key}: unknown dataset parameter{did_you_mean(key, accepted)}")
        bound[key] = _check_param(hints.get(key), value, f"{where}.{key}")
    for key in accepted:
        default = signature.parameters[key].default
        if key not in bound:
            if default is inspect.Parameter.empty:
                raise BadInput(f"{where}.{key}: required parameter of dataset {params['name']!r} is missing")
            bound[key] = default
    return bound


def _check_param(hint: Any, value: Any, where: str) -> Any:
    """A dataset parameter checked against the factory's annotation, constraints included
    (``modes: Annotated[int, Field(ge=1)]``), strictly: 2.5 is not an int, true is not a number."""
    if hint is None:
        return value
    try:
        adapter = TypeAdapter(hint)
    except Exception:  # noqa: BLE001 - an annotation pydantic cannot check (a plugin's class)
        return value
    try:
        return adapter.validate_python(value, strict=True)
    except ValidationError as err:
        message = err.errors()[0]["msg"].removeprefix("Value error, ")
        raise BadInput(f"{where}: {message}, got {safe_yaml.short(value)}") from None


def _resolve_datasets(entries: list[str | dict[str, Any]], path: Path) -> dict[str, dict[str, Any]]:
    resolved: dict[str, dict[str, Any]] = {}
    for i, entry in enumerate(entries):
        label, params = resolve_dataset(entry, f"{path}: datasets[{i}]")
        if label in resolved:
            raise BadInput(
                f"{path}: datasets[{i}]: label {safe_yaml.short(label)} is used twice; give one a `label:`"
            )
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


# ----------------------------------------------------------------------------- error messages


def _format_error(err: ValidationError, path: Path, prefix: tuple[Any, ...], model: type[BaseModel]) -> str:
    """First pydantic error as `file: key.path: what was expected, got X`."""
    first = first_error(err)
    loc = first["loc"]
    key = _key_path(prefix + loc)
    if first["type"] == "extra_forbidden":
        arch = first["arch"]
        if arch is not None and loc[-1] in LEGACY_MODEL_KEYS:  # another arch's knob
            reads = ", ".join(sorted(set(MODEL_CLASSES[arch].model_fields) - {"arch"}))
            return f"{path}: {key}: the {arch} architecture does not read it (it reads {reads}); remove it"
        fields = _fields_at(model, loc[:-1], arch)
        return f"{path}: {key}: unknown key{did_you_mean(str(loc[-1]), fields)}"
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "missing":
        return f"{path}: {key}: required key is missing"
    got = first.get("input")
    return (
        f"{path}: {key}: {message}, got {safe_yaml.short(got)}"
        if not isinstance(got, dict)
        else f"{path}: {key}: {message}"
    )


def _key_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _fields_at(model: type[BaseModel], loc: tuple[Any, ...], arch: str | None = None) -> list[str]:
    """Field names of the (nested) model reached by following `loc`, for "did you mean"; `arch`
    picks the member of the model union (first_error)."""
    current: Any = model
    for part in loc:
        if isinstance(part, int) or not (isinstance(current, type) and issubclass(current, BaseModel)):
            continue
        info = current.model_fields.get(part)
        if info is None:
            return []
        current = MODEL_CLASSES[arch] if part == "model" and arch else _model_in(info.annotation)
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
