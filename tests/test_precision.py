"""Precision and memory layout: bf16 autocast and channels_last, recorded with every run.

The GPU policy ("auto" on CUDA) is checked by faking only what is missing here, CUDA's bf16
support; the layouts and bf16 training themselves run for real on the CPU, which supports both.
"""

from __future__ import annotations

import mlflow
import pandas as pd
import pytest
import torch

from ganbench.api import RunOptions, run_suite
from ganbench.metrics import EvalContext
from ganbench.registry import ARCHS
from ganbench.suite import ModelConfig, load_suite
from ganbench.train import configure_execution, train_group
from tests.conftest import TINY_SUITE, write

CONV_NETS = [
    ("dcgan", (1, 16, 16), {"width": 8, "batch_norm": True}),
    ("dcgan", (3, 32, 32), {"width": 8, "spectral_norm": True}),
    ("resnet", (3, 32, 32), {"width": 8, "spectral_norm": True}),
]


def nets(arch: str, shape: tuple[int, ...], options: dict) -> tuple:
    return ARCHS.get(arch)(ModelConfig(arch=arch, z_dim=8, **options), shape, [0, 1])


def test_auto_policy(monkeypatch):
    mlp = nets("mlp", (2,), {})
    conv = nets("dcgan", (1, 16, 16), {"width": 8})
    assert configure_execution(mlp, "cpu", "auto") == "fp32" and mlp[0].compute_dtype is None
    assert configure_execution(conv, "cpu", "auto") == "fp32"
    assert conv[0].memory_format == torch.contiguous_format  # NHWC pays only on CUDA
    # The CUDA branch only sets attributes, so it runs here once bf16 support is faked.
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert configure_execution(mlp, "cuda:0", "auto") == "fp32"  # tiny matmuls: bf16 buys nothing
    assert configure_execution(conv, "cuda:0", "auto") == "bf16"
    assert all(n.compute_dtype == torch.bfloat16 and n.memory_format == torch.channels_last for n in conv)
    assert configure_execution(conv, "cuda:0", "fp32") == "fp32" and conv[1].compute_dtype is None
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)  # e.g. a V100
    assert configure_execution(nets("dcgan", (1, 16, 16), {"width": 8}), "cuda:0", "auto") == "fp32"
    assert configure_execution(mlp, "cpu", "bf16") == "bf16" and mlp[0].compute_dtype == torch.bfloat16


@pytest.mark.parametrize(("arch", "shape", "options"), CONV_NETS)
def test_channels_last_gives_the_same_nets(arch, shape, options):
    G, D = nets(arch, shape, options)
    G.eval(), D.eval()  # no power-iteration update, so both passes see the same weights
    z = torch.randn(2, 5, 8, generator=torch.Generator().manual_seed(0))
    x, d = G(z), D(G(z))
    for net in (G, D):
        net.memory_format = torch.channels_last
    x_nhwc, d_nhwc = G(z), D(G(z))
    assert x_nhwc.shape == x.shape == (2, 5, *shape) and d_nhwc.shape == d.shape == (2, 5)
    assert torch.allclose(x_nhwc, x, atol=1e-5) and torch.allclose(d_nhwc, d, atol=1e-4)


@pytest.mark.parametrize(("arch", "shape", "options"), CONV_NETS)
def test_bf16_forward_is_close_and_returns_float32(arch, shape, options):
    G, D = nets(arch, shape, options)
    G.eval(), D.eval()
    z = torch.randn(2, 5, 8, generator=torch.Generator().manual_seed(0))
    x, d = G(z), D(G(z))
    configure_execution((G, D), "cpu", "bf16")
    x_bf16, d_bf16 = G(z), D(G(z))
    assert x_bf16.dtype == d_bf16.dtype == torch.float32 and G.flat.dtype == torch.float32
    assert not torch.equal(x_bf16, x)  # the convolutions did run in bf16
    assert torch.allclose(x_bf16, x, atol=0.05)  # bf16 keeps about 3 significant digits
    assert torch.allclose(d_bf16, d, atol=0.05 * (1 + d.abs().max().item()))


def test_bf16_training_is_recorded(tmp_path):
    # WGAN-GP: the penalty's double backward runs through the bf16 forward too.
    text = TINY_SUITE.replace("loss: wgan, clip: 0.05", "loss: wgan-gp")
    suite = load_suite(write(tmp_path, text), steps=10)
    specs = [s for s in suite.specs if s.variant == "wgan"][:2]
    fp32 = train_group(specs, "cpu", EvalContext(precision="fp32"))
    bf16 = train_group(specs, "cpu", EvalContext(precision="bf16"))
    assert [r.precision for r in fp32] == ["fp32"] * 2 and [r.precision for r in bf16] == ["bf16"] * 2
    assert all(r.status == "finished" for r in fp32 + bf16)
    gap = max(abs(a.metrics["w1"] - b.metrics["w1"]) for a, b in zip(fp32, bf16, strict=True))
    assert 0 < gap < 0.2  # a different, nearby trajectory

    out = tmp_path / "out"
    run_suite(suite, RunOptions(out=out, devices="cpu", runs_per_device=1, quiet=True, precision="bf16"))
    columns = list(pd.read_csv(out / "runs.csv").columns)
    assert columns.index("compute_precision") == columns.index("device") + 1
    trained = pd.read_csv(out / "runs.csv").query("status != 'reference'")  # references train nothing
    assert set(trained["compute_precision"]) == {"bf16"}
    client = mlflow.MlflowClient(f"sqlite:///{out / 'mlflow.db'}")
    experiments = [e.experiment_id for e in client.search_experiments()]
    tagged = client.search_runs(experiments, filter_string="tags.precision = 'bf16'")
    assert len(tagged) == len(suite.specs)
