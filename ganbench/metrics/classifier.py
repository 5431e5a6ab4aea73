"""Metrics from a small classifier that ganbench trains itself on the dataset's training split.

Unlike Inception, it needs no downloaded weights, runs fast on a CPU and sees the data at its
native resolution, which makes it the default for small grayscale sets (digits, MNIST):
- classifier_fid: Fréchet distance between its penultimate features of the generated images and
  of the held-out real images (same count as generated, or the whole split if smaller).
- classes_covered: classes predicted for at least a tenth of their uniform share of the samples
  (n / classes / 10, at least 1), so a few stray misclassified blobs do not count as a class.
- class_kl: KL(predicted-class histogram || uniform) = log(classes) - entropy; 0 when balanced,
  log(classes) when every sample lands in one class.

The classifier is trained once per dataset (deterministically, from a fixed seed) and cached on
disk under a name that hashes the dataset parameters and this file's recipe version.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganbench.errors import BadInput
from ganbench.metrics.fid import cache_dir, feature_statistics, frechet_distance

VERSION = "lenet-v1"  # change it with the architecture or the recipe below: it keys the cache
FEATURES = 64  # penultimate width: small, so the covariance is well estimated from ~1k samples
EPOCHS, MIN_STEPS, MAX_STEPS, BATCH, LR, SEED = 10, 300, 1500, 128, 1e-3, 0
COVERED_SHARE = 0.1  # of a class's uniform share of the samples

_loaded: dict[tuple[str, str], nn.Module] = {}  # per process: (cache file, device) -> classifier
_reference: dict[
    tuple[int, int], tuple[np.ndarray, np.ndarray]
] = {}  # (id(model), n_real) -> real statistics


class LeNet(nn.Module):
    def __init__(self, channels: int, classes: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(channels, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.AdaptiveAvgPool2d(4),  # any input side >= 8 ends here
            nn.Flatten(), nn.Linear(32 * 16, FEATURES), nn.ReLU(),
        )  # fmt: skip
        self.head = nn.Linear(FEATURES, classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


def train_classifier(images: Tensor, labels: Tensor, classes: int, device: str) -> LeNet:
    """Adam on random minibatches of the training split, from a fixed seed."""
    with torch.random.fork_rng(devices=[]):  # the init draws from the global RNG: leave the caller's alone
        torch.manual_seed(SEED)
        model = LeNet(images.shape[1], classes).to(device)
    generator = torch.Generator().manual_seed(SEED)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    model.train()
    for _ in range(training_steps(len(images))):
        rows = torch.randint(len(images), (BATCH,), generator=generator)
        loss = F.cross_entropy(model(images[rows].to(device)), labels[rows].to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return model.eval()


def training_steps(n_images: int) -> int:
    """About EPOCHS passes over the data, within [MIN_STEPS, MAX_STEPS] minibatches."""
    return min(MAX_STEPS, max(MIN_STEPS, EPOCHS * n_images // BATCH))


@torch.no_grad()
def features_and_predictions(model: nn.Module, images: Tensor, device: str) -> tuple[np.ndarray, Tensor]:
    feats, preds = [], []
    for batch in images.split(1024):
        f = model.features(batch.to(device))
        feats.append(f.cpu())
        preds.append(model.head(f).argmax(dim=1).cpu())
    return torch.cat(feats).double().numpy(), torch.cat(preds)


def classifier_for(dataset, cache: str | None, device: str) -> nn.Module:
    """The dataset's classifier: from this process, else the disk cache, else trained now."""
    if dataset.num_classes < 2:
        raise BadInput(
            f"dataset {dataset.name!r} has no class labels for image_metrics [classifier]; "
            f"use image_metrics: [inception]"
        )
    key = {
        "data": dataset.params,
        "version": VERSION,
        "recipe": [EPOCHS, MIN_STEPS, MAX_STEPS, BATCH, LR, SEED],
    }
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]
    path = cache_dir(cache) / "classifier" / f"{dataset.name}-{VERSION}-{digest}.pt"
    if (str(path), device) in _loaded:
        return _loaded[str(path), device]
    model = LeNet(dataset.shape[0], dataset.num_classes)
    if path.is_file():
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        model = model.to(device).eval()
    else:
        images, labels = dataset.train_split()
        model = train_classifier(images, labels, dataset.num_classes, device)
        _save_atomic(model.state_dict(), path)
    _loaded[str(path), device] = model
    return model


def _save_atomic(state: dict[str, Tensor], path: Path) -> None:
    # Runs in other processes may train the same classifier at once: whole files only.
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.partial")
    torch.save({k: v.cpu() for k, v in state.items()}, partial)
    os.replace(partial, path)


def accuracy(model: nn.Module, images: Tensor, labels: Tensor, device: str) -> float:
    _, predicted = features_and_predictions(model, images, device)
    return float((predicted == labels).float().mean())


def class_kl(counts: Tensor) -> float:
    """KL(p || uniform) of a histogram: sum p log(p * classes)."""
    p = counts.double() / counts.sum()
    p = p[p > 0]
    return float((p * (p * len(counts)).log()).sum())


def classes_covered(counts: Tensor) -> int:
    threshold = max(1.0, COVERED_SHARE * float(counts.sum()) / len(counts))
    return int((counts >= threshold).sum())


def classifier_metrics(dataset, fake: Tensor, cache: str | None, device: str) -> dict[str, float]:
    """fake: float [n, C, H, W] in [-1, 1] (quantised like the stored real images)."""
    model = classifier_for(dataset, cache, device)
    n_real = min(len(fake), len(dataset.test_pixels))
    key = (id(model), n_real)
    if key not in _reference:
        real, _ = dataset.test_split()
        _reference[key] = feature_statistics(features_and_predictions(model, real[:n_real], device)[0])
    features, predicted = features_and_predictions(model, fake, device)
    counts = torch.bincount(predicted, minlength=dataset.num_classes)
    mu, sigma = feature_statistics(features)
    return {
        "classifier_fid": frechet_distance(mu, sigma, *_reference[key]) if len(fake) > 1 else math.nan,
        "classes_covered": float(classes_covered(counts)),
        "class_kl": class_kl(counts),
    }
