"""Independent random streams per run, derived from the run's seed and a stream name.

Each ensemble member draws its initial weights, noise, data and evaluation samples from its own
generators, so a member's numbers never depend on which other runs share its ensemble.
"""

from __future__ import annotations

import numpy as np
import torch

# Appended only, so existing streams keep their indices. "eval" is the generator's evaluation
# noise and "eval_real" the real points evaluation compares against (w1): independent of each other.
# "perturb": per-element noise of penalties that perturb the data (DRAGAN), drawn only by them.
_STREAMS = ("G", "D", "noise", "data", "penalty", "eval", "reference", "eval_real", "perturb")


def stream(seed: int, name: str) -> torch.Generator:
    """A CPU generator for stream `name` of run `seed` (names are fixed so ids stay stable)."""
    entropy = np.random.SeedSequence([seed, _STREAMS.index(name)]).generate_state(1)[0]
    return torch.Generator().manual_seed(int(entropy))
