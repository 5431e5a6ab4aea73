"""Image metrics: FID/KID/precision-recall math on features with known answers, the real
torch-fidelity Inception path with a random-init weights file, the digit classifier's metrics,
and a few steps of image training through the ensemble engine."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from ganbench.data.images import digits, to_uint8
from ganbench.errors import BadInput
from ganbench.metrics import EvalContext, evaluate, fid, metric_identity, metric_info
from ganbench.metrics.fid import feature_statistics, frechet_distance, kid, precision_recall
from ganbench.registry import load_builtins
from ganbench.suite import TrainConfig

load_builtins()  # TrainConfig validates its loss name against the registry


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> str:
    """One cache dir per module, so the digit classifier trains once (about 10 s)."""
    return str(tmp_path_factory.mktemp("ganbench-cache"))


def random_covariance(rng: np.random.Generator, d: int) -> np.ndarray:
    a = rng.normal(size=(d, d))
    return a @ a.T / d + 0.1 * np.eye(d)


def symmetric_sqrt(s: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh(s)
    return vectors @ np.diag(np.sqrt(np.clip(values, 0, None))) @ vectors.T


# ----------------------------------------------------------------------------- FID


def test_fid_of_commuting_gaussians_is_the_closed_form():
    # Diagonal covariances: Tr(S1 + S2 - 2 (S1 S2)^1/2) = sum (sqrt(a) - sqrt(b))^2.
    a, b = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    expected = 1 + 0 + 4 + (1 - 3) ** 2 + (2 - 1) ** 2 + 0
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, rel=1e-4)


def test_fid_of_general_gaussians_is_the_closed_form():
    rng = np.random.default_rng(0)
    d = 16
    s1, s2 = random_covariance(rng, d), random_covariance(rng, d)
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    # (S1 S2)^1/2 is similar to (S1^1/2 S2 S1^1/2)^1/2, a symmetric root: same trace.
    root1 = symmetric_sqrt(s1)
    cross = np.trace(symmetric_sqrt(root1 @ s2 @ root1))
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2) - 2 * cross
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-4)
    assert frechet_distance(mu1, s1, mu1, s1) == pytest.approx(0, abs=1e-6)


def test_fid_matches_torch_fidelity_on_statistics_and_features():
    from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric

    rng = np.random.default_rng(1)
    real = rng.multivariate_normal(np.zeros(8), random_covariance(rng, 8), size=500)
    fake = rng.multivariate_normal(np.full(8, 0.3), random_covariance(rng, 8), size=400)
    ours = [feature_statistics(f) for f in (fake, real)]
    theirs = [fid_features_to_statistics(torch.from_numpy(f)) for f in (fake, real)]
    for (mu, sigma), stats in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(mu, stats["mu"], rtol=1e-10)
        np.testing.assert_allclose(sigma, stats["sigma"], rtol=1e-10)
    expected = fid_statistics_to_metric(*theirs, verbose=False)["frechet_inception_distance"]
    assert frechet_distance(*ours[0], *ours[1]) == pytest.approx(expected, rel=1e-4)


# ----------------------------------------------------------------------------- KID, precision/recall


def test_kid_of_identical_sets_is_about_zero_and_of_shifted_sets_is_not():
    features = torch.randn(600, 32, generator=torch.Generator().manual_seed(0))
    same, _ = kid(features, features.clone(), subsets=20, subset_size=200)
    shifted, _ = kid(features + 1.0, features, subsets=20, subset_size=200)
    assert abs(same) < 1e-2 * shifted and shifted > 0.1


def test_precision_recall_known_cases():
    real = torch.randn(300, 4, generator=torch.Generator().manual_seed(0))
    assert precision_recall(real.clone(), real) == pytest.approx((1.0, 1.0))
    assert precision_recall(real + 100.0, real) == (0.0, 0.0)
    # Fakes collapsed onto a tenth of the reals: all of them are real-looking, few reals are covered.
    precision, recall = precision_recall(real[:30].repeat(10, 1), real)
    assert precision == 1.0 and recall < 0.3


# ----------------------------------------------------------------------------- Inception through torch-fidelity


@pytest.fixture(scope="module")
def random_inception(tmp_path_factory) -> str:
    """torch-fidelity's Inception with random weights: meaningless numbers, the real code path."""
    import torch_fidelity.feature_extractor_inceptionv3 as inception

    cls = inception.FeatureExtractorInceptionV3
    original = cls.load_state_dict
    cls.load_state_dict = lambda self, state: None  # build the skeleton without downloading weights
    saved_url_loader = inception.load_state_dict_from_url
    inception.load_state_dict_from_url = lambda *args, **kwargs: {}
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            model = cls("inception-v3-compat", ["2048"])
    finally:
        cls.load_state_dict = original
        inception.load_state_dict_from_url = saved_url_loader
    path = tmp_path_factory.mktemp("weights") / "random-inception.pth"
    torch.save(model.state_dict(), path)
    return str(path)


@pytest.mark.slow
def test_inception_metrics_run_end_to_end_with_offline_weights(random_inception, cache, monkeypatch):
    # The 64-d block-1 features instead of pool3's 2048: torch-fidelity's FID takes the eigenvalues
    # of a 2048 x 2048 matrix, about 15 s on 2 shared cores; everything else is the real path.
    monkeypatch.setattr(fid, "FEATURE_LAYER", "64")
    data = digits(size=16)
    fake = data.sample(12, torch.Generator().manual_seed(0))
    train = TrainConfig(eval_samples=12, image_metrics=["inception"])
    context = EvalContext(inception_weights=random_inception, cache_dir=cache)
    metrics = evaluate(data, fake, torch.Generator(), train, context)
    assert set(metrics) == {
        "fid", "is_mean", "is_std", "kid_mean", "kid_std", "precision", "recall", "density", "coverage"
    }  # fmt: skip
    cached = [p.name for p in Path(cache, "fidelity").iterdir()]
    assert any(name.startswith("ganbench-digits-test-12-") for name in cached)  # reference features
    assert evaluate(data, fake, torch.Generator(), train, context).keys() == metrics.keys()  # from the cache
    identity = metric_identity(data, train, context)
    assert identity["extractor"] == "inception-v3-compat" and len(identity["weights_sha256"]) == 12
    assert identity["n_real"] == identity["n_fake"] == "12"
    # ganbench runs torch-fidelity's steps itself to keep the features: same numbers as its
    # calculate_metrics with the same options.
    import torch_fidelity

    pixels = to_uint8(fake).expand(-1, 3, -1, -1).contiguous()
    out = torch_fidelity.calculate_metrics(
        input1=fid.Images(pixels),
        input2=fid.Images(data.reference(12)),
        feature_extractor=fid.INCEPTION,
        feature_extractor_weights_path=random_inception,
        feature_layer_fid="64",
        feature_layer_kid="64",
        feature_layer_prc="64",
        cuda=False,
        isc=True,
        fid=True,
        kid=True,
        prc=True,
        isc_splits=10,
        kid_subset_size=12,
        prc_neighborhood=train.prdc_k,
        save_cpu_ram=True,
        cache=False,
        verbose=False,
    )
    names = {
        "fid": "frechet_inception_distance",
        "is_mean": "inception_score_mean",
        "is_std": "inception_score_std",
        "kid_mean": "kernel_inception_distance_mean",
        "kid_std": "kernel_inception_distance_std",
        "precision": "precision",
        "recall": "recall",
    }
    for ours, theirs in names.items():
        assert metrics[ours] == pytest.approx(out[theirs], rel=1e-9, abs=1e-12), ours


def test_inception_without_weights_is_one_clear_line(monkeypatch):
    monkeypatch.delenv("GANBENCH_INCEPTION_WEIGHTS", raising=False)
    train = TrainConfig(eval_samples=12, image_metrics=["inception"])
    with pytest.raises(BadInput) as err:
        evaluate(digits(), torch.zeros(12, 1, 16, 16), torch.Generator(), train, EvalContext())
    assert "\n" not in str(err.value) and "image_metrics: [classifier]" in str(err.value)
    with pytest.raises(BadInput, match="does not exist"):
        metric_identity(digits(), train, EvalContext(inception_weights="/nowhere/inception.pth"))


# ----------------------------------------------------------------------------- the digit classifier


def test_classifier_fid_is_lower_for_real_digits_than_for_noise(cache):
    data = digits(size=16)
    real, _ = data.train_split()  # real digits the reference (held-out) split has not seen
    noise = torch.rand(300, 1, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1
    train = TrainConfig(eval_samples=300)
    context = EvalContext(cache_dir=cache)
    on_real = evaluate(data, real[:300], torch.Generator(), train, context)
    on_noise = evaluate(data, noise, torch.Generator(), train, context)
    assert on_real["classifier_fid"] < 0.1 * on_noise["classifier_fid"]
    assert on_real["classes_covered"] == 10 and on_real["class_kl"] < 0.1
    one_class = real[:300][data.train_labels[:300] == 3]
    collapsed = evaluate(data, one_class, torch.Generator(), train, context)
    assert (
        collapsed["classes_covered"] <= 2 and collapsed["class_kl"] > 1.5
    )  # log(10) = 2.30 at full collapse
    assert metric_identity(data, train, context) == {
        "extractor": "lenet-v1",
        "n_real": "300",
        "n_fake": "300",
    }


def test_metric_directions():
    assert not metric_info("fid").higher_is_better and not metric_info("classifier_fid").higher_is_better
    assert metric_info("is_mean").higher_is_better and metric_info("classes_covered").higher_is_better
    assert metric_info("precision").higher_is_better and not metric_info("class_kl").higher_is_better


# ----------------------------------------------------------------------------- end to end


def test_a_few_steps_of_image_training_give_finite_classifier_metrics(cache, tmp_path):
    from ganbench.suite import load_suite
    from ganbench.train import group_key, train_group

    suite = tmp_path / "images.yaml"
    suite.write_text(
        "name: images_tiny\n"
        "defaults: {steps: 4, batch_size: 16, eval_every: 2, eval_samples: 200, image_metrics: [classifier],\n"
        "           model: {arch: dcgan, z_dim: 8, width: 8, batch_norm: true}}\n"
        "datasets: [{name: digits, size: 16}]\n"
        "seeds: 2\n"
        "variants:\n"
        "  gan: {loss: ns}\n"
        "  wgan_gp: {loss: wgan-gp, n_critic: 2, optimizer: {name: adam, lr: 1.0e-4, betas: [0.0, 0.9]}}\n"
    )
    specs = load_suite(suite).specs
    groups: dict[str, list] = {}
    for spec in specs:
        groups.setdefault(group_key(spec), []).append(spec)
    assert len(groups) == 2
    for members in groups.values():
        for result in train_group(members, "cpu", EvalContext(cache_dir=cache)):
            assert result.status == "finished" and result.steps_done == 4
            for name in ("classifier_fid", "classes_covered", "class_kl"):
                assert math.isfinite(result.metrics[name]), name
                assert len(result.history[name]) == 2  # evaluated at steps 2 and 4
            assert result.samples.shape[1:] == (1, 16, 16)
            assert result.info["extractor"] == "lenet-v1"
            assert [step for step, _ in result.snapshots] == [2, 4]  # a sample grid per evaluation
            assert result.snapshots[0][1].shape == (64, 1, 16, 16)
        from ganbench.api import _artifacts

        names = [p.name for p in _artifacts(result, tmp_path)]
        assert len(names) == 3 and names[0].startswith("grid_") and names[-1].startswith("samples_")
