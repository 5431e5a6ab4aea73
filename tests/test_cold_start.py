"""`ganbench validate` and `ganbench list` start cold: no torch, MLflow, Ray, POT, scikit-learn or
torch-fidelity is imported (the registries know the built-ins by name and load them on first use)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import TINY_SUITE, write
from tests.proc_helpers import is_child, mlflow_runs

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "torchvision", "torch_fidelity", "mlflow", "ray", "ot", "sklearn", "optuna", "matplotlib")

# Runs the CLI in a fresh interpreter, then reports its exit code and the heavy top-level packages
# that ended up in sys.modules.
PROBE = f"""
import json, sys
from ganbench.cli import main
rc = main(sys.argv[1:])
heavy = sorted({{m.split(".")[0] for m in sys.modules}} & set({HEAVY!r}))
print(json.dumps({{"rc": rc, "heavy": heavy}}))
"""


def probe(*argv: str) -> tuple[dict, str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stdout + done.stderr


@pytest.mark.parametrize("suite", ["suites/wgan_vs_gan.yaml", "suites/images_smoke.yaml"])
def test_validate_imports_no_torch(suite):
    result, output = probe("validate", suite)
    assert result == {"rc": 0, "heavy": []}, output
    assert ": ok: " in output


def test_validate_still_checks_everything_without_torch(tmp_path):
    """Unknown losses/archs/optimizers, bad dataset parameters and metric names are still caught."""
    cases = {
        "loss: nss": "variants.gan.loss: unknown loss 'nss' (did you mean 'ns'?)",
        "model: {arch: mlpp}": "model.arch: unknown arch 'mlpp'",
        "optimizer_g: {name: adamw}": "optimizer_g.name: unknown optimizer 'adamw'",
    }
    for i, (bad, message) in enumerate(cases.items()):
        path = write(tmp_path, TINY_SUITE.replace("gan: {loss: ns, ", "gan: {" + bad + ", "), f"s{i}.yaml")
        result, output = probe("validate", str(path))
        assert result == {"rc": 2, "heavy": []}, output
        assert message in output
    path = write(tmp_path, TINY_SUITE.replace("side: 3", "side: 0"), "data.yaml")
    result, output = probe("validate", str(path))
    assert result == {"rc": 2, "heavy": []} and "datasets[1].side: Input should be greater than" in output
    path = write(tmp_path, TINY_SUITE.replace("metric: w1", "metric: w11"), "metric.yaml")
    result, output = probe("validate", str(path))
    assert result == {"rc": 2, "heavy": []} and "unknown metric 'w11' (did you mean 'w1'?)" in output


def test_list_imports_no_torch():
    result, output = probe("list")
    assert result == {"rc": 0, "heavy": []}, output
    for name in ("wgan-gp", "dcgan", "ring8", "digits", "rmsprop", "modes_covered", "classifier_fid"):
        assert name in output
    assert "losses: hinge" in output


def test_declared_builtins_are_exactly_what_their_modules_register():
    """The names declared in ganbench.registry.BUILTINS are what importing each module registers
    (and nothing else is registered), so the cold-start catalogue cannot drift from the code."""
    code = """
import importlib, json
from ganbench import registry
missing = []
for reg, module, names in registry.BUILTINS:
    importlib.import_module(module)
    missing += [[reg.kind, module, n] for n in names if n not in reg._entries]
extra = {r.kind: sorted(set(r._entries) - set(r._declared)) for r, _, _ in registry.BUILTINS}
print(json.dumps({"missing": missing, "extra": {k: v for k, v in extra.items() if v}}))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"missing": [], "extra": {}}


def test_lazy_lookup_returns_the_implementation():
    from ganbench.registry import DATASETS, LOSSES

    assert LOSSES.get("wgan-gp").default_gp_weight == 10.0
    assert DATASETS.get("ring8") == {"name": "ring", "modes": 8, "radius": 2.0, "std": 0.02}
    assert "ring8" in DATASETS and "nothing" not in DATASETS


def test_toy_metrics_load_pot_without_scikit_learn():
    """POT comes without scikit-learn (0.8 s of start-up), computes the exact W1 all the same, and
    scikit-learn still imports afterwards (the digits dataset needs it)."""
    code = (
        "import sys, numpy as np\n"
        "from ganbench.metrics.mog import wasserstein1\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'ot', 'sklearn'}))\n"
        "print(wasserstein1(np.zeros((3, 2)), np.ones((3, 2))))\n"
        "import sklearn.cluster\n"
        "print(sklearn.cluster.KMeans.__name__)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    imported, w1, kmeans = done.stdout.split("\n")[:3]
    assert imported == "['ot']" and kmeans == "KMeans", done.stdout + done.stderr
    assert abs(float(w1) - 2**0.5) < 1e-12


def test_run_imports_neither_matplotlib_nor_mlflow(tmp_path):
    """`ganbench run` draws its per-run pictures with Pillow: matplotlib (half a second of
    start-up) is the report's alone, and scikit-learn stays out as well. MLflow is imported by the
    tracker's side process (ganbench/tracker_process.py), not by the command's: the runs are in
    the store all the same, with their pictures."""
    suite = write(tmp_path, TINY_SUITE.replace("steps: 60", "steps: 4").replace("seeds: 2", "seeds: 1"))
    result, output = probe("run", str(suite), "--out", str(tmp_path / "out"), "--quiet")
    assert result["rc"] in (0, 1), output  # 1: a claim or health finding, not a crash
    assert not {"matplotlib", "sklearn", "mlflow"} & set(result["heavy"]) and "torch" in result["heavy"], (
        output
    )
    assert list((tmp_path / "out" / "mlartifacts").glob("*/artifacts/samples_*.png")), output
    children = [r for r in mlflow_runs(f"sqlite:///{tmp_path / 'out' / 'mlflow.db'}", "tiny") if is_child(r)]
    assert len(children) == 4 and {r.info.status for r in children} == {"FINISHED"}, output
