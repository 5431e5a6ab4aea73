"""Ring and grid mixtures: exact centres, reproducible sampling, sample statistics, validation."""

from __future__ import annotations

import math

import pytest
import torch

from ganbench.data import build_dataset
from ganbench.data.toy import GaussianMixture, grid, ring
from ganbench.registry import DATASETS


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_ring_has_distinct_modes_at_equal_angles() -> None:
    data = ring(modes=8, radius=2.0, std=0.02)
    assert data.kind == "toy" and data.shape == (2,) and data.std == 0.02
    assert data.centres.shape == (8, 2) and data.centres.dtype == torch.float32
    assert (data.centres.double().norm(dim=1) - 2.0).abs().max() < 1e-6
    angles = torch.atan2(data.centres[:, 1].double(), data.centres[:, 0].double()) % (2 * math.pi)
    expected = 2 * math.pi * torch.arange(8, dtype=torch.float64) / 8
    # Compare on the circle so that an angle of ~2*pi - 1e-9 counts as 0.
    gap = (angles - expected + math.pi) % (2 * math.pi) - math.pi
    assert gap.abs().max() < 1e-6
    assert len({round(a, 4) for a in angles.tolist()}) == 8  # linspace(0, 2*pi, 8) gives 7


def test_ring_of_one_and_of_three_modes() -> None:
    assert ring(modes=1, radius=1.0).centres.tolist() == [[1.0, 0.0]]
    centres = ring(modes=3, radius=1.0).centres.double()
    chords = torch.cdist(centres, centres)[~torch.eye(3, dtype=torch.bool)]
    assert (chords - math.sqrt(3)).abs().max() < 1e-6


def test_grid25_preset_is_the_literature_grid() -> None:
    params = DATASETS.get("grid25")
    assert params == {"name": "grid", "side": 5, "spacing": 2.0, "std": 0.05}
    data = build_dataset(params)
    got = {tuple(p) for p in data.centres.tolist()}
    assert got == {(float(x), float(y)) for x in range(-4, 5, 2) for y in range(-4, 5, 2)}
    assert data.std == 0.05


def test_even_grid_is_centred_on_the_origin() -> None:
    centres = grid(side=2, spacing=3.0).centres
    assert {tuple(p) for p in centres.tolist()} == {(-1.5, -1.5), (-1.5, 1.5), (1.5, -1.5), (1.5, 1.5)}


def test_ring8_preset_resolves_through_the_suite_loader() -> None:
    from ganbench.suite import resolve_dataset

    label, params = resolve_dataset("ring8", "datasets[0]")
    assert (label, params) == ("ring8", {"name": "ring", "modes": 8, "radius": 2.0, "std": 0.02})
    _, params = resolve_dataset({"name": "grid", "side": 3}, "datasets[1]")
    assert params == {"name": "grid", "side": 3, "spacing": 2.0, "std": 0.05}
    assert len(build_dataset(params).centres) == 9


def test_sample_depends_only_on_the_generator() -> None:
    data = ring()
    torch.manual_seed(1)
    first = data.sample(500, seeded(7))
    torch.manual_seed(2)  # the global RNG must not matter
    again = data.sample(500, seeded(7))
    assert first.shape == (500, 2) and first.dtype == torch.float32
    assert torch.equal(first, again)
    assert not torch.equal(first, data.sample(500, seeded(8)))
    assert data.sample(0, seeded(7)).shape == (0, 2)


def test_sample_statistics_match_the_mixture() -> None:
    data = grid(side=5, spacing=2.0, std=0.05)
    n = 20_000
    points = data.sample(n, seeded(0)).double()
    dist, nearest = torch.cdist(points, data.centres.double()).min(dim=1)
    # Squared distance to the own mode is std^2 * chi-square(2), mean 2 std^2.
    assert 0.95 < float((dist**2).mean()) / (2 * 0.05**2) < 1.05
    assert float(dist.max()) < 6 * 0.05  # P(> 6 std) = exp(-18) per point
    counts = torch.bincount(nearest, minlength=25)
    assert int((counts > 0).sum()) == 25
    assert int(counts.min()) > 0.8 * n / 25 and int(counts.max()) < 1.2 * n / 25


@pytest.mark.parametrize(
    ("factory", "kwargs", "message"),
    [
        (ring, {"modes": 0}, "modes"),
        (ring, {"modes": 2.5}, "modes"),
        (ring, {"modes": True}, "modes"),
        (ring, {"radius": 0.0}, "radius"),
        (ring, {"std": 0.0}, "std"),
        (ring, {"std": -0.1}, "std"),
        (ring, {"std": math.nan}, "std"),
        (ring, {"radius": math.inf}, "radius"),
        (grid, {"side": 0}, "side"),
        (grid, {"spacing": -2.0}, "spacing"),
        (grid, {"std": "0.05"}, "std"),
    ],
)
def test_bad_parameters_raise_value_error(factory, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        factory(**kwargs)


def test_bad_mixture_and_sample_size_raise_value_error() -> None:
    with pytest.raises(ValueError, match="centres"):
        GaussianMixture(torch.zeros(0, 2), 0.1)
    with pytest.raises(ValueError, match="centres"):
        GaussianMixture(torch.tensor([[0.0, math.nan]]), 0.1)
    with pytest.raises(ValueError, match="n must"):
        ring().sample(-1, seeded(0))
