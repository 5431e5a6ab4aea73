"""Reading suite files that may be hostile: bounded in size, depth and alias expansion, strict.

A suite file is read only if it is a regular file of at most ``MAX_BYTES`` (a FIFO or a device
would block or never end), decoded as strict UTF-8, and parsed by a safe loader that

- rejects duplicate keys in a mapping (YAML keeps the last one silently),
- composes the document first and measures it before building any Python object: the number of
  nodes it expands to, following aliases (``MAX_NODES``; a 1.3 KB "billion laughs" alias bomb
  expands to hundreds of millions), its nesting depth (``MAX_DEPTH``) and recursive aliases.

Every problem is a ``BadInput`` whose message is one line. ``short`` renders a value for an error
message in at most ``ECHO_CHARS`` characters without walking all of it.
"""

from __future__ import annotations

import os
import reprlib
import stat
from pathlib import Path
from typing import Any

import yaml

from ganbench.errors import BadInput

MAX_BYTES = 1_000_000  # a suite file is a few KB; 1 MB leaves room for long sweeps and claims
MAX_NODES = 100_000  # scalars, lists and mappings after alias expansion
MAX_DEPTH = 64  # nesting of lists and mappings
ECHO_CHARS = 80  # longest rendering of a user's value inside an error message

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class StrictLoader(_Base):
    """SafeLoader that refuses duplicate mapping keys."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *base` merges are resolved by flatten_mapping below
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:  # an unhashable key: let SafeConstructor report it
                break
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {short(key)}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def short(value: Any, limit: int = ECHO_CHARS) -> str:
    """repr(value) cut to `limit` characters, without rendering all of a huge nested value."""
    r = reprlib.Repr()
    r.maxlevel, r.maxlist, r.maxdict, r.maxtuple, r.maxset = 3, 8, 8, 8, 8
    r.maxstring = r.maxother = r.maxlong = limit
    text = " ".join(r.repr(value).split())  # one line, whatever the value holds
    return text if len(text) <= limit else text[: limit - 3] + "..."


def read_text(path: Path) -> str:
    """The file's text, if it is a regular file of at most MAX_BYTES of UTF-8."""
    try:
        info = os.stat(path)  # stat, not open: opening a FIFO blocks until a writer comes
    except OSError as err:
        raise BadInput(f"{path}: cannot read suite file: {err.strerror or err}") from None
    if not stat.S_ISREG(info.st_mode):
        kind = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise BadInput(f"{path}: cannot read suite file: {kind}")
    if info.st_size > MAX_BYTES:
        raise BadInput(f"{path}: suite file is {info.st_size:,} bytes, more than the maximum {MAX_BYTES:,}")
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as err:
        raise BadInput(f"{path}: cannot read suite file: {err.strerror or err}") from None
    if len(data) > MAX_BYTES:  # it grew after the stat
        raise BadInput(f"{path}: suite file is more than the maximum {MAX_BYTES:,} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise BadInput(
            f"{path}:{line}: not UTF-8 text (byte 0x{data[err.start]:02x} at offset {err.start})"
        ) from None


def load(text: str, path: Path) -> Any:
    """Parse one YAML document with the bounds above; BadInput on any problem."""
    loader = StrictLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _measure(node, path)
        return loader.construct_document(node)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or (str(err).splitlines() or ["invalid YAML"])[0]
        raise BadInput(f"{path}{where}: YAML syntax error: {' '.join(str(problem).split())}") from None
    except RecursionError:
        raise BadInput(f"{path}: YAML nested too deeply (more than {MAX_DEPTH} levels)") from None
    except (ValueError, TypeError, IndexError, OverflowError, KeyError) as err:
        # PyYAML's constructors fail on some tagged scalars (`!!float` with no digits: IndexError,
        # `!!int x`: ValueError, a huge `!!timestamp` year: OverflowError).
        reason = " ".join(f"{type(err).__name__}: {err}".split())[:120]
        raise BadInput(f"{path}: YAML value that cannot be read ({reason})") from None
    finally:
        loader.dispose()


def _measure(root: yaml.Node, path: Path) -> None:
    """Expanded size and depth of the node graph, each shared (aliased) node measured once."""
    sizes: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded nodes, depth)
    active: set[int] = set()  # nodes on the current path: seeing one again is a recursive alias
    # Iterative post-order walk: a recursive one would overflow Python's stack on deep input.
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            kids = _children(node)
            size = 1 + sum(sizes[id(k)][0] for k in kids)
            depth = 1 + max((sizes[id(k)][1] for k in kids), default=0)
            active.discard(key)
            sizes[key] = (size, depth)
            if size > MAX_NODES:
                mark = node.start_mark
                raise BadInput(
                    f"{path}:{mark.line + 1}: YAML expands to more than {MAX_NODES:,} values "
                    "(aliases of aliases?); refusing to build it"
                )
            if depth > MAX_DEPTH:
                raise BadInput(f"{path}: YAML nested too deeply (more than {MAX_DEPTH} levels)")
            continue
        if key in sizes:
            continue
        if key in active:
            mark = node.start_mark
            raise BadInput(f"{path}:{mark.line + 1}: recursive YAML alias (a value contains itself)")
        active.add(key)
        if len(active) > MAX_DEPTH:
            raise BadInput(f"{path}: YAML nested too deeply (more than {MAX_DEPTH} levels)")
        stack.append((node, True))
        for kid in _children(node):
            if id(kid) in active:
                mark = kid.start_mark
                raise BadInput(f"{path}:{mark.line + 1}: recursive YAML alias (a value contains itself)")
            if id(kid) not in sizes:
                stack.append((kid, False))


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []
