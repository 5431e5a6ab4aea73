"""Validation errors in one line, `file: key.path: what was expected, got X`, with the key path as
the suite spells it (the model union's tag left out) and "did you mean" for unknown keys."""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from ganbench import safe_yaml
from ganbench.errors import BadInput
from ganbench.registry import did_you_mean
from ganbench.suite.base import Strict
from ganbench.suite.models import LEGACY_MODEL_KEYS, MODEL_CLASSES


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


def _validate(model: type[Strict], raw: dict[str, Any], path: Path, prefix: tuple[Any, ...]) -> Any:
    try:
        return model.model_validate(raw)
    except ValidationError as err:
        raise BadInput(_format_error(err, path, prefix, model)) from None


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
