"""Can worker processes be spawned from here? The local runner starts its workers with the "spawn"
method (fork after torch has started threads is unsafe), and a spawned child first re-imports the
parent's ``__main__`` script. A script that calls ``ganbench.run(...)`` at top level, without an
``if __name__ == "__main__":`` guard, would then run the whole suite again in every child (which
Python stops with a RuntimeError). ``spawn_safe`` tells these cases apart, so the API can run the
suite in-process instead of failing.

Safe: a ``__main__`` without a file (a notebook kernel, ``python -c``, the REPL), or a call made
from inside a ``__name__ == "__main__"`` block of the main script (ganbench's own CLI, pytest).
Unsafe: the call is reached from the main script's top-level code outside such a block, or the
script's source cannot be read to tell.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path
from types import FrameType


def spawn_safe() -> bool:
    """True when spawned children can re-import ``__main__`` without re-running this call."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if main is None or not path:
        return True
    frame = _main_module_frame(main.__dict__)
    if frame is None:  # not called from the main script's top-level code (a thread, atexit, ...)
        return True
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return False
    return any(_is_main_guard(node) and _spans(node, frame.f_lineno) for node in tree.body)


def _main_module_frame(main_globals: dict) -> FrameType | None:
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_globals is main_globals and frame.f_code.co_name == "<module>":
            return frame
        frame = frame.f_back
    return None


def _is_main_guard(node: ast.stmt) -> bool:
    """`if __name__ == "__main__":` (either operand order)."""
    if not isinstance(node, ast.If) or not isinstance(node.test, ast.Compare):
        return False
    test = node.test
    if len(test.ops) != 1 or not isinstance(test.ops[0], ast.Eq):
        return False
    sides = [test.left, test.comparators[0]]
    names = [s.id for s in sides if isinstance(s, ast.Name)]
    constants = [s.value for s in sides if isinstance(s, ast.Constant)]
    return names == ["__name__"] and constants == ["__main__"]


def _spans(node: ast.If, line: int) -> bool:
    """Whether `line` is in the guarded body (not in an `else:` branch)."""
    first, last = node.body[0].lineno, node.body[-1].end_lineno or node.body[-1].lineno
    return first <= line <= last
