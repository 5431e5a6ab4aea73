"""`ganbench schema`: the suite file's reference, generated from the code.

Writes ``suite-schema.json`` (a JSON Schema of a suite file, from the pydantic models of
ganbench/suite/ and ganbench/sweep.py: editors that speak JSON Schema validate and complete
suite YAML with it) and ``suite-reference.md`` (every key with its type, default and meaning, a
table per section, plus the built-in datasets, losses and metrics from the registries). Both are
committed under docs/; tests/test_docs.py fails when they are stale. Nothing here imports torch.
"""

from __future__ import annotations

import copy
import inspect
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from pydantic_core import PydanticUndefined, to_jsonable_python

from ganbench.suite import (
    ClaimConfig,
    CriticWarmupConfig,
    DCGANModel,
    MLPModel,
    ModuleModel,
    ObjectiveConfig,
    OptimizerConfig,
    PluginModel,
    ResNetModel,
    SuiteFile,
    ToleranceConfig,
    TrainConfig,
    TuneConfig,
)
from ganbench.sweep import SweepConfig

SCHEMA_FILE = "suite-schema.json"
REFERENCE_FILE = "suite-reference.md"
SWEEP_DESCRIPTION = "a sweep over this variant's keys: each configuration is a sub-variant (the sweep table)"

# (anchor, heading, model, intro): the reference's sections in order.
SECTIONS: list[tuple[str, str, type[BaseModel], str]] = [
    ("top-level", "Top level", SuiteFile, ""),
    (
        "variant",
        "Variant (`defaults`, `variants.<name>`)",
        TrainConfig,
        "A variant is `defaults` deep-merged with the variant's own keys. Keys the suite does not "
        "give take the defaults below; `n_critic`, `clip` and `gp_weight` default to the loss's own "
        "settings (its paper's), and the resolved values are part of the run id.",
    ),
    (
        "model",
        "`model` (`arch: mlp`, the default)",
        MLPModel,
        "`model`'s keys depend on `arch`: a key that the architecture does not read is an error. The "
        "built-in archs' keys are part of the run id; so are `module`'s class paths and arguments "
        "(not their code).",
    ),
    ("model-dcgan", "`model` (`arch: dcgan`)", DCGANModel, ""),
    ("model-resnet", "`model` (`arch: resnet`)", ResNetModel, ""),
    ("model-module", "`model` (`arch: module`)", ModuleModel, ""),
    ("model-plugin", "`model` (any other arch)", PluginModel, ""),
    ("optimizer", "`optimizer`, `optimizer_g`, `optimizer_d`", OptimizerConfig, ""),
    ("critic-warmup", "`critic_warmup`", CriticWarmupConfig, ""),
    (
        "sweep",
        "`sweep` (in a variant or in `defaults`)",
        SweepConfig,
        "Axes are dotted key paths into the variant (`optimizer.lr`). runs.csv gets a `config` "
        "column (a label such as `clip=0.1,optimizer.lr=0.0005`) and one column per swept key path.",
    ),
    ("claim", "`claims[]`", ClaimConfig, ""),
    (
        "tolerance",
        "`tolerance`",
        ToleranceConfig,
        "Give at least one of absolute, relative, k_se; the widest band wins.",
    ),
    ("tune", "`tune`", TuneConfig, ""),
    ("objective", "`tune.objective`", ObjectiveConfig, ""),
]
ANCHORS = {model.__name__: anchor for anchor, _, model, _ in SECTIONS}
ANCHORS["Variant"] = "variant"
LABELS = {  # how a type column names a section
    "TrainConfig": "variant",
    "Variant": "variant",
    "MLPModel": "model (mlp)",
    "DCGANModel": "model (dcgan)",
    "ResNetModel": "model (resnet)",
    "ModuleModel": "model (module)",
    "PluginModel": "model (other archs)",
    "OptimizerConfig": "optimizer",
    "CriticWarmupConfig": "critic_warmup",
    "SweepConfig": "sweep",
    "ClaimConfig": "claim",
    "ToleranceConfig": "tolerance",
    "TuneConfig": "tune",
    "ObjectiveConfig": "tune.objective",
}


def suite_schema() -> dict[str, Any]:
    """The JSON Schema of a suite file; variants and `defaults` are described as variants."""
    models = [(model, "validation") for _, _, model, _ in SECTIONS]
    _, top = models_json_schema(models, ref_template="#/$defs/{model}")
    defs = top["$defs"]
    variant = copy.deepcopy(defs["TrainConfig"])
    variant["title"] = "Variant"
    variant["properties"]["sweep"] = {"$ref": "#/$defs/SweepConfig", "description": SWEEP_DESCRIPTION}
    variant.pop("required", None)
    defs["Variant"] = variant
    suite = copy.deepcopy(defs.pop("SuiteFile"))
    properties = suite["properties"]
    properties["defaults"] = {"$ref": "#/$defs/Variant", "description": properties["defaults"]["description"]}
    properties["variants"]["additionalProperties"] = {"$ref": "#/$defs/Variant"}
    properties["variants"]["propertyNames"] = {"not": {"enum": ["noise", "data"]}}
    properties["datasets"]["items"] = {
        "anyOf": [
            {"type": "string", "description": "a registry name or an import path"},
            {
                "type": "object",
                "properties": {"name": {"type": "string"}, "label": {"type": "string"}},
                "required": ["name"],
                "additionalProperties": True,
                "description": "a dataset's name, its parameters, and an optional label",
            },
        ]
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **suite,
        "$defs": dict(sorted(defs.items())),
    }


# ----------------------------------------------------------------------------- Markdown


def reference_markdown() -> str:
    schema = suite_schema()
    defs = schema["$defs"]
    lines = [
        "# Suite file reference",
        "",
        "<!-- Generated by `ganbench schema` from ganbench/suite/, ganbench/sweep.py and the "
        "registries. Do not edit: tests/test_docs.py fails when this file is stale. -->",
        "",
        "Every key of a suite file, with its type, default and meaning. Unknown keys are errors "
        'with a "did you mean". The same schema as JSON Schema: [suite-schema.json](suite-schema.json) '
        "(for editors: `# yaml-language-server: $schema=docs/suite-schema.json` as a suite's first line).",
        "",
    ]
    for anchor, heading, model, intro in SECTIONS:
        properties = schema["properties"] if model is SuiteFile else defs[model.__name__]["properties"]
        lines += [f'<a id="{anchor}"></a>', "", f"## {heading}", ""]
        doc = inspect.getdoc(model) or ""
        if doc:
            lines += [" ".join(doc.split()), ""]
        if intro:
            lines += [intro, ""]
        lines += ["| key | type | default | description |", "|---|---|---|---|"]
        rows = [(name, field, properties[name]) for name, field in model.model_fields.items()]
        for name, field, prop in rows:
            lines.append(_row(name, _type(prop), _default(field), field.description or ""))
        if model is TrainConfig:
            lines.append(_row("sweep", "[sweep](#sweep)", "`null`", SWEEP_DESCRIPTION))
        lines.append("")
    lines += _datasets() + _losses() + _metrics() + _names()
    return "\n".join(lines).rstrip() + "\n"


def _row(*cells: str) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|").replace("\n", " ") for cell in cells) + " |"


def _default(field: Any) -> str:
    if field.is_required():
        return "required"
    value = field.default
    if value is PydanticUndefined:
        return ""
    if isinstance(value, BaseModel):
        name = type(value).__name__
        return f"see [{LABELS.get(name, name)}](#{ANCHORS.get(name, '')})"
    return f"`{json.dumps(to_jsonable_python(value))}`"


def _type(prop: dict[str, Any]) -> str:
    if "$ref" in prop:
        name = prop["$ref"].rsplit("/", 1)[-1]
        return f"[{LABELS.get(name, name)}](#{ANCHORS.get(name, name)})"
    if "anyOf" in prop or "oneOf" in prop:
        return " | ".join(_type(p) for p in prop.get("anyOf", prop.get("oneOf")))
    if "enum" in prop:
        return " | ".join(f"`{json.dumps(v)}`" for v in prop["enum"])
    if "const" in prop:
        return f"`{json.dumps(prop['const'])}`"
    kind = prop.get("type")
    if kind == "array":
        if "prefixItems" in prop:
            return "[" + ", ".join(_type(p) for p in prop["prefixItems"]) + "]"
        text = f"list of {_type(prop.get('items', {}))}"
        return text + (f" (at least {prop['minItems']})" if "minItems" in prop else "")
    if kind == "object":
        keys = _type(prop["propertyNames"]) if "enum" in prop.get("propertyNames", {}) else "name"
        values = prop.get("additionalProperties")
        return f"mapping {keys} -> {_type(values)}" if isinstance(values, dict) and values else "mapping"
    if kind is None:
        return "any"
    text = {"number": "number", "integer": "integer", "string": "string", "boolean": "boolean"}.get(
        kind, kind
    )
    bounds = [
        f"{symbol} {prop[key]}"
        for key, symbol in (
            ("exclusiveMinimum", ">"),
            ("minimum", ">="),
            ("exclusiveMaximum", "<"),
            ("maximum", "<="),
        )
        if key in prop
    ]
    if "pattern" in prop:
        bounds.append(f"matching `{prop['pattern']}`")
    return text + (f" ({', '.join(bounds)})" if bounds else "")


def _datasets() -> list[str]:
    from ganbench.registry import DATASETS

    lines = [
        '<a id="datasets"></a>',
        "",
        "## Datasets (built-in)",
        "",
        "An entry of `datasets` is a name below or `{name: ..., <parameter>: ..., label: ...}`; "
        "`label` names it in runs.csv and claims (default: the name). Presets are a parametric "
        "dataset with its parameters spelled out. `data_root` is the machine's, never part of a run.",
        "",
        "| dataset | parameter | type | default | about |",
        "|---|---|---|---|---|",
    ]
    for name in DATASETS.names():
        factory = DATASETS.get(name)
        if isinstance(factory, dict):
            params = ", ".join(f"{k}: {v}" for k, v in factory.items() if k != "name")
            lines.append(_row(f"`{name}`", "", "", "", f"preset: `{factory['name']}` with {params}"))
            continue
        about = " ".join((inspect.getdoc(factory) or "").split())
        parameters = [p for p in inspect.signature(factory).parameters.values() if p.name != "data_root"]
        for i, parameter in enumerate(parameters):
            default = (
                "required"
                if parameter.default is inspect.Parameter.empty
                else f"`{json.dumps(parameter.default)}`"
            )
            lines.append(
                _row(
                    f"`{name}`" if i == 0 else "",
                    parameter.name,
                    _annotation(parameter.annotation),
                    default,
                    about if i == 0 else "",
                )
            )
        if not parameters:
            lines.append(_row(f"`{name}`", "", "", "", about))
    return [*lines, ""]


def _annotation(annotation: Any) -> str:
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))
    aliases = {"Modes": "integer (1 to 10000)", "Side": "integer (1 to 100)", "Positive": "number (> 0)"}
    return aliases.get(text, text)


def _losses() -> list[str]:
    from ganbench.registry import LOSSES

    lines = [
        '<a id="losses"></a>',
        "",
        "## Losses (built-in)",
        "",
        "What a variant gets for `n_critic`, `clip` and `gp_weight` when it does not say, and the",
        "penalty `gp_weight` weighs (`gp`: WGAN-GP's on interpolates, `r1`: E||grad D(real)||^2, so",
        "gp_weight is R1's gamma / 2; `r2` and `dragan` are registered for losses of your own). A",
        "relativistic loss's generator also sees D(real).",
        "",
        "| loss | Wasserstein critic | relativistic | penalty | n_critic | clip | gp_weight |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in LOSSES.names():
        loss = LOSSES.get(name)
        clip = "none" if loss.default_clip is None else f"{loss.default_clip:g}"
        lines.append(
            _row(
                f"`{name}`",
                "yes" if loss.wasserstein else "no",
                "yes" if loss.relativistic else "no",
                f"`{loss.penalty}`" if loss.penalty else "none",
                str(loss.default_n_critic),
                clip,
                f"{loss.default_gp_weight:g}",
            )
        )
    return [*lines, ""]


def _metrics() -> list[str]:
    from ganbench.metrics import DERIVED_SCOPES, DERIVED_SUFFIXES
    from ganbench.registry import METRICS

    lines = [
        '<a id="metrics"></a>',
        "",
        "## Metrics",
        "",
        "What claims (`metric:`), `success:`, `tolerance.metrics` and `tune.objective` can name. "
        "`worst` is what a diverged run counts as in claims (empty: the worst value observed); "
        "the range clips the report's intervals; `kinds`: the dataset kinds it is computed for; "
        "`scope`: one value per run or per variant; `stage`: computed from the samples at each "
        "evaluation, from the training curves at the end, or by the leaderboard.",
        "",
        "| metric | better | range | worst | kinds | scope | stage | description |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, info in METRICS.items():
        low, high = info.bounds
        span = (
            ""
            if low is None and high is None
            else f"[{'-inf' if low is None else f'{low:g}'}, {'inf' if high is None else f'{high:g}'}]"
        )
        worst = "" if info.worst is None else f"{info.worst:g}"
        better = "higher" if info.higher_is_better else "lower"
        kinds = ", ".join(info.kinds) or "any"
        lines.append(_row(f"`{name}`", better, span, worst, kinds, info.scope, info.stage, info.description))
    for suffix, description in DERIVED_SUFFIXES.items():
        scope, stage = DERIVED_SCOPES[suffix]
        lines.append(_row(f"`<metric>{suffix}`", "lower", "[0, inf]", "", "any", scope, stage, description))
    return [*lines, ""]


def _names() -> list[str]:
    from ganbench.registry import ARCHS, CLAIM_TESTS, OPTIMIZERS

    return [
        '<a id="names"></a>',
        "",
        "## Other registered names",
        "",
        f"- architectures (`model.arch`): {', '.join(f'`{n}`' for n in ARCHS.names())}",
        f"- optimizers (`optimizer.name`): {', '.join(f'`{n}`' for n in OPTIMIZERS.names())}",
        f"- claim tests (`claims[].test`): {', '.join(f'`{n}`' for n in CLAIM_TESTS.names())}",
        "",
        "Custom losses, architectures, datasets and metrics: [extending.md](extending.md).",
        "",
    ]


# ----------------------------------------------------------------------------- files


def generated() -> dict[str, str]:
    """File name -> content of the generated reference."""
    return {
        SCHEMA_FILE: json.dumps(suite_schema(), indent=2, ensure_ascii=False) + "\n",
        REFERENCE_FILE: reference_markdown(),
    }


def write(folder: Path) -> list[Path]:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in generated().items():
        path = folder / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def stale(folder: Path) -> list[str]:
    """The generated files in `folder` that are missing or differ from what the code says."""
    out = []
    for name, text in generated().items():
        path = Path(folder) / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            out.append(str(path))
    return out
