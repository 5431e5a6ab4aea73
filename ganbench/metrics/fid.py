"""Distances between feature distributions, and the Inception metrics through torch-fidelity.

The pure functions (``frechet_distance``, ``kid``, ``precision_recall``, ``density_coverage``)
work on any features; ``inception_metrics`` extracts Inception features of generated images and
of the dataset's held-out split once, through torch-fidelity, and computes IS, FID, KID and
precision/recall with torch-fidelity's own functions (the steps of its ``calculate_metrics``) and
density/coverage with ``density_coverage``. Inception weights
are never downloaded: they come from the suite's ``inception_weights`` or the environment
variable GANBENCH_INCEPTION_WEIGHTS. The reference side's features are cached on disk under a
name that hashes the dataset parameters, split, extractor, weights file and sample count, so a
changed ingredient can never reuse stale statistics.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import warnings
from pathlib import Path

import numpy as np
import scipy.linalg
import torch
from torch import Tensor

from ganbench.errors import BadInput
from ganbench.files import cache_root

INCEPTION = "inception-v3-compat"  # torch-fidelity's port of the TF Inception used by the FID paper
FEATURE_LAYER = "2048"  # pool3, the FID paper's features (for FID, KID and precision/recall)
WEIGHTS_URL = "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/weights-inception-2015-12-05-6726825d.pth"
KID_SUBSETS, KID_SUBSET_SIZE = 100, 1000  # Binkowski et al.'s protocol
PRDC_K = 5  # k of precision/recall and density/coverage (TrainConfig.prdc_k): Naeem et al. and prdc's
DISTANCE_BLOCK = 1 << 24  # distances held at once by density_coverage (128 MB of float64)


def feature_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance (unbiased, as torch-fidelity and the FID paper) of [n, d] features."""
    features = np.asarray(features, dtype=np.float64)
    return features.mean(axis=0), np.cov(features, rowvar=False)


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^1/2): the FID of two Gaussians."""
    diff = mu1 - mu2
    with warnings.catch_warnings():  # singular covariances (dead ReLU features) are common and handled
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        covmean = scipy.linalg.sqrtm(sigma1 @ sigma2)
        if not np.isfinite(covmean).all():  # fewer samples than dimensions: regularise, as TTUR does
            offset = np.eye(len(mu1)) * 1e-6
            covmean = scipy.linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    # S1 S2 is not symmetric, so sqrtm may return tiny imaginary parts from round-off; they carry
    # no meaning (the exact root has a real trace), so keep the real part.
    trace_covmean = float(np.trace(np.real(covmean)))
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_covmean)


def kid(
    fake: Tensor,
    real: Tensor,
    subsets: int = KID_SUBSETS,
    subset_size: int = KID_SUBSET_SIZE,
    seed: int = 2020,
) -> tuple[float, float]:
    """Kernel Inception Distance (unbiased MMD^2, cubic kernel) of [n, d] features: mean, std over subsets."""
    from torch_fidelity.metric_kid import kid_features_to_metric

    size = min(subset_size, len(fake), len(real))
    out = kid_features_to_metric(
        fake.double(), real.double(), kid_subsets=subsets, kid_subset_size=size, rng_seed=seed, verbose=False
    )
    return out["kernel_inception_distance_mean"], out["kernel_inception_distance_std"]


def precision_recall(fake: Tensor, real: Tensor, k: int = PRDC_K) -> tuple[float, float]:
    """Improved precision (share of fakes inside the real k-NN manifold) and recall (the reverse)."""
    from torch_fidelity.metric_prc import prc_features_to_metric

    out = prc_features_to_metric(
        fake.float(), real.float(), prc_neighborhood=k, prc_batch_size=10000, save_cpu_ram=True, verbose=False
    )
    return out["precision"], out["recall"]


def density_coverage(fake: Tensor, real: Tensor, k: int = PRDC_K, device: str = "cpu") -> tuple[float, float]:
    """Density and coverage (Naeem et al. 2020) of [M, d] fake against [N, d] real features.

    Around each real X_i is the ball B_i of radius NND_k(X_i), its distance to its k-th nearest
    other real point; membership is strict (distance < radius). density = (1/kM) sum_j sum_i
    1[Y_j in B_i], which is about 1 when the fakes follow the reals' distribution, and coverage
    = (1/N) sum_i 1[some Y_j in B_i], about 1 - 2^-k for identical distributions. Distances in
    float64, a block of rows at a time, on `device`.
    """
    real = torch.as_tensor(real).to(device, torch.float64)
    fake = torch.as_tensor(fake).to(device, torch.float64)
    if not 0 < k < len(real) or len(fake) == 0:
        raise ValueError(
            f"need k in [1, n_real) and some fakes, got k={k}, {len(real)} real, {len(fake)} fake"
        )
    rows = max(1, DISTANCE_BLOCK // len(real))
    # k + 1: the smallest distance of a real point to the reals is its own (0).
    radii = torch.cat([torch.cdist(block, real).kthvalue(k + 1, dim=1).values for block in real.split(rows)])
    inside = torch.zeros((), dtype=torch.int64, device=device)
    covered = torch.zeros(len(real), dtype=torch.bool, device=device)
    for block in fake.split(max(1, DISTANCE_BLOCK // len(real))):
        within = torch.cdist(real, block) < radii[:, None]  # [N, block]
        inside += within.sum()
        covered |= within.any(dim=1)
    return float(inside) / (k * len(fake)), float(covered.double().mean())


# ----------------------------------------------------------------------------- Inception via torch-fidelity


class Images(torch.utils.data.Dataset):
    """What torch-fidelity reads: bare uint8 [3, H, W] tensors, no labels."""

    def __init__(self, pixels: Tensor) -> None:
        self.pixels = pixels

    def __len__(self) -> int:
        return len(self.pixels)

    def __getitem__(self, i: int) -> Tensor:
        return self.pixels[i]


def inception_weights(weights: str | None) -> Path:
    path = weights or os.environ.get("GANBENCH_INCEPTION_WEIGHTS")
    if not path:
        raise BadInput(
            "image_metrics [inception] needs Inception weights offline: download "
            f"{WEIGHTS_URL} and set inception_weights: <file> in the suite (or GANBENCH_INCEPTION_WEIGHTS), "
            "or use image_metrics: [classifier]"
        )
    if not Path(path).is_file():
        raise BadInput(f"inception weights file {path} does not exist (get it from {WEIGHTS_URL})")
    return Path(path)


@functools.lru_cache(maxsize=8)
def _sha256(path: Path, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    stat = path.stat()  # size and mtime in the memo key: a replaced file is hashed again
    return _sha256(path.resolve(), stat.st_size, stat.st_mtime_ns)


def cache_dir(context_dir: str | None) -> Path:
    return Path(context_dir) if context_dir else cache_root()


def reference_cache_name(dataset_params: dict, extractor: str, weights_sha: str, n_real: int) -> str:
    key = {
        "data": dataset_params,
        "split": "test",
        "extractor": extractor,
        "layer": FEATURE_LAYER,
        "weights": weights_sha,
        "n": n_real,
    }
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return f"ganbench-{dataset_params.get('name', 'data')}-test-{n_real}-{digest}"


def inception_metrics(
    dataset, fake: Tensor, weights: str | None, cache: str | None, device: str, k: int = PRDC_K
) -> dict[str, float]:
    """IS, FID, KID, precision/recall and density/coverage (k-NN balls of `k`) of uint8
    [n, 3, H, W] fakes vs the held-out split."""
    from torch_fidelity.metric_fid import fid_featuresdict_to_statistics_cached, fid_statistics_to_metric
    from torch_fidelity.metric_isc import isc_featuresdict_to_metric
    from torch_fidelity.metric_kid import kid_featuresdict_to_metric
    from torch_fidelity.metric_prc import prc_featuresdict_to_metric
    from torch_fidelity.utils import (
        create_feature_extractor,
        extract_featuresdict_from_input_id_cached,
        get_cacheable_input_name,
        resolve_feature_layer_for_metric,
    )

    path = inception_weights(weights)
    real = dataset.reference(len(fake))
    cuda = device.startswith("cuda")
    # What torch_fidelity.calculate_metrics(**options) does for one feature extractor, with the
    # features kept for density/coverage (tests/test_image_metrics.py checks the numbers agree).
    options = dict(
        input1=Images(fake),
        input2=Images(real),
        input2_cache_name=reference_cache_name(dataset.params, INCEPTION, file_sha256(path), len(real)),
        cache_root=str(cache_dir(cache) / "fidelity"),
        feature_extractor=INCEPTION,
        feature_extractor_weights_path=str(path),
        feature_layer_fid=FEATURE_LAYER,
        feature_layer_kid=FEATURE_LAYER,
        feature_layer_prc=FEATURE_LAYER,
        cuda=cuda,
        isc=True,
        fid=True,
        kid=True,
        prc=True,
        isc_splits=min(10, len(fake)),
        kid_subset_size=min(KID_SUBSET_SIZE, len(fake), len(real)),
        prc_neighborhood=k,
        save_cpu_ram=True,  # no loader worker processes
        verbose=False,
    )
    isc_layer = resolve_feature_layer_for_metric("isc", **options)
    with torch.cuda.device(device) if cuda else contextlib.nullcontext():
        extractor = create_feature_extractor(INCEPTION, sorted({isc_layer, FEATURE_LAYER}), **options)
        fake_features = extract_featuresdict_from_input_id_cached(1, extractor, **options)
        real_features = extract_featuresdict_from_input_id_cached(2, extractor, **options)
        fid_stats = [
            fid_featuresdict_to_statistics_cached(
                features, get_cacheable_input_name(i, **options), extractor, FEATURE_LAYER, **options
            )
            for i, features in ((1, fake_features), (2, real_features))
        ]
        out = (
            isc_featuresdict_to_metric(fake_features, isc_layer, **options)
            | fid_statistics_to_metric(*fid_stats, False)
            | kid_featuresdict_to_metric(fake_features, real_features, FEATURE_LAYER, **options)
            | prc_featuresdict_to_metric(fake_features, real_features, FEATURE_LAYER, **options)
        )
    density, coverage = density_coverage(
        fake_features[FEATURE_LAYER], real_features[FEATURE_LAYER], k, device
    )
    return {
        "fid": out["frechet_inception_distance"],
        "is_mean": out["inception_score_mean"],
        "is_std": out["inception_score_std"],
        "kid_mean": out["kernel_inception_distance_mean"],
        "kid_std": out["kernel_inception_distance_std"],
        "precision": out["precision"],
        "recall": out["recall"],
        "density": density,
        "coverage": coverage,
    }
