"""The reference docs: generated files up to date, the JSON Schema accepts the shipped suites, every
suite key described, docs/extending.md's examples run as written, and nothing cites a file
outside the repository."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ganbench import schema

ROOT = Path(__file__).resolve().parent.parent


def test_generated_reference_is_up_to_date():
    """docs/suite-schema.json and docs/suite-reference.md are what `ganbench schema` writes now
    (in a fresh process: plugins registered by other tests must not leak into it)."""
    done = subprocess.run(
        [sys.executable, "-m", "ganbench.cli", "schema", "--check", "--out", "docs"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, f"{done.stderr.strip()} (regenerate with `ganbench schema`)"


def test_every_suite_key_has_a_description():
    for _, _, model, _ in schema.SECTIONS:
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no Field(description=...)"
    page = (ROOT / "docs" / "suite-reference.md").read_text()
    for key in (
        "gp_weight",
        "critic_warmup",
        "selection_seeds",
        "p_adjust",
        "samples",
        "k_se",
        "w_quality_corr",
    ):
        assert f"| {key} |" in page or f"`{key}`" in page


def test_json_schema_accepts_the_shipped_suites_and_rejects_typos():
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(json.loads((ROOT / "docs" / "suite-schema.json").read_text()))
    Draft202012Validator.check_schema(validator.schema)
    suites = sorted((ROOT / "suites").glob("*.yaml"))
    assert suites
    for path in suites:
        errors = [e.message for e in validator.iter_errors(yaml.safe_load(path.read_text()))]
        assert not errors, (path.name, errors[:3])
    bad = yaml.safe_load((ROOT / "suites" / "ci_smoke.yaml").read_text())
    first = next(iter(bad["variants"]))
    bad["variants"][first]["optimiser"] = {"lr": 0.1}
    assert not validator.is_valid(bad)
    bad["variants"][first].pop("optimiser")
    bad["variants"]["noise"] = {}
    assert not validator.is_valid(bad)


def test_extending_examples_run_as_written(tmp_path):
    """The package and suite of docs/extending.md: a plugin loss, arch, dataset and metric."""
    text = (ROOT / "docs" / "extending.md").read_text()
    written = []
    for body in re.findall(r"```(?:python|yaml)\n(.*?)```", text, re.S):
        match = re.match(r"# (\S+\.(?:py|yaml))\n", body)
        if match:
            path = tmp_path / match.group(1)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(body)
            written.append(match.group(1))
    assert written == [
        "my_gan/losses.py",
        "my_gan/nets.py",
        "my_gan/data.py",
        "my_gan/metrics.py",
        "my_suite.yaml",
    ]
    (tmp_path / "my_gan" / "__init__.py").write_text("")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}

    def cli(*argv: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "ganbench.cli", *argv]
        return subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)

    done = cli("validate", "my_suite.yaml")
    assert done.returncode == 0 and "4 runs, 1 claims" in done.stdout, done.stderr
    done = cli(
        "run", "my_suite.yaml", "--out", "out", "--devices", "cpu", "--runs-per-device", "1", "--quiet"
    )
    assert done.returncode == 0, done.stderr[-2000:]
    import pandas as pd

    runs = pd.read_csv(tmp_path / "out" / "runs.csv")
    trained = runs[runs["status"] == "finished"]
    assert set(trained["variant"]) == {"smoothed", "wide_critic"} and len(trained) == 4
    assert trained["centre_distance"].notna().all() and (trained["centre_distance"] >= 0).all()
    claims = pd.read_csv(tmp_path / "out" / "claims.csv")
    assert list(claims["id"]) == ["smoothing-helps"] and claims["verdict"].iloc[0] == "inconclusive"


OUTSIDE = re.compile(r"\bshared/|notes/stack|DESIGN\.md|\.\./")


@pytest.mark.parametrize("folder", ["ganbench", "suites", "docs", "examples", "tests", "ci", "bench"])
def test_nothing_cites_a_file_outside_the_repository(folder):
    files = [
        p
        for p in (ROOT / folder).rglob("*")
        if p.is_file() and p.suffix in {".py", ".yaml", ".yml", ".md", ".sh", ".j2", ".ipynb", ".toml"}
    ]
    files = [p for p in files if p.name != "test_docs.py"]
    hits = [
        f"{p.relative_to(ROOT)}: {m.group(0)}"
        for p in files
        for m in OUTSIDE.finditer(p.read_text(errors="replace"))
    ]
    assert not hits


def test_readme_and_project_files_cite_nothing_outside():
    for name in ("README.md", "pyproject.toml", "Makefile"):
        assert not OUTSIDE.search((ROOT / name).read_text()), name


def test_ci_workflow_installs_ganbench_from_its_repository():
    """ganbench is not on PyPI: the ready-to-copy workflow must not `pip install ganbench`."""
    workflow = yaml.safe_load((ROOT / "ci" / "ganbench-check.yml").read_text())
    job = workflow["jobs"]["check"]
    runs = [step["run"] for step in job["steps"] if "run" in step]
    assert 'pip install "$GANBENCH"' in runs and job["env"]["GANBENCH"].startswith("ganbench @ git+")
    assert not [r for r in runs if r.strip() == "pip install ganbench"]
    assert any(r.startswith("ganbench validate") for r in runs) and any(
        r.startswith("ganbench check") for r in runs
    )
