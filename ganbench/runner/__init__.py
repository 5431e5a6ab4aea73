"""Planning and execution of work units: group specs into ensembles, place them on devices."""

from ganbench.runner.plan import WorkUnit, parse_devices, plan_units

__all__ = ["WorkUnit", "parse_devices", "plan_units"]
