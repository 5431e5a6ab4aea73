"""`ganbench report`: one self-contained HTML page from a finished output dir, checked as text,
figure by figure, and opened in headless Chromium (console errors, broken images, a screenshot)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.text import Text

from ganbench import report
from ganbench.api import RunOptions, run_suite
from ganbench.cli import main
from ganbench.errors import BadInput
from ganbench.metrics import metric_info
from ganbench.report import bootstrap_interval, build_context, clip, write_report
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


@pytest.fixture(scope="module")
def context(finished):
    return build_context(finished, pd.read_csv(finished / "runs.csv"))


def test_report_puts_health_and_claims_first_and_folds_the_tables(finished):
    path = write_report(finished)
    assert path == finished / "report.html"
    page = path.read_text()
    order = [
        page.index(marker)
        for marker in ("Run health", "Claims", "Dataset ring8", "Dataset grid9", "<details>")
    ]
    assert order == sorted(order)
    assert "gan-beats-wgan" in page and "the GAN gets closer in W1" in page
    assert "too few runs" in page  # the claim's note is shown
    assert 'class="chip c-healthy"' in page or 'class="chip c-dead_critic"' in page
    # Per dataset: final metrics, learning curves, the critic's estimate (wgan), final samples.
    assert page.count(IMAGE) == 8
    assert page.count("<details>") == 2 and "ci95_low" in page.split("<details>", 1)[1]
    assert "src='http" not in page and 'src="http' not in page and "<script" not in page


def test_samples_are_saved_per_run_and_drawn(finished):
    runs = pd.read_csv(finished / "runs.csv")
    trained = runs[~runs["variant"].isin(["noise", "data"])]
    for run_id in trained["run_id"]:
        samples = np.load(finished / "samples" / f"{run_id}.npy")
        assert samples.dtype == np.float32 and samples.ndim == 2 and samples.shape[1] == 2


def test_old_output_dirs_show_the_mlflow_pictures(finished, tmp_path):
    out = tmp_path / "old"
    shutil.copytree(finished, out)
    shutil.rmtree(out / "samples")
    page = write_report(out).read_text()
    assert "Final samples (MLflow artifacts)" in page
    assert page.count("final samples</") == 0 and page.count('alt="gan final samples"') == 2


def test_report_without_claims_and_with_a_failed_run(finished, tmp_path):
    out = tmp_path / "copy"
    shutil.copytree(finished, out)
    (out / "claims.csv").unlink()
    runs = pd.read_csv(out / "runs.csv").astype({"error": str})
    first = runs.index[runs["variant"] == "gan"][0]
    runs.loc[first, ["status", "error"]] = ["failed", "RuntimeError: boom"]
    runs.to_csv(out / "runs.csv", index=False)
    page = write_report(out, tmp_path / "sub" / "page.html").read_text()
    assert "RuntimeError: boom" in page and "gan-beats-wgan" not in page
    assert "This output dir has no claims" in page and 'class="chip c-failed">1 failed' in page


def test_missing_dir_is_bad_input(tmp_path, capsys):
    with pytest.raises(BadInput, match="no runs.csv"):
        write_report(tmp_path / "nothing")
    assert main(["report", str(tmp_path / "nothing")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


# ----------------------------------------------------------------------------- ranges and intervals


def test_metrics_declare_their_ranges():
    assert metric_info("hq_share").bounds == (0.0, 1.0)
    assert metric_info("modes_covered").bounds == (0.0, None)
    assert metric_info("w_quality_corr").bounds == (-1.0, 1.0)
    assert metric_info("w1").bounds == (0.0, None) and metric_info("fid").bounds == (0.0, None)
    assert metric_info("precision").bounds == (0.0, 1.0) and metric_info("is_mean").bounds == (1.0, None)
    assert metric_info("critic_w").bounds == (None, None)  # an estimate of either sign
    assert metric_info("w1_std").bounds == (0.0, None) and metric_info("hq_share_osc").bounds == (0.0, None)


def test_bootstrap_interval_is_a_clipped_percentile_interval_of_the_mean():
    x = np.array([0.02, 0.0, 0.01, 0.9, 0.03])
    low, high = bootstrap_interval(x, (0.0, 1.0))
    assert 0.0 <= low < x.mean() < high <= x.max()
    assert bootstrap_interval(x, (0.0, 1.0)) == (low, high)  # deterministic
    # Against a reference computed here: the same resampling by hand.
    rng = np.random.default_rng(report.BOOTSTRAP_SEED)
    means = x[rng.integers(0, len(x), size=(report.RESAMPLES, len(x)))].mean(axis=1)
    assert (low, high) == tuple(np.quantile(means, [0.025, 0.975]))
    assert bootstrap_interval(x, (0.05, 0.2)) == (0.05, 0.2)  # clipped to the range
    assert bootstrap_interval([0.5]) is None and bootstrap_interval([np.nan, 1.0]) is None
    assert clip(np.array([-0.5, 0.5, 1.5, np.nan]), (0.0, 1.0)).tolist()[:3] == [0.0, 0.5, 1.0]


def test_std_bands_stay_in_the_metric_range(context):
    """A share whose mean - std is below 0 (0.25 - 0.35) is drawn from 0, not below."""
    rows = pd.DataFrame({"run_id": ["a", "b"], "variant": ["v", "v"], "dataset": ["d", "d"]})
    histories = {"a": {"hq_share": [[10, 0.0], [20, 0.0]]}, "b": {"hq_share": [[10, 0.5], [20, 0.5]]}}
    axes = report._curves_figure(rows, histories)["figure"].axes[0]
    (band,) = [c for c in axes.collections if isinstance(c, PolyCollection)]
    ys = np.concatenate([path.vertices[:, 1] for path in band.get_paths()])
    assert ys.min() == 0.0 and ys.max() == pytest.approx(0.25 + np.std([0.0, 0.5], ddof=1))
    for section in context["sections"]:
        curves = next(f for f in section["figures"] if f["alt"] == "learning curves")["figure"]
        for axes in curves.axes:
            metric = axes.get_title()
            low, high = metric_info(metric).bounds
            for band in (c for c in axes.collections if isinstance(c, PolyCollection)):
                ys = np.concatenate([path.vertices[:, 1] for path in band.get_paths()])
                assert low is None or ys.min() >= low - 1e-12
                assert high is None or ys.max() <= high + 1e-12


def test_references_are_horizontal_lines(context):
    finals = context["sections"][0]["figures"][0]
    assert finals["alt"] == "final metrics per variant"
    for axes in finals["figure"].axes:
        labels = {line.get_label() for line in axes.get_lines()}
        assert {"noise reference", "data reference"} <= labels, axes.get_title()


def test_critic_estimate_has_its_own_log_axis_when_it_spans_decades(context):
    critic = next(f for f in context["sections"][0]["figures"] if f["alt"] == "critic estimate")["figure"]
    assert critic.axes[0].get_title() == "critic's estimate over training"
    figure = report.Figure()
    axes = figure.add_subplot()
    axes.plot([1, 2, 3], [1e-6, 1e-3, 1.0])
    report._scale(axes, [1e-6, 1e-3, 1.0])
    assert axes.get_yscale() == "log"
    axes = figure.add_subplot()
    report._scale(axes, [-1.0, 1e-5, 0.3])
    assert axes.get_yscale() == "symlog"
    axes = figure.add_subplot()
    report._scale(axes, [0.5, 1.0, 2.0])
    assert axes.get_yscale() == "linear"


def test_figures_are_readable(context):
    """dpi >= 110 and no text smaller than 9 px in any figure."""
    assert report.DPI >= 110
    for section in context["sections"]:
        for fig in section["figures"]:
            figure = fig["figure"]
            assert fig["width"] == round(figure.get_size_inches()[0] * report.DPI)
            for text in figure.findobj(Text):
                if text.get_text():
                    assert text.get_fontsize() * report.DPI / 72 >= 9, (fig["alt"], text.get_text())


# ----------------------------------------------------------------------------- in a browser


def chromium_binary() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def test_report_renders_in_headless_chromium(finished, tmp_path):
    """No console errors, every image decoded (naturalWidth > 0); keeps a full-page screenshot
    (in the test's tmp dir, and in $GANBENCH_SCREENSHOT_DIR when set)."""
    binary = chromium_binary()
    if binary is None:
        pytest.skip("no chromium binary on PATH (Debian: apt-get install -y chromium; ci/run.sh does it)")
    from playwright.sync_api import sync_playwright

    path = write_report(finished, tmp_path / "report.html")
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=binary, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.on(
                "console",
                lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None,
            )
            page.on("pageerror", lambda err: problems.append(f"page error: {err}"))
            page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url[:80]}"))
            page.goto(path.resolve().as_uri(), wait_until="load")
            images = page.evaluate(
                "Array.from(document.images).map(i => ({alt: i.alt, ok: i.complete && i.naturalWidth > 0}))"
            )
            screenshot = tmp_path / "report.png"
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    assert not problems, problems
    assert len(images) == 8 and all(image["ok"] for image in images), images
    assert screenshot.stat().st_size > 10_000
    if os.environ.get("GANBENCH_SCREENSHOT_DIR"):
        target = Path(os.environ["GANBENCH_SCREENSHOT_DIR"])
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(screenshot, target / "report.png")
