"""What every part of the suite schema shares: the strict base model, the constrained numbers and
the registry-name check of its validators."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from ganbench.registry import UnknownName

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
