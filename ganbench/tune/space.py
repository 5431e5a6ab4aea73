"""The search space (`tune.space`): key paths into a variant, each with a distribution.

A trial's values become overrides ``variants.<variant>.<key path>``, the mechanism of `--set`, so
the suite loader merges and validates them exactly as it does a variant's own keys. The space is
checked before any trial: each distribution's grammar, then each bound (each choice) through the
same loader, so a bad key path or value is one line naming `tune.space.<key>`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from ganbench.errors import BadInput
from ganbench.suite import Suite, variant_body
from ganbench.sweep import check_distribution

Space = dict[str, dict[str, list[Any]]]
Loader = Callable[[dict[str, Any]], Suite]  # the suite as the trials load it, with extra overrides
PRIMITIVE = (type(None), bool, int, float, str)  # what Optuna stores as a categorical value


def overrides(variant: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """A trial's values as suite overrides (dotted key paths from the suite's top)."""
    return {f"variants.{variant}.{key}": value for key, value in values.items()}


def suggest(trial: Any, space: Space) -> dict[str, Any]:
    """One value per key path; choices Optuna cannot store (lists) travel as JSON strings."""
    values = {}
    for key, spec in space.items():
        ((kind, bounds),) = spec.items()
        if kind == "log_uniform":
            values[key] = trial.suggest_float(key, bounds[0], bounds[1], log=True)
        elif kind == "uniform":
            values[key] = trial.suggest_float(key, bounds[0], bounds[1])
        elif kind == "int":
            values[key] = trial.suggest_int(key, bounds[0], bounds[1])
        else:
            values[key] = trial.suggest_categorical(
                key, [json.dumps(c) for c in bounds] if _encoded(bounds) else bounds
            )
    return decode(space, values)


def decode(space: Space, params: Mapping[str, Any]) -> dict[str, Any]:
    """Optuna's stored params -> the values that go into the variant."""
    decoded = {}
    for key, value in params.items():
        ((kind, bounds),) = space[key].items()
        decoded[key] = json.loads(value) if kind == "choice" and _encoded(bounds) else value
    return decoded


def _encoded(choices: list[Any]) -> bool:
    return not all(isinstance(c, PRIMITIVE) for c in choices)


def variant_spaces(suite: Suite, per_variant: bool, load: Loader) -> dict[str, Space]:
    """The variants to tune and the space of each, every bound validated (BadInput otherwise).

    The space is written for `tune.variant`; with per_variant, another variant gets only the keys
    the suite sets for it (in `defaults` or its own keys), so tuning never switches on a mechanism
    (clipping, a penalty, EMA) that the variant does not use."""
    tune = suite.file.tune
    spaces = {tune.variant: dict(tune.space)}
    if per_variant:
        for variant in suite.variants:
            if variant != tune.variant:
                body = variant_body(suite.file, variant)
                spaces[variant] = {k: v for k, v in tune.space.items() if _has_path(body, k)}
    for variant, space in spaces.items():
        check_space(suite, variant, space, load)
    return {variant: space for variant, space in spaces.items() if space}


def _has_path(tree: dict[str, Any], path: str) -> bool:
    node: Any = tree
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def check_space(suite: Suite, variant: str, space: Space, load: Loader) -> None:
    swept = {path for s in suite.specs if s.variant == variant for path in s.swept}
    for key, spec in space.items():
        where = f"{suite.path}: tune.space.{key}"
        clash = next((p for p in sorted(swept) if _overlaps(key, p)), None)
        if clash is not None:  # the sweep's values would replace the trial's, silently
            raise BadInput(
                f"{where}: variants.{variant} also sweeps {clash!r}; a trial's value would be replaced "
                "by the sweep's: tune the key or sweep it, not both"
            )
        problem = check_distribution(spec)
        if problem:
            raise BadInput(f"{where}: {problem}" if len(spec) != 1 else f"{where}.{problem}")
        ((_, bounds),) = spec.items()
        for bound in bounds:
            _check_value(suite, where, variant, key, bound, load)


def _overlaps(a: str, b: str) -> bool:
    """Whether key paths a and b name the same value or one holds the other (optimizer, optimizer.lr)."""
    return a == b or a.startswith(f"{b}.") or b.startswith(f"{a}.")


def _check_value(suite: Suite, where: str, variant: str, key: str, value: Any, load: Loader) -> None:
    """Load the suite with this one value set, as a trial would; re-word the loader's error."""
    try:
        load(overrides(variant, {key: value}))
    except BadInput as err:
        message = str(err).removeprefix(f"{suite.path}: ")
        at, _, problem = message.partition(": ")
        raise BadInput(f"{where}: {problem or at} (value {value!r}, variant {variant})") from None
