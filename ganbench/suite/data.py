"""`datasets:` entries: a registry name, a preset or ``{name: ..., **params}``, resolved to explicit
parameters checked against the dataset factory's signature and annotations."""

from __future__ import annotations

import inspect
import typing
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from ganbench import safe_yaml
from ganbench.errors import BadInput
from ganbench.registry import DATASETS, UnknownName, did_you_mean


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
