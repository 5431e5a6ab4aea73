"""Suite loading: defaults and overrides, expansion, run ids, and one-line errors for bad input."""

from __future__ import annotations

import pytest

from ganbench.errors import BadInput
from ganbench.suite import ModelConfig, TrainConfig, load_suite
from tests.conftest import TINY_SUITE, write


def test_expansion_and_defaults(tiny_suite):
    suite = load_suite(tiny_suite)
    assert len(suite.specs) == 2 * 2 * 2
    gan = suite.variants["gan"]
    assert gan.steps == 60 and gan.model.hidden == 32  # from defaults
    assert gan.optimizer_g == gan.optimizer_d == gan.optimizer  # resolved explicitly
    assert suite.variants["wgan"].clip == 0.05 and suite.variants["wgan"].n_critic == 2
    assert suite.datasets["ring8"] == {"name": "ring", "modes": 8, "radius": 2.0, "std": 0.02}
    assert suite.datasets["grid9"]["side"] == 3


def test_per_side_optimizers_override(tmp_path):
    text = TINY_SUITE.replace(
        "gan: {loss: ns, optimizer: {name: adam, lr: 1.0e-3, betas: [0.5, 0.999]}}",
        "gan: {loss: ns, optimizer: {name: adam, lr: 1.0e-3}, optimizer_d: {name: sgd, lr: 0.1, momentum: 0.9}}",
    )
    gan = load_suite(write(tmp_path, text)).variants["gan"]
    assert gan.optimizer_d.name == "sgd" and gan.optimizer_d.momentum == 0.9
    assert gan.optimizer_g.name == "adam"


def test_run_ids_are_stable_and_distinct(tiny_suite, tmp_path):
    a, b = load_suite(tiny_suite), load_suite(tiny_suite)
    assert [s.run_id for s in a.specs] == [s.run_id for s in b.specs]
    assert len({s.run_id for s in a.specs}) == len(a.specs)
    renamed = load_suite(write(tmp_path, TINY_SUITE.replace("name: tiny", "name: other"), "other.yaml"))
    assert [s.run_id for s in renamed.specs] == [s.run_id for s in a.specs]  # the suite name is a label
    longer = load_suite(tiny_suite, steps=61)
    assert not {s.run_id for s in longer.specs} & {s.run_id for s in a.specs}


def test_overrides(tiny_suite):
    suite = load_suite(tiny_suite, steps=10, seeds=3)
    assert {s.train.steps for s in suite.specs} == {10}
    assert {s.train.eval_every for s in suite.specs} == {10}  # clipped to steps
    assert suite.seeds == [0, 1, 2]


def test_wgan_gp_gets_default_weight(tmp_path):
    text = TINY_SUITE.replace("wgan: {loss: wgan, clip: 0.05,", "wgan: {loss: wgan-gp,")
    assert load_suite(write(tmp_path, text)).variants["wgan"].gp_weight == 10.0


BAD = {
    "unknown key": (
        ("  batch_size: 32", "  batch_sise: 32"),
        "defaults.batch_sise: unknown key (did you mean 'batch_size'?)",
    ),
    "wrong type": (("  steps: 60", "  steps: many"), "defaults.steps: Input should be a valid integer"),
    "negative lr": (
        ("lr: 1.0e-3, betas", "lr: -1, betas"),
        "variants.gan.optimizer.lr: Input should be greater than 0, got -1",
    ),
    "unknown loss": (
        ("loss: wgan,", "loss: wgann,"),
        "variants.wgan.loss: unknown loss 'wgann' (did you mean 'wgan'?",
    ),
    "unknown dataset": (
        ("datasets: [ring8,", "datasets: [ring9,"),
        "datasets[0].name: unknown dataset 'ring9' (did you mean 'ring",
    ),
    "dataset param": (
        ("side: 3,", "sides: 3,"),
        "datasets[1].sides: unknown dataset parameter (did you mean 'side'?",
    ),
    "nested unknown key": (
        ("model: {arch: mlp,", "model: {arch: mlp, hiden: 3,"),
        "defaults.model.hiden: unknown key (did you mean 'hidden'?",
    ),
    "unknown claim variant": (
        ("better: gan\n", "better: gam\n"),
        "claims[0].better: unknown variant 'gam' (did you mean 'gan'?",
    ),
    "unknown claim metric": (("metric: w1", "metric: w2"), "claims[0].metric: unknown metric 'w2'"),
    "yaml syntax": (("seeds: 2", "seeds: [2"), "YAML syntax error"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_one_line_with_key_path(tmp_path, case):
    (old, new), expected = BAD[case]
    assert old in TINY_SUITE, old
    path = write(tmp_path, TINY_SUITE.replace(old, new, 1))
    with pytest.raises(BadInput) as info:
        load_suite(path)
    message = str(info.value)
    assert message.startswith(str(path)), message
    assert expected in message
    assert "\n" not in message


def test_missing_file(tmp_path):
    with pytest.raises(BadInput, match="cannot read suite file"):
        load_suite(tmp_path / "nope.yaml")


def test_top_level_not_a_mapping(tmp_path):
    with pytest.raises(BadInput, match="expected a mapping"):
        load_suite(write(tmp_path, "- just\n- a list\n"))


@pytest.mark.parametrize(
    ("model", "knob"),
    [
        ("{arch: mlp, spectral_norm: true}", "spectral_norm"),
        ("{arch: mlp, width: 32}", "width"),
        ("{arch: dcgan, hidden: 64}", "hidden"),
        ("{arch: resnet, activation: tanh}", "activation"),
    ],
)
def test_a_knob_the_architecture_does_not_read_is_an_error(tmp_path, model, knob):
    text = f"name: x\ndatasets: [ring8]\nvariants:\n  a: {{loss: ns, model: {model}}}\n"
    with pytest.raises(BadInput) as err:
        load_suite(write(tmp_path, text))
    message = str(err.value)
    assert "variants.a.model" in message and f"{knob}: the " in message and "\n" not in message


def test_knobs_at_their_defaults_or_read_by_the_arch_are_fine(tmp_path):
    """An unread knob at its default changes nothing (the run id included), and a dumped config
    (which lists every knob, see the next test) must validate back."""
    text = "name: x\ndatasets: [ring8]\nvariants:\n  a: {loss: ns, model: {arch: mlp, spectral_norm: false, hidden: 8}}\n"
    train = load_suite(write(tmp_path, text)).variants["a"]
    assert train.model.hidden == 8
    assert TrainConfig.model_validate(train.model_dump()) == train


def test_model_config_follows_the_arch_and_keeps_resolved_specs():
    """Each arch validates its own knobs (suite.AnyModel), and the built-ins dump every key the
    single model config of earlier versions had, so run ids of existing suites do not change."""
    mlp, conv = ModelConfig(hidden=16), ModelConfig(arch="resnet", width=8)
    assert type(mlp).__name__ == "MLPModel" and type(conv).__name__ == "ResNetModel"
    assert mlp.model_dump() == {
        "arch": "mlp",
        "z_dim": 2,
        "hidden": 16,
        "depth": 3,
        "activation": "relu",
        "batch_norm": False,
        "width": 64,
        "spectral_norm": False,
        "init": "default",
    }
    assert conv.model_dump()["hidden"] == 128 and conv.model_dump()["width"] == 8
    suite = {
        "name": "ids",
        "datasets": ["ring8"],
        "seeds": [0],
        "variants": {
            "mlp": {"loss": "ns", "model": {"arch": "mlp", "hidden": 16}},
            "dcgan": {"loss": "hinge", "model": {"arch": "dcgan", "width": 8, "spectral_norm": True}},
            "resnet": {"loss": "ns", "model": {"arch": "resnet", "batch_norm": True}},
        },
    }
    ids = {s.variant: s.run_id for s in load_suite(suite).specs}
    # computed with the single ModelConfig of earlier versions
    assert ids == {"mlp": "256cfdee1b62b8ec", "dcgan": "a7e6ef936fc9e797", "resnet": "ae03ee2896def9a6"}


def test_a_typo_in_a_model_key_gets_the_arch_s_own_hint(tmp_path):
    text = "name: x\ndatasets: [ring8]\nvariants:\n  a: {loss: ns, model: {arch: dcgan, widht: 8}}\n"
    with pytest.raises(BadInput, match=r"variants\.a\.model\.widht: unknown key \(did you mean 'width'\?\)"):
        load_suite(write(tmp_path, text))
    with pytest.raises(
        BadInput, match=r"variants\.a\.model\.arch: unknown arch 'dcgen' \(did you mean 'dcgan'"
    ):
        load_suite(write(tmp_path, text.replace("dcgan, widht: 8", "dcgen")))


def test_a_plugin_arch_takes_every_knob_and_extra_keys(tmp_path):
    text = (
        "name: x\ndatasets: [ring8]\nvariants:\n"
        "  a: {loss: ns, model: {arch: 'tests.test_suite:plugin_arch', hidden: 8, heads: 4}}\n"
    )
    model = load_suite(write(tmp_path, text)).variants["a"].model
    assert type(model).__name__ == "PluginModel" and model.hidden == 8 and model.heads == 4
    assert model.model_dump()["heads"] == 4  # extra keys are part of the run id


def plugin_arch(model, data_shape, seeds):  # a plugin arch's build function (never called here)
    raise NotImplementedError
