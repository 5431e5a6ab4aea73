"""Packaging: `python -m build` makes a wheel holding ganbench and its data files, which installs in
a clean virtual environment (no system site packages) where `ganbench validate` and `ganbench
list` work with only their light dependencies (pydantic, PyYAML, NumPy, rich: no torch)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LIGHT_DEPENDENCIES = ["pydantic>=2.7", "pyyaml>=6.0", "numpy>=2.0", "rich>=13"]


def run(*command: str | Path, cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in command], capture_output=True, text=True, cwd=cwd, timeout=timeout)


@pytest.mark.slow
def test_wheel_installs_in_a_clean_venv_and_validates(tmp_path):
    # Build from a copy, so that the checkout gets no build/ or egg-info droppings.
    source = tmp_path / "src"
    shutil.copytree(ROOT / "ganbench", source / "ganbench", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    done = run(
        sys.executable,
        "-m",
        "build",
        "--wheel",
        "--no-isolation",
        "--outdir",
        tmp_path / "dist",
        source,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("ganbench-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "ganbench/templates/report.html.j2" in names and "ganbench/cli.py" in names
    assert "ganbench/metrics/mog.py" in names and not [n for n in names if n.startswith("tests/")]
    entry_points = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt")))
    assert b"ganbench = ganbench.cli:entry" in entry_points

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, system_site_packages=False).create(env_dir)
    python, cli = env_dir / "bin" / "python", env_dir / "bin" / "ganbench"
    done = run(
        python, "-m", "pip", "install", "-q", "--no-deps", "--disable-pip-version-check", wheel, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    done = run(
        python, "-m", "pip", "install", "-q", "--disable-pip-version-check", *LIGHT_DEPENDENCIES, cwd=tmp_path
    )
    if done.returncode != 0:
        pytest.skip(
            f"cannot install {LIGHT_DEPENDENCIES} from the package index: {done.stderr.strip()[-300:]}"
        )

    work = tmp_path / "elsewhere"  # not the checkout: only the installed package can be imported
    work.mkdir()
    shutil.copy(ROOT / "suites" / "ci_smoke.yaml", work / "suite.yaml")
    done = run(cli, "validate", "suite.yaml", cwd=work)
    assert done.returncode == 0 and ": ok: " in done.stdout, done.stdout + done.stderr
    done = run(cli, "list", cwd=work)
    assert done.returncode == 0 and "wgan-gp" in done.stdout and "hq_share" in done.stdout, done.stderr
    done = run(python, "-c", "import ganbench, torch", cwd=work)
    assert done.returncode != 0 and "No module named 'torch'" in done.stderr  # a genuinely clean venv
    code = (
        "import importlib.resources as r, ganbench; "
        "print(r.files('ganbench').joinpath('templates/report.html.j2').is_file(), ganbench.__file__)"
    )
    done = run(python, "-c", code, cwd=work)
    assert done.stdout.startswith("True ") and str(env_dir) in done.stdout, done.stderr
