"""2-D mixtures of Gaussians: the ring and grid of the mode-collapse literature.

Each mode is equally likely and isotropic with the same ``std``, which is what the 3-std
high-quality rule of the mode-coverage metrics (``ganbench.metrics.mog``) assumes.
torch is imported when a dataset is built, not with this module, so that the suite loader can
check parameters against the factories' signatures without it.
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import TYPE_CHECKING, Annotated

from pydantic import Field

from ganbench.registry import DATASETS

if TYPE_CHECKING:
    import torch


class GaussianMixture:
    """Equal-weight mixture of isotropic Gaussians with centres ``[M, d]`` and one ``std``."""

    kind = "toy"

    def __init__(self, centres: torch.Tensor, std: float) -> None:
        import torch

        centres = torch.as_tensor(centres, dtype=torch.float32)
        if centres.ndim != 2 or len(centres) == 0:
            raise ValueError(f"centres must have shape [M, d] with M >= 1, got {tuple(centres.shape)}")
        if not torch.isfinite(centres).all():
            raise ValueError("centres must be finite")
        self.centres = centres
        self.std = positive("std", std)
        self.shape: tuple[int, ...] = (centres.shape[1],)

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """n points, float32 on the CPU; only `generator` is drawn from, so its state fixes them."""
        import torch

        n = count("n", n, minimum=0)
        modes = torch.randint(len(self.centres), (n,), generator=generator)
        noise = torch.randn(n, self.shape[0], generator=generator)
        return self.centres[modes] + self.std * noise

    def __repr__(self) -> str:
        return f"GaussianMixture(modes={len(self.centres)}, dim={self.shape[0]}, std={self.std})"


def count(name: str, value: int, minimum: int = 1) -> int:
    # bool is an Integral too, but `modes: true` in a suite is a typo, not 1.
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def positive(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


# Parameter constraints, checked by the suite loader (`ganbench validate`) from these annotations.
MAX_MODES = 10_000
Modes = Annotated[int, Field(ge=1, le=MAX_MODES)]
Side = Annotated[int, Field(ge=1, le=math.isqrt(MAX_MODES))]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]


@DATASETS.register("ring")
def ring(modes: Modes = 8, radius: Positive = 2.0, std: Positive = 0.02) -> GaussianMixture:
    """`modes` Gaussians at angles 2*pi*k/modes, k = 0..modes-1, on a circle of `radius`."""
    import torch

    modes = count("modes", modes)
    radius = positive("radius", radius)
    # arange, not linspace(0, 2*pi, modes): linspace includes 2*pi and so repeats the first mode.
    angles = 2 * math.pi * torch.arange(modes, dtype=torch.float64) / modes
    centres = radius * torch.stack([angles.cos(), angles.sin()], dim=1)
    return GaussianMixture(centres.float(), std)


@DATASETS.register("grid")
def grid(side: Side = 5, spacing: Positive = 2.0, std: Positive = 0.05) -> GaussianMixture:
    """side x side Gaussians `spacing` apart, centred on the origin (5, 2.0: {-4,-2,0,2,4}^2)."""
    import torch

    side = count("side", side)
    spacing = positive("spacing", spacing)
    axis = (torch.arange(side, dtype=torch.float64) - (side - 1) / 2) * spacing
    xs, ys = torch.meshgrid(axis, axis, indexing="ij")
    return GaussianMixture(torch.stack([xs.flatten(), ys.flatten()], dim=1).float(), std)


# Presets: the settings of the Unrolled GAN / VEEGAN papers, spelled out so run ids show them.
DATASETS.add("ring8", {"name": "ring", "modes": 8, "radius": 2.0, "std": 0.02})
DATASETS.add("grid25", {"name": "grid", "side": 5, "spacing": 2.0, "std": 0.05})
