"""Moved to ``ganbench.files`` (a bottom-layer utility that tracking and samples use too); these
names stay importable from here for the runner's modules."""

from ganbench.files import output_error, write_atomic, write_if_changed

__all__ = ["output_error", "write_atomic", "write_if_changed"]
