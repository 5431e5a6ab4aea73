"""Variants: ``defaults`` deep-merged with each variant's keys and validated as a ``TrainConfig``,
and a swept variant expanded into its configurations (ganbench/sweep.py does the expanding)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ganbench.errors import BadInput
from ganbench.suite.file import SuiteFile
from ganbench.suite.messages import _format_error, _validate, first_error
from ganbench.suite.spec import Config
from ganbench.suite.train_config import TrainConfig
from ganbench.sweep import SweepConfig, expand, nested
from ganbench.sweep import label as config_label


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


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged
