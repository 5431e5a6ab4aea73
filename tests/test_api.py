"""The Python API: `ganbench.run` / `ganbench.load_suite` with a path, a dict or a Suite; plain
scripts without a main guard; the quickstart notebook."""

from __future__ import annotations

import copy
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

import ganbench
from ganbench.errors import BadInput
from tests.conftest import TINY_SUITE

ROOT = Path(__file__).resolve().parent.parent
SUITE = yaml.safe_load(TINY_SUITE)


def test_run_takes_a_dict_and_returns_the_tables(tmp_path):
    suite = copy.deepcopy(SUITE)
    outcome = ganbench.run(suite, steps=20, seeds=1, out=str(tmp_path / "out"), runs_per_device=1, quiet=True)
    assert suite == SUITE  # the caller's dict is not changed
    assert outcome.out_dir == tmp_path / "out" and outcome.trained == 4
    assert set(outcome.runs["variant"]) == {"gan", "wgan", "noise", "data"}
    assert (outcome.runs["steps_done"][outcome.runs["status"] == "finished"] == 20).all()
    assert {"variant", "dataset", "metric", "mean", "ci95_low"} <= set(outcome.leaderboard.columns)
    assert list(outcome.claims["id"]) == ["gan-beats-wgan"] * 2
    assert "runs: 8 (4 finished, 4 reference)" in repr(outcome) and "claims: 2 inconclusive" in repr(outcome)
    # A loaded suite works too, and nothing is trained twice.
    again = ganbench.run(ganbench.load_suite(suite, steps=20, seeds=1), out=tmp_path / "out", quiet=True)
    assert again.trained == 0 and again.runs.equals(outcome.runs)


def test_dict_suites_are_validated_like_files():
    bad = copy.deepcopy(SUITE)
    bad["variants"]["gan"]["loss"] = "nss"
    with pytest.raises(
        BadInput, match=r"^<dict>: variants\.gan\.loss: unknown loss 'nss' \(did you mean 'ns'\?\)"
    ):
        ganbench.load_suite(bad)
    bad = copy.deepcopy(SUITE)
    bad["seed"] = 3
    with pytest.raises(BadInput, match=r"^<dict>: seed: unknown key \(did you mean 'seeds'\?\)"):
        ganbench.load_suite(bad)
    with pytest.raises(BadInput, match="^<dict>: top-level keys must be strings"):
        ganbench.load_suite({1: "x"})
    suite = ganbench.load_suite(SUITE, steps=7)
    assert str(suite.path) == "<dict>" and len(suite.specs) == 8 and suite.variants["gan"].steps == 7


def test_unknown_options_are_type_errors():
    with pytest.raises(TypeError, match="unknown option 'step' .*did you mean 'steps'"):
        ganbench.run(SUITE, step=3)


# ----------------------------------------------------------------------------- scripts


def run_script(tmp_path: Path, body: str, *argv: str, timeout: int = 120) -> subprocess.CompletedProcess:
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(body))
    return subprocess.run(
        [sys.executable, str(script), *argv], capture_output=True, text=True, cwd=tmp_path, timeout=timeout
    )


@pytest.mark.parametrize(
    ("body", "safe"),
    [
        ("from ganbench.main_module import spawn_safe\nprint(spawn_safe())\n", False),
        (
            "from ganbench.main_module import spawn_safe\ndef main():\n    print(spawn_safe())\nmain()\n",
            False,
        ),
        (
            "from ganbench.main_module import spawn_safe\nif __name__ == '__main__':\n    print(spawn_safe())\n",
            True,
        ),
        (
            "from ganbench.main_module import spawn_safe\n"
            "def main():\n    print(spawn_safe())\n"
            'if "__main__" == __name__:\n    main()\n',
            True,
        ),
        (
            "from ganbench.main_module import spawn_safe\n"
            "if __name__ == '__main__':\n    pass\nelse:\n    pass\nprint(spawn_safe())\n",
            False,
        ),
    ],
)
def test_spawn_safety_of_the_calling_script(tmp_path, body, safe):
    done = run_script(tmp_path, body)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(safe)


def test_spawn_is_safe_without_a_main_file():
    code = "from ganbench.main_module import spawn_safe; print(spawn_safe())"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.stdout.strip() == "True", done.stderr


def test_plain_script_without_a_main_guard_runs(tmp_path):
    """The local runner's workers would re-run an unguarded script: it trains in-process instead."""
    done = run_script(
        tmp_path,
        f"""
        import ganbench
        suite = {SUITE!r}
        outcome = ganbench.run(suite, steps=10, seeds=1, out="out", devices="cpu", runs_per_device=2)
        print("RESULT", len(outcome.runs), outcome.trained)
        """,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "RESULT 8 4" in done.stdout
    assert 'no `if __name__ == "__main__":` guard' in done.stderr
    assert done.stdout.count("RESULT") == 1  # the script ran once


def test_quickstart_notebook_executes(tmp_path):
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(ROOT / "examples" / "quickstart.ipynb", as_version=4)
    client = NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "\n".join(str(o.get("data", {}).get("text/plain", "")) for o in outputs)
    assert "Outcome(out_dir='runs/quickstart', runs: 8 (4 finished, 4 reference)" in text
    assert (tmp_path / "runs" / "quickstart" / "report.html").is_file()
