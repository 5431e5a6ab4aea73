"""Independent random streams per run, derived from the run's seed and a stream name.

Each ensemble member draws its initial weights, noise, data and evaluation samples from its own
generators, so a member's numbers never depend on which other runs share its ensemble.
"""

from __future__ import annotations

import numpy as np
import torch

_STREAMS = ("G", "D", "noise", "data", "penalty", "eval")


def stream(seed: int, name: str) -> torch.Generator:
    """A CPU generator for stream `name` of run `seed` (names are fixed so ids stay stable)."""
    entropy = np.random.SeedSequence([seed, _STREAMS.index(name)]).generate_state(1)[0]
    return torch.Generator().manual_seed(int(entropy))
