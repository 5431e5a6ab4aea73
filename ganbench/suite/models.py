"""`model`: a config per built-in architecture, a union discriminated on `arch`, and the checks
of each arch's knobs (a knob it does not read is an error; a module's constructor arguments bind)."""

from __future__ import annotations

import inspect
from typing import Annotated, Any, Literal

from pydantic import (
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from ganbench.registry import ARCHS, MODULES, did_you_mean
from ganbench.suite.base import PositiveInt, Strict, registered

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
