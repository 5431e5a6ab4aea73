"""Plugins by entry point: an installed package that declares a `ganbench.plugins` entry point
adds a loss, a metric and a dataset that a suite names like built-ins, with no import path and no
change to ganbench; cold start stays torch-free while it is installed."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import ganbench.registry as registry
from ganbench.errors import BadInput

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "gb-demo-plugin"
MODULE = "gb_demo_plugin"

PYPROJECT = f"""
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "{PACKAGE}"
version = "0.1"

[project.entry-points."ganbench.plugins"]
demo = "{MODULE}"

[tool.setuptools]
packages = ["{MODULE}"]
"""

PLUGIN = '''
"""One piece per extension point: the loss `demo_smooth` with its penalty `demo_logit`, the
dataset `demo_line`, the toy metric `demo_centre`, the arch `demo_mlp`, the claim test
`demo_sign` and the backend `demo_inline`. The counters say which pieces ran."""
import numpy as np
import torch
import torch.nn.functional as F
from scipy import stats

from ganbench.claims import ClaimTest, PValues
from ganbench.data.toy import GaussianMixture
from ganbench.losses import GanLoss
from ganbench.metrics import metric
from ganbench.registry import ARCHS, BACKENDS, CLAIM_TESTS, DATASETS, LOSSES, PENALTIES
from ganbench.runner.local import run_unit

CALLS = {"penalty": 0, "arch": 0, "claim test": 0, "backend units": 0}


@PENALTIES.register("demo_logit")
def logit_penalty(critic, real, fake, eps, noise):  # [K]: the critic's squared output on real data
    CALLS["penalty"] += 1
    return critic(real).pow(2).mean(-1)


LOSSES.add(
    "demo_smooth",  # non-saturating with one-sided label smoothing, and its own penalty
    GanLoss(
        d_loss=lambda real, fake: (0.9 * F.softplus(-real) + 0.1 * F.softplus(real)).mean(-1)
        + F.softplus(fake).mean(-1),
        g_loss=lambda real, fake: F.softplus(-fake).mean(-1),
        penalty="demo_logit",
        default_gp_weight=0.1,
    ),
)


@metric(
    "demo_centre", higher_is_better=False, kinds=("toy",), bounds=(0.0, None),
    description="mean distance to the nearest centre",
)
def demo_centre(view):  # the toy datasets' view: generated points and their dataset
    fake = view.fake.double()
    return float(torch.cdist(fake, view.dataset.centres.double()).min(dim=1).values.mean())


class Line(GaussianMixture):  # a mixture, so kind "toy": the built-in toy metrics apply too
    pass


@DATASETS.register("demo_line")
def line(modes: int = 4, std: float = 0.05) -> Line:
    x = torch.linspace(-1.0, 1.0, modes)
    return Line(torch.stack([x, torch.zeros(modes)], dim=1), std)


@ARCHS.register("demo_mlp")
def demo_mlp(model, data_shape, seeds):  # the built-in MLP under another name
    CALLS["arch"] += 1
    return ARCHS.get("mlp")(model, data_shape, seeds)


def _sign(d, fast):
    CALLS["claim test"] += 1
    k, n = int(np.sum(d > 0)), int(np.sum(d != 0))
    greater = stats.binomtest(k, n, alternative="greater").pvalue if n else 1.0
    less = stats.binomtest(k, n, alternative="less").pvalue if n else 1.0
    return PValues("demo-sign", greater, less)


CLAIM_TESTS.add("demo_sign", ClaimTest(lambda x, y, fast: _sign(x - y, fast), _sign))


@BACKENDS.register("demo_inline")
class Inline:
    """Every unit in this process, in turn."""

    def __init__(self, retries):
        self.retries = retries

    @classmethod
    def from_options(cls, options, out_dir):
        return cls(options.retries)

    def run(self, units, context, sink, on_progress=None):
        for unit in units:
            CALLS["backend units"] += 1
            sink(run_unit(unit, "cpu", context))
            if on_progress:
                on_progress(unit.run_steps)
'''

SUITE = {
    "name": "plugin_demo",
    "defaults": {
        "steps": 10,
        "batch_size": 16,
        "eval_every": 5,
        "eval_samples": 100,
        "w1_points": 50,
        "model": {"arch": "demo_mlp", "hidden": 8, "depth": 2, "z_dim": 2},
    },
    "datasets": [{"name": "demo_line", "modes": 3}],
    "seeds": 2,
    "variants": {"smooth": {"loss": "demo_smooth", "optimizer": {"name": "adam", "lr": 1.0e-3}}},
    "claims": [
        {"id": "c", "metric": "demo_centre", "better": "smooth", "threshold": 10.0, "test": "demo_sign"}
    ],
}


def _pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args], check=True)


@pytest.fixture
def installed_plugin(tmp_path, monkeypatch):
    """The demo package built and installed into this environment; uninstalled, and every name it
    registered removed, at teardown."""
    source = tmp_path / "plugin"
    (source / MODULE).mkdir(parents=True)
    (source / "pyproject.toml").write_text(PYPROJECT)
    (source / MODULE / "__init__.py").write_text(textwrap.dedent(PLUGIN))
    tables = [registry.LOSSES, registry.DATASETS, registry.METRICS, registry.EVALUATORS]
    registry.load_builtins()  # the snapshot restored at teardown must hold every built-in
    before = [dict(table._entries) for table in tables]
    _pip("install", "--no-deps", "--no-build-isolation", str(source))
    importlib.invalidate_caches()
    monkeypatch.setattr(registry, "_plugins_loaded", False)  # another test may have loaded none
    try:
        yield
    finally:
        _pip("uninstall", "-y", PACKAGE)
        for table, entries in zip(tables, before, strict=True):
            table._entries.clear()
            table._entries.update(entries)
        sys.modules.pop(MODULE, None)
        importlib.invalidate_caches()


def test_every_extension_point_from_an_installed_plugin(installed_plugin, tmp_path):
    """A suite names the plugin's loss (with its penalty), dataset, metric, arch and claim test,
    and runs on its backend, end to end through ganbench.run."""
    import ganbench

    assert MODULE not in sys.modules
    outcome = ganbench.run(SUITE, out=tmp_path / "out", backend="demo_inline", quiet=True)
    calls = sys.modules[MODULE].CALLS
    runs = outcome.runs[outcome.runs["status"] != "reference"]
    assert list(runs["status"]) == ["finished", "finished"]
    assert runs["demo_centre"].between(0.0, 10.0).all() and "modes_covered" in runs  # built-ins too
    assert outcome.claims.loc[0, "test"] == "demo-sign" and outcome.claims.loc[0, "verdict"] in (
        "supported",
        "inconclusive",
    )
    assert calls["backend units"] >= 1 and calls["arch"] >= 1 and calls["claim test"] >= 1
    assert calls["penalty"] == 10  # one ensemble (both seeds): n_critic 1 x 10 steps


def test_cold_start_stays_torch_free_with_a_plugin_installed(installed_plugin):
    probe = (
        "import json, sys\nfrom ganbench.cli import main\nrc = main(sys.argv[1:])\n"
        "print(json.dumps({'rc': rc, 'torch': 'torch' in sys.modules, 'plugin': '"
        + MODULE
        + "' in sys.modules}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, "validate", "suites/wgan_vs_gan.yaml"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"rc": 0, "torch": False, "plugin": False}


def test_broken_plugin_is_one_line(monkeypatch):
    class Broken:
        name, value = "broken", "broken_pkg.plugin"

        def load(self):
            raise ImportError("No module named 'broken_pkg'")

    monkeypatch.setattr(registry, "_plugins_loaded", False)
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group: [Broken()])
    from ganbench.suite import load_suite

    with pytest.raises(
        BadInput, match=r"cannot load ganbench plugin 'broken' \(broken_pkg.plugin\): ImportError"
    ):
        load_suite({**SUITE, "claims": []})


def test_registries_check_what_is_added():
    """A wrong piece fails where it is registered, naming the registry, the name and what fits."""
    from ganbench.metrics import metric

    cases = [
        (lambda: registry.LOSSES.add("demo_bad_loss", lambda real, fake: real), "a ganbench.losses.GanLoss"),
        (lambda: registry.CLAIM_TESTS.add("demo_bad_test", object()), "a ganbench.claims.ClaimTest"),
        (lambda: registry.ARCHS.add("demo_bad_arch", 3), "expected a callable, got int"),
        (lambda: registry.METRICS.add("demo_bad_metric", {"higher_is_better": True}), "use @metric"),
    ]
    for add, expected in cases:
        with pytest.raises(TypeError, match=expected):
            add()
    with pytest.raises(ValueError, match=r"metric 'bad name': expected a name without spaces; scope one of"):
        metric("bad name", higher_is_better=True, scope="seed")(lambda view: 0.0)
    with pytest.raises(ValueError, match="low < high"):
        metric("demo_bounds", higher_is_better=True, bounds=(1.0, 0.0))(lambda view: 0.0)
    with pytest.raises(ValueError, match="registered twice"):
        metric("w1", higher_is_better=False)(lambda view: 0.0)
    assert "demo_bounds" not in registry.METRICS and "demo_bad_loss" not in registry.LOSSES
