"""Name -> factory tables for every pluggable piece (losses, archs, datasets, metrics, optimizers).

A name is either a registered key (``"wgan"``) or an import path (``"my_pkg.losses:relativistic"``),
so user code plugs in without touching ganbench. Lookups of unknown names raise ``UnknownName``
with a "did you mean" hint, which the suite loader turns into a one-line error.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class UnknownName(KeyError):
    """A registry lookup failed; the message already names the choices."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain
        return str(self.args[0])


class Registry(Generic[T]):
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def add(obj: T) -> T:
            self.add(name, obj)
            return obj

        return add

    def add(self, name: str, obj: T) -> None:
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._entries[name] = obj

    def get(self, name: str) -> T:
        if name not in self._entries:
            load_builtins()  # a fresh worker process may not have imported them yet
        if name in self._entries:
            return self._entries[name]
        if ":" in name:
            return _import_path(name, self.kind)
        raise UnknownName(f"unknown {self.kind} {_short(name)}{did_you_mean(name, self._entries)}")

    def __contains__(self, name: str) -> bool:
        load_builtins()
        return name in self._entries or ":" in name

    def __iter__(self) -> Iterator[str]:
        load_builtins()
        return iter(sorted(self._entries))

    def items(self) -> list[tuple[str, T]]:
        load_builtins()
        return sorted(self._entries.items())


def did_you_mean(name: str, choices: Any) -> str:
    # (a long name is no typo of a short one, and difflib is quadratic in it)
    close = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1) if len(str(name)) < 200 else []
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    names = sorted(str(c) if len(str(c)) <= 80 else str(c)[:77] + "..." for c in choices)
    listed = ", ".join(names[:30]) + (f", ... ({len(names)} in all)" if len(names) > 30 else "")
    return f"{hint}; expected one of: {listed}"


def _import_path(path: str, kind: str) -> Any:
    module_name, _, attr = path.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (Exception, SystemExit) as err:  # noqa: BLE001 - a plugin that fails on import is bad input
        reason = " ".join(str(err).split())[:200] or type(err).__name__
        if not isinstance(err, (ImportError, AttributeError)):
            reason = f"{type(err).__name__}: {reason}"
        raise UnknownName(f"cannot import {kind} {_short(path)}: {reason}") from None


def _short(value: Any) -> str:
    """A user's name in a message: one line, at most 80 characters."""
    text = " ".join(repr(value).split())
    return text if len(text) <= 80 else text[:77] + "..."


LOSSES: Registry[Any] = Registry("loss")
ARCHS: Registry[Any] = Registry("arch")
DATASETS: Registry[Any] = Registry("dataset")
METRICS: Registry[Any] = Registry("metric")
OPTIMIZERS: Registry[Any] = Registry("optimizer")


_loading = False


def load_builtins() -> None:
    """Import the modules whose decorators fill the tables (idempotent, re-entrancy safe)."""
    global _loading
    if _loading:
        return
    _loading = True
    import ganbench.data  # noqa: F401
    import ganbench.losses  # noqa: F401
    import ganbench.metrics  # noqa: F401
    import ganbench.models  # noqa: F401
    import ganbench.optim  # noqa: F401
