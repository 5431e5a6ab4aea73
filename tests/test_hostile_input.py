"""Hostile suite files through the real CLI: exit 2, exactly one line on stderr, no traceback,
in bounded time and memory, for crafted cases and for >= 500 generated malformed suites."""

from __future__ import annotations

import contextlib
import copy
import io
import math
import os
import resource
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ganbench.cli import main
from ganbench.safe_yaml import MAX_BYTES

VALID = """
name: hostile
defaults:
  steps: 20
  batch_size: 32
  eval_every: 10
  eval_samples: 200
  model: {arch: mlp, hidden: 16, depth: 2, z_dim: 2}
datasets: [ring8, {name: grid, side: 3, spacing: 2.0, std: 0.05, label: grid9}]
seeds: 2
variants:
  gan: {loss: ns, optimizer: {name: adam, lr: 1.0e-3, betas: [0.5, 0.999]}}
  wgan: {loss: wgan, clip: 0.05, n_critic: 2, optimizer: {name: rmsprop, lr: 1.0e-3}}
claims:
  - {id: c1, metric: w1, better: gan, worse: wgan, expect: inconclusive}
"""
TIME_S = 5.0  # per case: generous for a loaded 2-core machine; typical cases take milliseconds
LINE_CHARS = 600  # an error line echoes at most ~80 characters of any user value


def cli(argv: list[str]) -> tuple[int, str, str, float]:
    out, err = io.StringIO(), io.StringIO()
    started = time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue(), time.perf_counter() - started


def assert_one_line_error(code: int, err: str, seconds: float, expected: str = "") -> None:
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and "Traceback" not in err, err
    assert len(lines[0]) <= LINE_CHARS, lines[0][:200]
    assert seconds < TIME_S
    assert expected in lines[0], lines[0]


def validate(path: Path, expected: str = "") -> str:
    code, _, err, seconds = cli(["validate", str(path)])
    assert_one_line_error(code, err, seconds, expected)
    return err


def write_text(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "suite.yaml"
    path.write_text(text)
    return path


BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
    for p, c in zip("abcdefgh", "bcdefghi", strict=True)
)


@pytest.mark.parametrize(
    "text, expected",
    [
        (VALID + "name: twice\n", "duplicate key 'name'"),
        (VALID.replace("seeds: 2", "seeds: [0, 0, 1]"), "seeds[1]: seed 0 is listed twice"),
        (VALID.replace("seeds: 2", "seeds: []"), "seeds"),
        (VALID.replace("seeds: 2", "seeds: 1.0e+7"), "maximum of 100,000 runs"),
        (VALID.replace("seeds: 2", "seeds: 10000000"), "maximum of 100,000 runs"),
        (VALID.replace("seeds: 2", "seeds: 1.0e+30"), "seeds"),
        (VALID.replace("seeds: 2", "seeds: 1e30"), "seeds"),  # YAML 1.1: a string
        (VALID.replace("side: 3", "side: 0"), "datasets[1].side"),
        (VALID.replace("ring8,", "{name: ring, modes: 0},"), "datasets[0].modes"),
        (
            VALID.replace("ring8,", "{name: ring, modes: 2.5},"),
            "datasets[0].modes: Input should be a valid integer",
        ),
        (VALID.replace("std: 0.05", "std: .nan"), "datasets[1].std: Input should be a finite number"),
        (VALID.replace("std: 0.05", "std: -1"), "datasets[1].std: Input should be greater than 0"),
        (VALID.replace("std: 0.05", "std: 0"), "datasets[1].std"),
        (VALID.replace("ring8,", "{name: ring, label: [1, 2]},"), "datasets[0].label"),
        ("a: " + "[" * 300 + "]" * 300 + "\n", "nested too deeply"),
        (BOMB, "expands to more than"),
        ("a: &x [*x]\n", "recursive"),
        ("- just\n- a list\n", "expected a mapping"),
        ("", "expected a mapping"),
        ("name: x\n\tdatasets: []\n", "YAML syntax error"),
        (VALID.replace("seeds: 2", "seeds: '" + "x" * 100_000 + "'"), "seeds"),
        (VALID.replace("loss: ns", "loss: " + "n" * 50_000), "unknown loss"),
        (VALID.replace("name: hostile", "name: !!python/object/apply:os.system ['true']"), "YAML"),
    ],
)
def test_crafted_suites(tmp_path, text, expected):
    err = validate(write_text(tmp_path, text), expected)
    assert len(err) < LINE_CHARS + 10


def test_alias_bomb_is_refused_in_bounded_memory(tmp_path):
    path = write_text(tmp_path, BOMB)
    assert len(BOMB) < 1400  # expands to 9^9 = 387 million strings
    tracemalloc.start()
    try:
        validate(path, "expands to more than")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 32 * 2**20


def test_oversized_non_utf8_and_non_regular_files(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("# " + "x" * MAX_BYTES + "\n")
    validate(big, "more than the maximum")
    latin = tmp_path / "latin1.yaml"
    latin.write_bytes(VALID.replace("hostile", "hostil\xe9").encode("latin-1"))
    validate(latin, "not UTF-8")
    validate(tmp_path, "a directory")
    validate(Path("/dev/zero"), "not a regular file")
    validate(tmp_path / "missing.yaml", "cannot read suite file")


def test_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "suite.yaml"
    os.mkfifo(fifo)

    def unblock():  # if the CLI ever opened the FIFO, give it EOF rather than hang the tests
        with contextlib.suppress(OSError):
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))

    timer = threading.Timer(TIME_S, unblock)
    timer.daemon = True
    timer.start()
    try:
        validate(fifo, "not a regular file")
    finally:
        timer.cancel()


def test_plugin_that_raises_on_import_is_one_line(tmp_path, monkeypatch):
    (tmp_path / "badplugin.py").write_text("x = 1 / 0\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    path = write_text(tmp_path, VALID.replace("loss: ns", "loss: badplugin:loss"))
    validate(path, "cannot import loss 'badplugin:loss': ZeroDivisionError: division by zero")
    code, _, err, seconds = cli(["run", str(path), "--out", str(tmp_path / "o"), "--devices", "cpu"])
    assert_one_line_error(code, err, seconds, "ZeroDivisionError")


# ----------------------------------------------------------------------------- generated cases

BASE = yaml.safe_load(VALID)
JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.text(min_size=2000, max_size=3000),
    st.lists(st.integers(), max_size=5),
    st.dictionaries(st.text(max_size=8), st.integers(), max_size=3),
    st.sampled_from(["ring8", "grid25", "wgan", "adam", "nan", "-1", "1e30", "mlp", ":", "x:y"]),
)
KEYS = st.sampled_from(
    ["name", "datasets", "seeds", "variants", "defaults", "claims", "tune", "success", "sweep", "loss",
     "optimizer", "lr", "betas", "model", "hidden", "steps", "clip", "modes", "std", "label", "unknown_key"]
)  # fmt: skip


def paths(tree, prefix=()):
    yield prefix
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from paths(value, (*prefix, key))
    elif isinstance(tree, list):
        for i, value in enumerate(tree):
            yield from paths(value, (*prefix, i))


@st.composite
def mutated(draw):
    """The valid suite with 1-4 mutations: a value replaced by junk, a key deleted, an unknown
    key added, a list item duplicated; then a fault that makes it malformed for sure."""
    suite = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 4))):
        where = draw(st.sampled_from(list(paths(suite))[1:]))
        parent = suite
        for part in where[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["replace", "delete", "add", "duplicate"]))
        if action == "replace":
            parent[where[-1]] = draw(JUNK)
        elif action == "delete":
            del parent[where[-1]]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(KEYS)] = draw(JUNK)
        elif isinstance(parent, list):
            parent.append(copy.deepcopy(parent[where[-1]]))
    # Sure faults, one of: an unknown key somewhere strict, a negative lr, a wrong type at the top.
    fault = draw(st.sampled_from(["unknown_top", "unknown_variant", "bad_lr", "name_type", "none"]))
    if fault == "unknown_top":
        suite["unknown_key_" + draw(st.text("abc", min_size=1, max_size=3))] = draw(JUNK)
    elif fault == "unknown_variant" and isinstance(suite.get("variants"), dict):
        suite["variants"]["broken"] = {"loss": "ns", "no_such_key": draw(JUNK)}
    elif fault == "bad_lr" and isinstance(suite.get("variants"), dict):
        suite["variants"]["broken"] = {"optimizer": {"lr": -draw(st.floats(0, 1e9))}}
    elif fault == "name_type":
        suite["name"] = draw(st.one_of(st.integers(), st.lists(st.integers()), st.just("bad name!")))
    return yaml.safe_dump(suite, sort_keys=False, allow_unicode=True)


TOKENS = st.sampled_from(
    ["name:", "datasets:", "variants:", "seeds:", " ", "\n", "  ", "- ", "[", "]", "{", "}", ",", ":",
     "&a ", "*a", "!!str ", "!!float ", "'", '"', "#", "\t", "ring8", "1e30", "-1", ".nan", "~", "<<: *a",
     "%YAML 1.1\n", "---\n", "...\n", "\x00", "\ufeff", "é", "|\n", ">\n", "? "]
)  # fmt: skip
RAW = st.one_of(
    st.lists(TOKENS, max_size=60).map("".join),
    st.text(max_size=300),
    st.binary(max_size=300).map(lambda b: b.decode("latin-1")),
)


RESULTS: list[int] = []


@settings(
    max_examples=650, deadline=None, suppress_health_check=list(HealthCheck), database=None, derandomize=True
)
@given(st.one_of(mutated(), mutated(), mutated(), RAW))
def test_generated_malformed_suites(text):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "suite.yaml"
        path.write_bytes(text.encode("utf-8", errors="surrogatepass"))
        code, out, err, seconds = cli(["validate", str(path)])
    assert seconds < TIME_S, text[:200]
    assert "Traceback" not in err and "Traceback" not in out
    if code == 0:  # a mutation that happened to stay valid (rare): then nothing on stderr
        assert err == "" and out.count("\n") == 1
    else:
        assert_one_line_error(code, err, seconds)
    RESULTS.append(code)


def test_generated_cases_were_malformed_and_memory_stayed_bounded():
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if not RESULTS:
        pytest.skip("runs after test_generated_malformed_suites")
    assert RESULTS.count(2) >= 500, (len(RESULTS), RESULTS.count(0))
    assert rss_mb < 4096 and math.isfinite(rss_mb)
