"""Mode-coverage metrics on mixtures of Gaussians (VEEGAN / PacGAN protocol) and the exact W1.

A sample is high quality (hq) when it lies within 3 std of its nearest mode; a mode is covered
when at least ``min_count`` hq samples are nearest to it. hq_share alone rewards collapse (all
samples on one mode score ~1), so modes_covered and reverse_kl are reported beside it, and w1
gives a continuous signal while no sample is within 3 std yet.
"""

from __future__ import annotations

import math
import sys
from typing import Any

import numpy as np
import torch
from scipy.spatial.distance import cdist

# The metrics themselves (names, directions, meanings) are declared in ganbench.metrics.toy.
from ganbench.metrics.toy import FAIR_SHARE_FRACTION


def _import_pot():
    """POT without scikit-learn. `import ot` tries `sklearn.cluster`, for the k-means start of a
    low-rank solver this module never calls, and scikit-learn's import is 0.8 s of a small
    suite's start-up (bench/fixed_costs.py). With that one name blocked while POT loads, POT takes
    its own no-scikit-learn path; scikit-learn imports normally afterwards (digits data)."""
    if "ot" in sys.modules or "sklearn.cluster" in sys.modules:
        import ot
    else:
        sys.modules["sklearn.cluster"] = None  # an import of a name mapped to None fails at once
        try:
            import ot
        finally:
            del sys.modules["sklearn.cluster"]
    return ot


ot = _import_pot()

HQ_STDS = 3.0  # the literature's high-quality radius, in stds of a mode


def mode_stats(samples: Any, centres: Any, std: float, min_count: int = 1) -> dict[str, float]:
    """modes_covered, modes_fair, hq_share and reverse_kl of `samples` [n, d] against `centres` [M, d].

    reverse_kl is sum over modes with p > 0 of p * log(p * M), p the hq histogram, so it is finite
    and lies in [0, log M]. With no hq sample at all it is log(M), the value of a fully collapsed
    histogram: a generator that hits no mode must not score better than one that hits one.
    Non-finite samples are never high quality; they still count in hq_share's denominator.
    """
    if min_count < 1:
        raise ValueError(f"min_count must be >= 1, got {min_count!r}")
    counts = mode_counts(samples, centres, std)
    return {
        "modes_covered": modes_covered(counts, min_count),
        "modes_fair": modes_fair(counts, len(samples)),
        "hq_share": hq_share(counts, len(samples)),
        "reverse_kl": kl_from_uniform(counts),
    }


def mode_counts(samples: Any, centres: Any, std: float) -> torch.Tensor:
    """High-quality samples (within HQ_STDS std) nearest to each of the M centres ([M] int64)."""
    if not std > 0:
        raise ValueError(f"std must be > 0, got {std!r}")
    samples = torch.as_tensor(samples).detach().to("cpu", torch.float64)
    centres = torch.as_tensor(centres).detach().to("cpu", torch.float64)
    return hq_histogram(samples, centres, HQ_STDS * std)


def modes_covered(counts: torch.Tensor, min_count: int) -> float:
    return float((counts >= min_count).sum())


def modes_fair(counts: torch.Tensor, n: int) -> float:
    return float((counts >= FAIR_SHARE_FRACTION * n / len(counts)).sum())


def hq_share(counts: torch.Tensor, n: int) -> float:
    return int(counts.sum()) / n if n else 0.0


def hq_histogram(samples: torch.Tensor, centres: torch.Tensor, radius: float) -> torch.Tensor:
    """Number of samples within `radius` of each centre that are nearest to it ([M] int64)."""
    if samples.ndim != 2 or centres.ndim != 2 or samples.shape[1] != centres.shape[1]:
        raise ValueError(
            f"expected samples [n, d] and centres [M, d], got {tuple(samples.shape)}, {tuple(centres.shape)}"
        )
    # The mm-free mode computes each distance from the difference, so a sample exactly on a
    # centre is at distance 0 (the matmul expansion loses that to cancellation).
    dist, nearest = torch.cdist(samples, centres, compute_mode="donot_use_mm_for_euclid_dist").min(dim=1)
    hq = dist <= radius  # False for NaN distances, so non-finite samples drop out here
    return torch.bincount(nearest[hq], minlength=len(centres))


def kl_from_uniform(counts: torch.Tensor) -> float:
    """KL(p || uniform over the M bins) for the histogram `counts`; log(M) when it is empty."""
    m = len(counts)
    total = int(counts.sum())
    if total == 0:
        return math.log(m)
    p = counts[counts > 0].double() / total
    return max(float((p * torch.log(p * m)).sum()), 0.0)  # clamp rounding below the true minimum 0


def wasserstein1(a: Any, b: Any) -> float:
    """Exact W1 between equal-size point sets with uniform weights: the min over matchings of the
    mean Euclidean distance, by optimal assignment. Non-finite input gives inf."""
    a, b = as_float64(a), as_float64(b)
    if a.ndim != 2 or a.shape != b.shape or len(a) == 0:
        raise ValueError(
            f"expected two non-empty [n, d] point sets of one shape, got {a.shape} and {b.shape}"
        )
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        return math.inf
    # Network simplex (POT) rather than scipy's linear_sum_assignment: both are exact and agree
    # to 1e-12, but the Hungarian solver's worst case is a collapsed generator (all fake points
    # alike), about 2 s for 1000 points here, against 0.3 s; on matched sets both take ~0.1 s.
    weights = np.full(len(a), 1.0 / len(a))
    return float(ot.emd2(weights, weights, cdist(a, b), numItermax=10**7))


def as_float64(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().to("cpu", torch.float64).numpy()
    return np.asarray(x, dtype=np.float64)
