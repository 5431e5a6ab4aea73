"""`ganbench check` exit codes: 0 when claims and baseline hold, 1 when one does not, 2 on bad input."""

from __future__ import annotations

import pandas as pd
import pytest

from ganbench.cli import main
from tests.conftest import TINY_SUITE, write


@pytest.fixture
def checked(tmp_path):
    """The tiny suite run through `check` once (2 seeds: no claim can be significant), and its
    leaderboard published as a baseline."""
    suite = write(tmp_path, TINY_SUITE)
    out = tmp_path / "out"
    flags = ["--out", str(out), "--steps", "20", "--devices", "cpu", "--runs-per-device", "1", "--quiet"]
    assert main(["check", str(suite), *flags]) == 0
    baseline = tmp_path / "baseline.csv"
    assert main(["leaderboard", str(out), "-o", str(baseline)]) == 0
    return tmp_path, flags, baseline


def test_passes_with_matching_claims_and_baseline(checked, capsys):
    tmp_path, flags, baseline = checked
    capsys.readouterr()
    assert main(["check", str(tmp_path / "suite.yaml"), *flags, "--baseline", str(baseline)]) == 0
    assert "check passed" in capsys.readouterr().out


def test_claim_with_other_expectation_fails(checked, capsys):
    tmp_path, flags, _ = checked
    edited = write(tmp_path, TINY_SUITE.replace("expect: inconclusive", "expect: supported"), "edited.yaml")
    capsys.readouterr()
    assert main(["check", str(edited), *flags]) == 1
    out = capsys.readouterr().out
    assert "CLAIM FAILED gan-beats-wgan" in out and "expected supported" in out


def test_baseline_regression_fails_and_names_the_cell(checked, capsys):
    tmp_path, flags, baseline = checked
    board = pd.read_csv(baseline)
    row = (board.metric == "w1") & (board.variant == "wgan") & (board.dataset == "ring8")
    board.loc[row, "mean"] = board.loc[row, "mean"] - 5.0  # the baseline was much better
    board.to_csv(baseline, index=False)
    capsys.readouterr()
    assert main(["check", str(tmp_path / "suite.yaml"), *flags, "--baseline", str(baseline)]) == 1
    assert "REGRESSION wgan/ring8 w1" in capsys.readouterr().out


@pytest.mark.parametrize("content", [None, "not,a,leaderboard\n1,2,3\n"])
def test_bad_baseline_is_bad_input(checked, content, capsys):
    tmp_path, flags, _ = checked
    baseline = tmp_path / "bad.csv"
    if content:
        baseline.write_text(content)
    assert main(["check", str(tmp_path / "suite.yaml"), *flags, "--baseline", str(baseline)]) == 2
    assert str(baseline) in capsys.readouterr().err


def test_image_suite_baseline_round_trip(tmp_path, monkeypatch, capsys):
    """The README's way to gate one's own GAN code on an image suite: publish the leaderboard,
    then `check --baseline` against it passes. runs.csv holds info columns (n_real, n_fake,
    extractor) beside the metrics; rebuilt from the CSV they must not turn into metrics."""
    monkeypatch.setenv("GANBENCH_CACHE", str(tmp_path / "cache"))
    suite = write(
        tmp_path,
        """
        name: images_gate
        defaults:
          steps: 4
          batch_size: 16
          eval_every: 2
          eval_samples: 120
          image_metrics: [classifier]
          model: {arch: dcgan, z_dim: 8, width: 8, batch_norm: true}
        datasets: [{name: digits, size: 16}]
        seeds: 2
        variants:
          gan: {loss: ns}
        """,
        "images.yaml",
    )
    out = tmp_path / "out"
    flags = ["--out", str(out), "--devices", "cpu", "--runs-per-device", "1", "--quiet"]
    assert main(["run", str(suite), *flags]) == 0
    runs = pd.read_csv(out / "runs.csv")
    assert {"n_real", "n_fake", "extractor", "classifier_fid"} <= set(runs.columns)
    baseline = tmp_path / "base.csv"
    assert main(["leaderboard", str(out), "-o", str(baseline)]) == 0
    published = pd.read_csv(baseline)
    assert "classifier_fid" in set(published["metric"])
    assert not {"n_real", "n_fake", "extractor"} & set(published["metric"])
    capsys.readouterr()
    assert main(["check", str(suite), *flags, "--baseline", str(baseline)]) == 0
    out_text = capsys.readouterr().out
    assert "REGRESSION" not in out_text and "check passed" in out_text
