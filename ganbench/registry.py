"""Name -> factory tables for every pluggable piece (losses, archs, datasets, metrics, optimizers).

A name is either a registered key (``"wgan"``) or an import path (``"my_pkg.losses:relativistic"``),
so user code plugs in without touching ganbench. Lookups of unknown names raise ``UnknownName``
with a "did you mean" hint, which the suite loader turns into a one-line error.

Built-ins are *declared* here by name and the module that registers them, and that module is
imported on the first lookup of one of its names: `ganbench validate` and `ganbench list` learn
every name without importing torch (tests/test_cold_start.py). ``check`` tells whether a name
exists without importing anything; ``get`` returns the implementation.

Installed packages extend every registry through the entry-point group ``ganbench.plugins``
(``[project.entry-points."ganbench.plugins"] my_gan = "my_gan.ganbench_plugin"``): each entry is a
module, imported, or a callable, called, that registers (or declares) its names. Plugins are
loaded once, on the first lookup of a name that is neither registered, declared nor an import
path, so a suite naming only built-ins never imports them (nor torch).
"""

from __future__ import annotations

import difflib
import importlib
import types
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class UnknownName(KeyError):
    """A registry lookup failed; the message already names the choices."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain
        return str(self.args[0])


class Registry(Generic[T]):
    """Names -> implementations of one kind. ``add`` checks what it is given (``accepts``, with
    ``expects`` saying what in words), so a wrong piece fails where it is registered, in one
    line, and not in the middle of a run."""

    def __init__(
        self, kind: str, accepts: Callable[[Any], bool] = callable, expects: str = "a callable"
    ) -> None:
        self.kind = kind
        self.accepts, self.expects = accepts, expects
        self._entries: dict[str, T] = {}
        self._declared: dict[str, str] = {}  # built-in name -> module that registers it on import

    def declare(self, module: str, *names: str) -> None:
        """Names that `module` registers when imported; it is imported on first use of one."""
        for name in names:
            self._declared[name] = module

    def names(self) -> list[str]:
        """Every known name, declared or registered, without importing anything."""
        return sorted({*self._declared, *self._entries})

    def check(self, name: str) -> str:
        """`name` if it is known (an import path is imported to check it), else UnknownName."""
        if name in self._entries or name in self._declared:
            return name
        self.get(name)
        return name

    def register(self, name: str) -> Callable[[T], T]:
        def add(obj: T) -> T:
            self.add(name, obj)
            return obj

        return add

    def add(self, name: str, obj: T) -> None:
        if not isinstance(name, str) or not name or ":" in name:
            raise ValueError(f"{self.kind} name {name!r}: expected a non-empty name without ':'")
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        if not self.accepts(obj):
            raise TypeError(f"{self.kind} {name!r}: expected {self.expects}, got {type(obj).__name__}")
        self._entries[name] = obj

    def get(self, name: str) -> T:
        if name not in self._entries and name in self._declared:
            importlib.import_module(self._declared[name])  # registers it (and its neighbours)
        if name in self._entries:
            return self._entries[name]
        if ":" not in name and load_plugins():  # a plugin may register (or declare) it
            return self.get(name)
        if ":" in name:
            return _import_path(name, self.kind)
        raise UnknownName(f"unknown {self.kind} {_short(name)}{did_you_mean(name, self.names())}")

    def __contains__(self, name: str) -> bool:
        return name in self._entries or name in self._declared or ":" in name

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def registered(self) -> list[T]:
        """What is registered now, in registration order (imports nothing)."""
        return list(self._entries.values())

    def items(self) -> list[tuple[str, T]]:
        """(name, implementation) pairs: imports every declared module."""
        return [(name, self.get(name)) for name in self.names()]


def did_you_mean(name: str, choices: Any) -> str:
    # (a long name is no typo of a short one, and difflib is quadratic in it)
    close = (
        difflib.get_close_matches(str(name), [str(c) for c in choices], n=1) if len(str(name)) < 200 else []
    )
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


def _has(*attributes: str) -> Callable[[Any], bool]:
    return lambda obj: all(hasattr(obj, a) for a in attributes)


LOSSES: Registry[Any] = Registry("loss", _has("d_loss", "g_loss"), "a ganbench.losses.GanLoss")
ARCHS: Registry[Any] = Registry("arch")
MODULES: Registry[Any] = Registry("module")  # nn.Module classes that `arch: module` builds, by name
DATASETS: Registry[Any] = Registry(  # a factory, or a preset: a dict of parameters naming one
    "dataset",
    lambda obj: callable(obj) or (isinstance(obj, dict) and "name" in obj),
    "a factory or a preset dict",
)
METRICS: Registry[Any] = Registry(
    "metric", _has("higher_is_better", "compute"), "a ganbench.metrics.MetricInfo (use @metric)"
)  # filled at once when ganbench.metrics loads (no torch)
OPTIMIZERS: Registry[Any] = Registry("optimizer")
PENALTIES: Registry[Any] = Registry("penalty")  # critic penalties a loss names (ganbench.losses)
EVALUATORS: Registry[Any] = Registry("evaluator")  # dataset kind -> its metrics' view (ganbench.metrics)
CLAIM_TESTS: Registry[Any] = Registry(
    "claim test", _has("two_sample", "one_sample"), "a ganbench.claims.ClaimTest"
)  # ganbench.claims.ClaimTest
BACKENDS: Registry[Any] = Registry(
    "backend", _has("from_options", "run"), "a ganbench.runner.backends.Backend class"
)  # where work units train: --backend NAME

CATALOGUE = "ganbench.metrics"  # registers every built-in metric's MetricInfo at once (no torch)

# The built-ins: (registry, module that registers them, names). A test imports each module and
# checks that it registers exactly these names.
BUILTINS: list[tuple[Registry[Any], str, tuple[str, ...]]] = [
    (
        LOSSES,
        "ganbench.losses",
        ("hinge", "lsgan", "mm", "ns", "ns-r1", "rasgan", "rsgan", "wgan", "wgan-gp"),
    ),
    (PENALTIES, "ganbench.losses", ("dragan", "gp", "r1", "r2")),
    (ARCHS, "ganbench.models.mlp", ("mlp",)),
    (ARCHS, "ganbench.models.dcgan", ("dcgan",)),
    (ARCHS, "ganbench.models.resnet", ("resnet",)),
    (ARCHS, "ganbench.models.module", ("module",)),
    (DATASETS, "ganbench.data.toy", ("grid", "grid25", "ring", "ring8")),
    (
        DATASETS,
        "ganbench.data.images",
        ("celeba", "cifar10", "digits", "fashion_mnist", "imagefolder", "mnist"),
    ),
    (OPTIMIZERS, "ganbench.optim", ("adam", "rmsprop", "sgd")),
    (EVALUATORS, "ganbench.metrics.toy", ("toy",)),
    (EVALUATORS, "ganbench.metrics.images", ("image",)),
    (CLAIM_TESTS, "ganbench.claims.stat_tests", ("bootstrap", "mannwhitney", "permutation", "welch")),
    (BACKENDS, "ganbench.runner.local", ("local",)),
    (BACKENDS, "ganbench.runner.ray_backend", ("ray",)),
    (BACKENDS, "ganbench.runner.slurm_backend", ("slurm",)),
]
for _registry, _module, _names in BUILTINS:
    _registry.declare(_module, *_names)


def load_builtins() -> None:
    """Import every built-in implementation and installed plugin now (idempotent): lookups do it
    lazily anyway."""
    for module in dict.fromkeys([CATALOGUE, *(module for _, module, _ in BUILTINS)]):
        importlib.import_module(module)
    load_plugins()


PLUGIN_GROUP = "ganbench.plugins"
_plugins_loaded = False


def load_plugins() -> bool:
    """Load the installed plugins (entry-point group ``ganbench.plugins``) unless done already;
    True when this call loaded them. A plugin that fails to load is bad input (UnknownName)."""
    global _plugins_loaded
    if _plugins_loaded:
        return False
    _plugins_loaded = True  # first, so that a plugin's own lookups do not load it again
    from importlib.metadata import entry_points

    for entry in entry_points(group=PLUGIN_GROUP):
        try:
            plugin = entry.load()
            if callable(plugin) and not isinstance(plugin, types.ModuleType):
                plugin()
        except (Exception, SystemExit) as err:  # noqa: BLE001 - a broken plugin is one line
            reason = " ".join(str(err).split())[:200] or type(err).__name__
            raise UnknownName(
                f"cannot load ganbench plugin {entry.name!r} ({entry.value}): {type(err).__name__}: {reason}"
            ) from None
    return True
