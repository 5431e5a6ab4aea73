"""`arch: module`: plain nn.Module classes trained as an ensemble through torch.func.

The classes below are the "user's" modules, used by import path (`tests.test_modules:MLPGenerator`)
from suites, exactly as a researcher's package would be."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from torch import nn

import ganbench
from ganbench.cli import main
from ganbench.errors import BadInput
from ganbench.registry import ARCHS, load_builtins
from ganbench.seeding import stream
from ganbench.suite import ModelConfig, load_suite
from ganbench.train import train_group
from tests.conftest import write

load_builtins()
HERE = "tests.test_modules"


def mlp_layers(sizes: list[int], activation: type[nn.Module] = nn.ReLU) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(fan_in, fan_out))
        if i < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


class MLPGenerator(nn.Module):
    """The built-in `mlp` generator's layers: z_dim -> hidden x depth (ReLU) -> data."""

    def __init__(self, z_dim: int, data_shape: tuple[int, ...], hidden: int = 64, depth: int = 3) -> None:
        super().__init__()
        self.net = mlp_layers([z_dim] + [hidden] * depth + [math.prod(data_shape)])

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class MLPCritic(nn.Module):
    def __init__(self, data_shape: tuple[int, ...], hidden: int = 64, depth: int = 3) -> None:
        super().__init__()
        self.net = mlp_layers([math.prod(data_shape)] + [hidden] * depth + [1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.flatten(1))


class SNCritic(nn.Module):
    """Spectral norm inside the user's own module."""

    def __init__(self, data_shape: tuple[int, ...], hidden: int = 16) -> None:
        super().__init__()
        sn = nn.utils.parametrizations.spectral_norm
        self.net = nn.Sequential(
            sn(nn.Linear(math.prod(data_shape), hidden)), nn.ReLU(), sn(nn.Linear(hidden, 1))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class BNGenerator(nn.Module):
    def __init__(self, z_dim: int, track: bool = False) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(z_dim, 8), nn.BatchNorm1d(8, track_running_stats=track), nn.ReLU())
        self.out = nn.Linear(8, 2)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.out(self.net(z))


class DropoutCritic(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2, 8), nn.Dropout(0.5), nn.Linear(8, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def module_model(**over) -> dict:
    return {
        "arch": "module",
        "z_dim": 2,
        "generator": f"{HERE}:MLPGenerator",
        "discriminator": f"{HERE}:MLPCritic",
        "generator_args": {"hidden": 16, "depth": 2},
        "discriminator_args": {"hidden": 16, "depth": 2},
        **over,
    }


def build(seeds: list[int], **over):
    return ARCHS.get("module")(ModelConfig(**module_model(**over)), (2,), seeds)


def test_members_follow_the_init_protocol_and_stay_apart():
    G, D = build([3, 7])
    for k, seed in enumerate([3, 7]):
        with torch.random.fork_rng():
            torch.manual_seed(stream(seed, "G").initial_seed())
            reference = MLPGenerator(2, (2,), hidden=16, depth=2)
        for name, p in reference.named_parameters():
            assert torch.equal(G.param(name)[k], p.detach()), name
    lone, _ = build([7])
    assert torch.equal(lone.flat[0], G.flat[1])  # a member does not depend on its neighbours
    z = torch.randn(2, 5, 2)
    out = G(z)
    assert out.shape == (2, 5, 2) and D(out).shape == (2, 5)
    (grad,) = torch.autograd.grad(G(z)[0].sum(), G.flat)
    assert grad[0].abs().sum() > 0 and torch.equal(grad[1], torch.zeros_like(grad[1]))
    with torch.no_grad():
        expected = reference.net(z[1])  # member 1 is the last reference built
    assert torch.allclose(out[1], expected, atol=1e-6)


BUILTIN_MLP = {"arch": "mlp", "hidden": 32, "depth": 3, "z_dim": 2}
LOSS_SPECS = {
    "wgan-clip": {
        "loss": "wgan",
        "clip": 0.01,
        "n_critic": 5,
        "optimizer": {"name": "rmsprop", "lr": 5.0e-4},
    },
    "gan": {"loss": "ns", "optimizer": {"name": "adam", "lr": 1.0e-3, "betas": [0.5, 0.999]}},
}


def equivalence_suite(model: dict, variant: str) -> list:
    suite = {
        "name": "eq",
        "datasets": ["ring8"],
        "seeds": 2,
        "defaults": {"steps": 20, "eval_every": 10, "eval_samples": 500, "w1_points": 200, "model": model},
        "variants": {"v": LOSS_SPECS[variant]},
    }
    return load_suite(suite).specs


@pytest.mark.parametrize("variant", sorted(LOSS_SPECS))
def test_module_mlp_trains_to_the_builtin_numbers(variant, monkeypatch):
    """The same layers given the built-in's initial weights (its [in, out] weights transposed into
    nn.Linear's [out, in]) train to the same losses, samples and metrics over 20 steps.

    Not bit for bit: nn.Linear under vmap and the built-in's baddbmm are different kernels that
    round differently, and GAN training amplifies rounding; 20 steps keep it at float rounding
    (3.6e-7 on an AMD EPYC, where 200 steps reached 0.047 for the clipped WGAN)."""
    builtin = equivalence_suite(BUILTIN_MLP, variant)
    module = equivalence_suite(
        module_model(
            generator_args={"hidden": 32, "depth": 3}, discriminator_args={"hidden": 32, "depth": 3}
        ),
        variant,
    )
    build_module, build_mlp = ARCHS.get("module"), ARCHS.get("mlp")

    def with_builtin_weights(model, shape, seeds):
        nets = build_module(model, shape, seeds)
        for net, ref in zip(nets, build_mlp(builtin[0].train.model, shape, seeds), strict=True):
            names = list(net.shapes)  # net.0.weight, net.0.bias, net.2.weight, ...
            with torch.no_grad():
                for i in range(len(names) // 2):
                    net.param(names[2 * i]).copy_(ref.param(f"w{i}").transpose(1, 2))
                    net.param(names[2 * i + 1]).copy_(ref.param(f"b{i}"))
        return nets

    monkeypatch.setitem(ARCHS._entries, "module", with_builtin_weights)
    expected, got = train_group(builtin), train_group(module)
    for a, b in zip(expected, got, strict=True):
        assert a.status == b.status == "finished"
        np.testing.assert_allclose(b.samples, a.samples, atol=1e-6, rtol=0)
        assert a.metrics.keys() == b.metrics.keys()
        np.testing.assert_allclose([b.metrics[m] for m in a.metrics], list(a.metrics.values()), atol=1e-6)
        for name, curve in a.history.items():
            np.testing.assert_allclose(np.array(b.history[name]), np.array(curve), atol=1e-6, err_msg=name)
    assert not np.array_equal(expected[0].samples, expected[1].samples)  # the seeds differ


def test_user_module_from_a_suite_end_to_end(tmp_path):
    suite = {
        "name": "own_module",
        "datasets": ["ring8"],
        "seeds": 2,
        "defaults": {
            "steps": 20,
            "eval_every": 10,
            "eval_samples": 300,
            "w1_points": 100,
            "model": module_model(),
        },
        "variants": {
            "gan": {"loss": "ns", "optimizer": {"name": "adam", "lr": 1.0e-3}},
            "wgan_gp": {"loss": "wgan-gp", "n_critic": 2, "optimizer": {"name": "adam", "lr": 1.0e-4}},
        },
    }
    outcome = ganbench.run(suite, out=tmp_path / "out", devices="cpu", runs_per_device=1, quiet=True)
    runs = outcome.runs[outcome.runs["variant"].isin(["gan", "wgan_gp"])]
    assert len(runs) == 4 and set(runs["status"]) == {"finished"}
    assert runs["w1"].notna().all() and runs["run_id"].nunique() == 4
    mlp = load_suite({**suite, "defaults": {**suite["defaults"], "model": {"arch": "mlp"}}})
    assert not set(runs["run_id"]) & {s.run_id for s in mlp.specs}


@pytest.mark.parametrize(
    ("over", "message"),
    [
        (
            {"generator_args": {"hiden": 16}},
            "variants.gan.model.generator_args: tests.test_modules:MLPGenerator(z_dim, data_shape, hidden, "
            "depth): got an unexpected keyword argument 'hiden' (did you mean 'hidden'?)",
        ),
        ({"generator_args": {"z_dim": 3}}, "variants.gan.model.generator_args: z_dim: ganbench passes it"),
        ({"discriminator": f"{HERE}:Nope"}, "variants.gan.model.discriminator: cannot import module"),
        ({"hidden": 3}, "variants.gan.model.hidden: the module architecture does not read it"),
        ({"generatr": "x"}, "variants.gan.model.generatr: unknown key (did you mean 'generator'?)"),
        ({"spectral_norm": "sometimes"}, "variants.gan.model.spectral_norm: Input should be a valid boolean"),
    ],
)
def test_module_config_errors_are_one_line_at_validate(tmp_path, capsys, over, message):
    model = {**module_model(), **over}
    text = f"name: x\ndatasets: [ring8]\nvariants:\n  gan: {{loss: ns, model: {model!r}}}\n"
    path = write(tmp_path, text.replace("'", '"').replace("True", "true"))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err, err
    if "hiden" in str(over):
        assert "did you mean 'hidden'" in err


def test_running_statistics_are_refused_batch_statistics_work():
    with pytest.raises(BadInput, match=r"has buffers \(net\.1\.running_mean.*track_running_stats=False"):
        build([0, 1], generator=f"{HERE}:BNGenerator", generator_args={"track": True})
    G, _ = build([0, 1], generator=f"{HERE}:BNGenerator", generator_args={})
    z = torch.randn(2, 6, 2)
    with torch.random.fork_rng():
        torch.manual_seed(stream(1, "G").initial_seed())
        member = BNGenerator(2)
    assert torch.allclose(G(z)[1], member(z[1]), atol=1e-6)


def test_random_ops_in_forward_are_refused_at_build():
    with pytest.raises(BadInput, match="DropoutCritic fails on a batch of 2: .*random"):
        build([0], discriminator=f"{HERE}:DropoutCritic", discriminator_args={})


def sn_members(seeds: list[int], **over) -> tuple[torch.nn.Module, list[nn.Module]]:
    """The ensemble's D and standalone copies of its members, built by the init protocol."""
    _, D = build(seeds, **over)
    refs = []
    for seed in seeds:
        with torch.random.fork_rng():
            torch.manual_seed(stream(seed, "D").initial_seed())
            if over.get("discriminator"):
                ref = SNCritic((2,), hidden=16)
            else:
                ref = MLPCritic((2,), hidden=16, depth=2)
                for layer in ref.modules():
                    if isinstance(layer, nn.Linear):
                        nn.utils.parametrizations.spectral_norm(layer)
        refs.append(ref)
    return D, refs


@pytest.mark.parametrize(
    "over",
    [{"discriminator": f"{HERE}:SNCritic", "discriminator_args": {"hidden": 16}}, {"spectral_norm": True}],
    ids=["in-module", "knob"],
)
def test_spectral_norm_matches_torch_per_member(over):
    """Each member's power iteration and normalised weights follow torch's spectral_norm on a
    standalone module in training mode, across weight updates."""
    D, refs = sn_members([1, 2], **over)
    standalone = copy.deepcopy(refs)
    inputs = torch.Generator().manual_seed(0)  # not the global stream: other tests move that
    for step in range(4):
        x = torch.randn(2, 8, 2, generator=inputs)
        out = D(x)
        for k, ref in enumerate(standalone):
            assert torch.allclose(out[k], ref(x[k]).squeeze(-1), atol=1e-6), (step, k)
        (grad,) = torch.autograd.grad(out.sum(), D.flat)
        with torch.no_grad():
            D.flat.sub_(0.1 * grad)
            for k, ref in enumerate(standalone):
                for name, p in ref.named_parameters():
                    p.copy_(D.param(name)[k])
    first = dict(standalone[0].named_modules())["net.0"]
    sigma = torch.linalg.matrix_norm(first.weight.detach(), ord=2)
    assert abs(float(sigma) - 1) < 0.05  # normalised: top singular value near 1


def test_spectral_norm_knob_satisfies_the_wasserstein_check():
    suite = {
        "name": "sn",
        "datasets": ["ring8"],
        "variants": {"w": {"loss": "wgan", "clip": None, "model": module_model(spectral_norm=True)}},
    }
    assert load_suite(suite).variants["w"].model.spectral_norm
    suite["variants"]["w"]["model"] = module_model()
    with pytest.raises(BadInput, match="needs a Lipschitz constraint"):
        load_suite(suite)


class ConvGenerator(nn.Module):
    """Images, with spectral norm on a transposed convolution (torch normalises its dim 1)."""

    def __init__(self, z_dim: int, data_shape: tuple[int, ...]) -> None:
        super().__init__()
        self.fc = nn.Linear(z_dim, 4 * 4 * 4)
        self.up = nn.utils.parametrizations.spectral_norm(nn.ConvTranspose2d(4, data_shape[0], 4, 2, 1))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.up(self.fc(z).view(-1, 4, 4, 4)))


def test_conv_modules_on_images_with_spectral_norm_per_member():
    model = ModelConfig(**module_model(generator=f"{HERE}:ConvGenerator", generator_args={}))
    G, D = ARCHS.get("module")(model, (1, 8, 8), [0, 1])
    standalone = []
    for seed in (0, 1):
        with torch.random.fork_rng():
            torch.manual_seed(stream(seed, "G").initial_seed())
            standalone.append(ConvGenerator(2, (1, 8, 8)))
    for _ in range(3):
        z = torch.randn(2, 4, 2)
        out = G(z)
        assert out.shape == (2, 4, 1, 8, 8) and D(out).shape == (2, 4)
        for k, ref in enumerate(standalone):
            assert torch.allclose(out[k], ref(z[k]), atol=1e-6)
        (grad,) = torch.autograd.grad(out.square().sum(), G.flat)
        with torch.no_grad():
            G.flat.sub_(0.5 * grad)
            for k, ref in enumerate(standalone):
                for name, p in ref.named_parameters():
                    p.copy_(G.param(name)[k])


def test_modules_registered_by_name_as_a_plugin_would(monkeypatch):
    from ganbench.registry import MODULES

    monkeypatch.setitem(MODULES._entries, "my_critic", MLPCritic)
    model = ModelConfig(**module_model(discriminator="my_critic"))
    _, D = ARCHS.get("module")(model, (2,), [0])
    assert D(torch.zeros(1, 3, 2)).shape == (1, 3)
    with pytest.raises(ValueError, match="unknown module 'my_critc' \\(did you mean 'my_critic'"):
        ModelConfig(**module_model(discriminator="my_critc"))
