"""Paper-faithful training options: initialisation, the WGAN critic warm-up, loss-dependent
defaults and the Lipschitz check, independent evaluation streams, and the engine against a port
of the WGAN-GP authors' toy script."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import nn

from ganbench.cli import main
from ganbench.data import build_dataset
from ganbench.errors import BadInput
from ganbench.models.base import uniform_init
from ganbench.optim import BatchedOptimizer
from ganbench.registry import ARCHS, load_builtins
from ganbench.seeding import _STREAMS, stream
from ganbench.suite import ModelConfig, TrainConfig, load_suite
from ganbench.train import Streams, train_group
from tests.conftest import TINY_SUITE, write
from tests.test_train import assert_same_result, without_claims

load_builtins()

TORCH_INIT = {
    "normal_0.02": lambda w, g: nn.init.normal_(w, 0.0, 0.02, generator=g),
    "xavier": lambda w, g: nn.init.xavier_uniform_(w, generator=g),
    "kaiming": lambda w, g: nn.init.kaiming_normal_(w, mode="fan_in", nonlinearity="relu", generator=g),
}


def variant_suite(tmp_path, variant: str, **overrides):
    """The tiny suite with one more variant line, e.g. `x: {loss: wgan}`."""
    return load_suite(write(tmp_path, without_claims() + f"  {variant}\n"), **overrides)


# ----------------------------------------------------------------------------- initialisation


@pytest.mark.parametrize("init", sorted(TORCH_INIT))
def test_mlp_init_equals_torch_nn_init_on_nn_linear(init):
    model = ModelConfig(hidden=16, depth=2, z_dim=3, init=init)
    G, D = ARCHS.get("mlp")(model, (2,), [3, 8])
    for net, role, sizes in ((G, "G", [3, 16, 16, 2]), (D, "D", [2, 16, 16, 1])):
        for k, seed in enumerate([3, 8]):
            generator = stream(seed, role)  # member k's stream, drawn layer by layer like nn.Sequential
            for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
                layer = nn.Linear(fan_in, fan_out)
                TORCH_INIT[init](layer.weight.data, generator)
                assert torch.equal(net.param(f"w{i}")[k], layer.weight.data.T), (role, k, i)
                assert torch.equal(net.param(f"b{i}")[k], torch.zeros(fan_out))


@pytest.mark.parametrize("arch", ["dcgan", "resnet"])
@pytest.mark.parametrize("init", sorted(TORCH_INIT))
def test_conv_init_equals_torch_nn_init_on_the_same_weights(arch, init):
    # Conv weights are stored in torch's layout ([out, in, k, k]; ConvTranspose [in, out, k, k]),
    # so torch.nn.init on a tensor of the same shape draws the same numbers, fans included.
    G, D = ARCHS.get(arch)(ModelConfig(arch=arch, width=8, z_dim=4, init=init), (1, 16, 16), [5])
    for net, role in ((G, "G"), (D, "D")):
        generator = stream(5, role)
        for name, shape in net.shapes.items():
            value = net.param(name)[0]
            if name.startswith("w"):
                expected = TORCH_INIT[init](torch.empty(shape), generator)
                assert torch.equal(value, expected), (role, name)
            else:
                assert torch.equal(
                    value, torch.ones(shape) if name.startswith("gamma") else torch.zeros(shape)
                )


def test_default_init_is_each_archs_own():
    # mlp: nn.Linear's bound U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases, in order.
    G, _ = ARCHS.get("mlp")(ModelConfig(hidden=16, depth=2, z_dim=3), (2,), [4])
    generator = stream(4, "G")
    for i, (fan_in, fan_out) in enumerate([(3, 16), (16, 16), (16, 2)]):
        bound = 1 / fan_in**0.5
        assert torch.equal(G.param(f"w{i}")[0], uniform_init((fan_in, fan_out), bound, generator))
        assert torch.equal(G.param(f"b{i}")[0], uniform_init((fan_out,), bound, generator))
    # dcgan's own init is the paper's N(0, 0.02): the same draws as normal_0.02.
    shape = (1, 16, 16)
    default = ARCHS.get("dcgan")(ModelConfig(arch="dcgan", width=8), shape, [4])
    normal = ARCHS.get("dcgan")(ModelConfig(arch="dcgan", width=8, init="normal_0.02"), shape, [4])
    for a, b in zip(default, normal, strict=True):
        assert torch.equal(a.flat, b.flat)
    # resnet's own is Xavier with a ReLU gain on the 3x3 convs, not plain Xavier.
    resnet = ARCHS.get("resnet")(ModelConfig(arch="resnet", width=8), shape, [4])[1].flat
    xavier = ARCHS.get("resnet")(ModelConfig(arch="resnet", width=8, init="xavier"), shape, [4])[1].flat
    assert not torch.equal(resnet, xavier)


def test_init_is_part_of_the_run_id(tmp_path):
    plain = variant_suite(tmp_path, "x: {loss: ns}")
    toy = variant_suite(tmp_path, "x: {loss: ns, model: {init: normal_0.02}}")
    assert toy.variants["x"].model.init == "normal_0.02" and plain.variants["x"].model.init == "default"
    assert not {s.run_id for s in toy.specs if s.variant == "x"} & {s.run_id for s in plain.specs}
    with pytest.raises(BadInput, match=r"variants\.x\.model\.init: Input should be 'default'"):
        variant_suite(tmp_path, "x: {loss: ns, model: {init: orthogonal}}")


# ----------------------------------------------------------------------------- loss defaults, Lipschitz


def test_wgan_losses_take_their_papers_defaults(tmp_path):
    suite = load_suite(
        write(
            tmp_path,
            without_claims()
            + "  plain_wgan: {loss: wgan}\n  plain_gp: {loss: wgan-gp}\n"
            + "  own: {loss: wgan, clip: 0.1, n_critic: 2}\n",
        )
    )
    wgan, gp, own, gan = (suite.variants[v] for v in ("plain_wgan", "plain_gp", "own", "gan"))
    assert (wgan.clip, wgan.n_critic, wgan.gp_weight) == (0.01, 5, 0.0)  # Arjovsky et al., Algorithm 1
    assert (gp.clip, gp.n_critic, gp.gp_weight) == (None, 5, 10.0)  # Gulrajani et al., Algorithm 1
    assert (own.clip, own.n_critic) == (0.1, 2)  # what a variant says wins
    assert (gan.clip, gan.n_critic) == (None, 1)
    # Resolved values are written into the spec (and so into the run id), and survive a round trip.
    assert TrainConfig.model_validate(wgan.model_dump()) == wgan


@pytest.mark.parametrize(
    "variant",
    [
        "x: {loss: wgan, clip: null}",
        "x: {loss: wgan-gp, gp_weight: 0}",
        "x: {loss: wgan-gp, gp_weight: 0, model: {spectral_norm: false}}",
    ],
)
def test_a_wasserstein_critic_without_lipschitz_constraint_is_bad_input(tmp_path, variant, capsys):
    path = write(tmp_path, without_claims() + f"  {variant}\n")
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert f"{path}: variants.x: loss " in err and "needs a Lipschitz constraint on its critic" in err, err


def test_any_one_lipschitz_constraint_is_enough(tmp_path):
    for variant in (
        "x: {loss: wgan, clip: null, gp_weight: 1.0}",
        "x: {loss: wgan-gp, gp_weight: 0, clip: 0.01}",
    ):
        variant_suite(tmp_path, variant)
    # (not through the tiny suite: its defaults set MLP knobs that a DCGAN does not read)
    TrainConfig.model_validate(
        {"loss": "wgan", "clip": None, "model": {"arch": "dcgan", "spectral_norm": True}}
    )


# ----------------------------------------------------------------------------- critic warm-up


def test_critic_warmup_schedule_is_the_wgan_codes():
    t = TrainConfig(loss="wgan", critic_warmup={})
    assert (t.critic_warmup.steps, t.critic_warmup.every, t.critic_warmup.n_critic) == (25, 500, 100)
    schedule = [t.critic_iterations(step) for step in range(1002)]
    assert schedule[:25] == [100] * 25 and schedule[25:500] == [5] * 475
    assert schedule[500] == schedule[1000] == 100 and schedule[501] == schedule[1001] == 5
    assert [TrainConfig(loss="wgan").critic_iterations(s) for s in (0, 500)] == [5, 5]
    with pytest.raises(ValueError, match=r"critic_warmup.n_critic \(3\) is below n_critic \(5\)"):
        TrainConfig(loss="wgan", critic_warmup={"n_critic": 3})


def updates_between_generator_steps(spec, monkeypatch) -> list[int]:
    roles: dict[int, str] = {}
    order: list[str] = []
    original_init, original_step = BatchedOptimizer.__init__, BatchedOptimizer.step

    def init(self, flat, configs):
        original_init(self, flat, configs)
        roles[id(self)] = "G" if not roles else "D"  # train_group builds G's optimizer first

    def step(self):
        order.append(roles[id(self)])
        original_step(self)

    monkeypatch.setattr(BatchedOptimizer, "__init__", init)
    monkeypatch.setattr(BatchedOptimizer, "step", step)
    train_group([spec])
    counts, run = [], 0
    for role in order:
        if role == "D":
            run += 1
        else:
            counts.append(run)
            run = 0
    return counts


def test_the_critic_takes_100_steps_before_the_first_generator_step(tmp_path, monkeypatch):
    suite = variant_suite(tmp_path, "x: {loss: wgan, critic_warmup: {}}", steps=3, seeds=1)
    spec = next(s for s in suite.specs if s.variant == "x")
    assert updates_between_generator_steps(spec, monkeypatch) == [100, 100, 100]


def test_critic_warmup_steps_and_period(tmp_path, monkeypatch):
    suite = variant_suite(
        tmp_path,
        "x: {loss: wgan, n_critic: 2, critic_warmup: {steps: 2, every: 5, n_critic: 7}}",
        steps=12,
        seeds=1,
    )
    spec = next(s for s in suite.specs if s.variant == "x")
    assert updates_between_generator_steps(spec, monkeypatch) == [7, 7, 2, 2, 2, 7, 2, 2, 2, 2, 7, 2]


def test_with_critic_warmup_members_still_equal_solo_runs(tmp_path):
    # Step 50 starts a new chunk of draws after warm-up draws were made on demand.
    suite = variant_suite(
        tmp_path,
        "x: {loss: wgan-gp, n_critic: 2, critic_warmup: {steps: 3, every: 25, n_critic: 6}}",
        steps=60,
        seeds=2,
    )
    specs = [s for s in suite.specs if s.variant == "x"]  # 2 datasets x 2 seeds, one ensemble
    together = train_group(specs)
    for spec, result in zip(specs, together, strict=True):
        assert_same_result(result, train_group([spec])[0])
    plain = replace(
        specs[0], train=TrainConfig.model_validate({**specs[0].train.model_dump(), "critic_warmup": None})
    )
    assert train_group([plain])[0].metrics["w1"] != together[0].metrics["w1"]  # the warm-up changed the run


# ----------------------------------------------------------------------------- evaluation streams


def test_stream_indices_are_stable():
    assert _STREAMS[:6] == ("G", "D", "noise", "data", "penalty", "eval") and "eval_real" in _STREAMS
    for name in ("eval", "eval_real"):
        index = _STREAMS.index(name)
        seed = int(np.random.SeedSequence([3, index]).generate_state(1)[0])
        assert torch.equal(
            torch.rand(4, generator=stream(3, name)),
            torch.rand(4, generator=torch.Generator().manual_seed(seed)),
        )


def test_w1_real_points_come_from_their_own_stream(tmp_path, monkeypatch):
    import ganbench.metrics.mog as mog

    seen = []
    original = mog.wasserstein1
    monkeypatch.setattr(mog, "wasserstein1", lambda a, b: seen.append((a, b)) or original(a, b))
    spec = next(
        s for s in load_suite(write(tmp_path, TINY_SUITE), steps=2, seeds=1).specs if s.variant == "gan"
    )
    train_group([spec])
    n = spec.train.w1_points
    data = build_dataset(spec.data)
    fake, real = seen[-1]
    assert torch.equal(real, data.sample(n, stream(spec.seed, "eval_real")))
    assert not torch.equal(real, data.sample(n, stream(spec.seed, "eval")))  # not the eval noise's stream
    assert fake.shape == (n, 2)


# ----------------------------------------------------------------------------- the WGAN-GP toy script


TOY_SCRIPT_SUITE = """
name: toy-script
defaults:
  steps: 5
  batch_size: 32
  eval_every: 5
  eval_samples: 100
  w1_points: 50
  model: {arch: mlp, hidden: 32, depth: 3, z_dim: 2, init: normal_0.02}
datasets: [ring8]
seeds: [0]
variants:
  gp: {loss: wgan-gp, gp_weight: 0.1, n_critic: 5, optimizer: {name: adam, lr: 1.0e-4, betas: [0.5, 0.9]}}
"""


def toy_script_net(n_in: int, n_out: int, dim: int) -> nn.Sequential:
    """gan_toy.py's Generator/Discriminator: three ReLU hidden layers of DIM units."""
    return nn.Sequential(
        nn.Linear(n_in, dim), nn.ReLU(True), nn.Linear(dim, dim), nn.ReLU(True),
        nn.Linear(dim, dim), nn.ReLU(True), nn.Linear(dim, n_out),
    )  # fmt: skip


def toy_script_penalty(netD, real, fake, alpha, lam):
    """calc_gradient_penalty of gan_toy.py, with the interpolation weights given."""
    alpha = alpha[:, None].expand(real.size())
    interpolates = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    disc = netD(interpolates)
    (gradients,) = torch.autograd.grad(
        disc, interpolates, grad_outputs=torch.ones(disc.size()), create_graph=True, retain_graph=True
    )
    return ((gradients.norm(2, dim=1) - 1) ** 2).mean() * lam


def test_engine_matches_the_wgan_gp_toy_script_port(tmp_path, monkeypatch):
    """The training loop of the WGAN-GP authors' gan_toy.py (its PyTorch port: N(0, 0.02) init,
    Adam (0.5, 0.9), CRITIC_ITERS 5, LAMBDA 0.1, D_real.backward(mone), D_fake.backward(one),
    penalty.backward(), G.backward(mone)) on the same initial weights and the same draws ends
    5 generator steps (25 critic steps) where ganbench's batched engine does, to 1e-7."""
    spec = load_suite(write(tmp_path, TOY_SCRIPT_SUITE)).specs[0]
    t = spec.train
    built = {}
    build = ARCHS.get("mlp")
    monkeypatch.setitem(ARCHS._entries, "mlp", lambda *args: built.setdefault("nets", build(*args)))
    train_group([spec])
    G_ours, D_ours = built["nets"]

    G0, D0 = build(t.model, (2,), [spec.seed])  # the same initial weights
    netG, netD = toy_script_net(2, 2, 32), toy_script_net(2, 1, 32)
    for ours, theirs in ((G0, netG), (D0, netD)):
        for i, layer in enumerate(theirs[::2]):
            layer.weight.data.copy_(ours.param(f"w{i}")[0].T)
            layer.bias.data.copy_(ours.param(f"b{i}")[0])
            assert layer.bias.abs().max() == 0 and 0.015 < layer.weight.std() < 0.025  # the script's init
    optimizerD = torch.optim.Adam(netD.parameters(), lr=1e-4, betas=(0.5, 0.9))
    optimizerG = torch.optim.Adam(netG.parameters(), lr=1e-4, betas=(0.5, 0.9))
    one, mone = torch.tensor(1.0), torch.tensor(-1.0)
    draws = Streams([spec], [build_dataset(spec.data)], 2, "cpu")  # the same draws, in the same order
    for step in range(t.steps):
        for p in netD.parameters():
            p.requires_grad = True
        for it in range(5):
            noise, real, alpha = (x[0] for x in draws.at(step, it))
            netD.zero_grad()
            D_real = netD(real).mean()
            D_real.backward(mone)
            fake = netG(noise).detach()
            D_fake = netD(fake).mean()
            D_fake.backward(one)
            toy_script_penalty(netD, real, fake, alpha, 0.1).backward()
            optimizerD.step()
        for p in netD.parameters():
            p.requires_grad = False
        netG.zero_grad()
        (noise,) = draws.at(step, None)
        netD(netG(noise[0])).mean().backward(mone)
        optimizerG.step()
    for ours, theirs in ((G_ours, netG), (D_ours, netD)):
        for i, layer in enumerate(theirs[::2]):
            torch.testing.assert_close(ours.param(f"w{i}")[0].T, layer.weight.data, rtol=0, atol=1e-7)
            torch.testing.assert_close(ours.param(f"b{i}")[0], layer.bias.data, rtol=0, atol=1e-7)
    assert (G_ours.flat - G0.flat).abs().max() > 1e-4  # the weights moved: the comparison is not vacuous
