"""Suite files: strict schema, YAML loading with key paths in errors, expansion into RunSpecs.

A suite is datasets x variants x seeds. Each variant is ``defaults`` deep-merged with the
variant's own keys and validated as a ``TrainConfig``; the cross product becomes frozen
``RunSpec``s whose ``run_id`` is the hash of everything that determines the result.

The package, read top to bottom (each module imports only those above it):

- ``base.py``: ``Strict`` (the base of every config), constrained numbers, the registry-name check;
- ``models.py``: ``model``, a config per built-in arch discriminated on ``arch``, ``ModelConfig``;
- ``train_config.py``: ``TrainConfig`` (a variant), its optimizers and critic warm-up, loss defaults;
- ``claims.py``: ``ClaimConfig`` and ``ToleranceConfig`` (what ``ganbench check`` tests);
- ``file.py``: ``SuiteFile``, the top level of a suite file (``success:``, ``p_adjust``, ``tune:``);
- ``spec.py``: ``RunSpec`` and its ``run_id``, ``Config``, ``Suite``;
- ``messages.py``: validation errors as one line naming file and key path;
- ``variants.py``: ``defaults`` merged into each variant, sweeps expanded into configurations;
- ``data.py``: ``datasets:`` entries resolved to explicit, checked parameters;
- ``loader.py``: ``load_suite``, ``--set`` overrides, the checks across sections, the expansion.

Nothing here imports torch (``ganbench validate`` and ``ganbench list`` start cold), except a
``module`` arch's classes, which are imported to check their arguments.
"""

from ganbench.suite.base import PositiveFloat, PositiveInt, Strict, Unit, registered
from ganbench.suite.claims import ClaimConfig, ToleranceConfig
from ganbench.suite.data import resolve_dataset
from ganbench.suite.file import ObjectiveConfig, SuiteFile, TuneConfig
from ganbench.suite.loader import DICT_LABEL, MAX_RUNS, REFERENCES, apply_overrides, load_suite
from ganbench.suite.messages import first_error
from ganbench.suite.models import (
    INIT_DESCRIPTION,
    LEGACY_MODEL_KEYS,
    MODEL_CLASSES,
    MODULE_INJECTED,
    AnyModel,
    BuiltinModel,
    ConvModel,
    DCGANModel,
    Init,
    MLPModel,
    ModelConfig,
    ModuleModel,
    PluginModel,
    ResNetModel,
    ZDim,
    check_module_args,
)
from ganbench.suite.spec import Config, RunSpec, Suite
from ganbench.suite.train_config import CriticWarmupConfig, OptimizerConfig, TrainConfig
from ganbench.suite.variants import deep_merge, variant_body

__all__ = [
    "DICT_LABEL",
    "INIT_DESCRIPTION",
    "LEGACY_MODEL_KEYS",
    "MAX_RUNS",
    "MODEL_CLASSES",
    "MODULE_INJECTED",
    "REFERENCES",
    "AnyModel",
    "BuiltinModel",
    "ClaimConfig",
    "Config",
    "ConvModel",
    "CriticWarmupConfig",
    "DCGANModel",
    "Init",
    "MLPModel",
    "ModelConfig",
    "ModuleModel",
    "ObjectiveConfig",
    "OptimizerConfig",
    "PluginModel",
    "PositiveFloat",
    "PositiveInt",
    "ResNetModel",
    "RunSpec",
    "Strict",
    "Suite",
    "SuiteFile",
    "ToleranceConfig",
    "TrainConfig",
    "TuneConfig",
    "Unit",
    "ZDim",
    "apply_overrides",
    "check_module_args",
    "deep_merge",
    "first_error",
    "load_suite",
    "registered",
    "resolve_dataset",
    "variant_body",
]
