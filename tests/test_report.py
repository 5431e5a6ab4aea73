"""`ganbench report`: one self-contained HTML page from a finished output dir."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from ganbench.api import RunOptions, run_suite
from ganbench.cli import main
from ganbench.errors import BadInput
from ganbench.report import write_report
from ganbench.suite import load_suite
from tests.conftest import TINY_SUITE, write

IMAGE = "data:image/png;base64,"


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished run dir of the tiny suite (2 variants x 2 datasets x 2 seeds, 20 steps)."""
    tmp = tmp_path_factory.mktemp("report")
    suite = load_suite(write(tmp, TINY_SUITE), steps=20)
    run_suite(suite, RunOptions(out=tmp / "out", devices="cpu", runs_per_device=1, quiet=True))
    return tmp / "out"


def test_report_has_tables_and_pictures(finished):
    path = write_report(finished)
    assert path == finished / "report.html"
    page = path.read_text()
    assert page.count("<table") == 3  # runs, claims, leaderboard
    assert "gan-beats-wgan" in page and "ci95_low" in page and "modes_covered" in page
    assert page.count(IMAGE) == 4  # per dataset: final metrics, learning curves
    assert "src='http" not in page and "<script" not in page  # self-contained


def test_report_without_claims_and_with_a_failed_run(finished, tmp_path):
    out = tmp_path / "copy"
    shutil.copytree(finished, out)
    (out / "claims.csv").unlink()
    runs = pd.read_csv(out / "runs.csv").astype({"error": str})
    runs.loc[0, ["status", "error"]] = ["failed", "RuntimeError: boom"]
    runs.to_csv(out / "runs.csv", index=False)
    page = write_report(out, tmp_path / "sub" / "page.html").read_text()
    assert page.count("<table") == 3  # runs, failed runs, leaderboard
    assert "RuntimeError: boom" in page and "gan-beats-wgan" not in page


def test_missing_dir_is_bad_input(tmp_path, capsys):
    with pytest.raises(BadInput, match="no runs.csv"):
        write_report(tmp_path / "nothing")
    assert main(["report", str(tmp_path / "nothing")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
