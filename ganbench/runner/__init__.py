"""Planning and execution of work units: group specs into ensembles, place them on devices."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ganbench.runner.plan import WorkUnit, parse_devices, plan_units, small_job

__all__ = ["WorkUnit", "parse_devices", "plan_units", "small_job"]


def __getattr__(name: str) -> Any:
    # Lazy (PEP 562): plan imports torch, and `ganbench validate` / `list` (which import
    # runner.interrupts, and so this package) must not.
    if name in __all__:
        from ganbench.runner import plan

        return getattr(plan, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
