"""The metrics of 2-D mixtures of Gaussians ("toy" datasets): mode coverage and the exact W1.

``ToyView`` is what they share: the histogram of high-quality samples over the modes (computed
once) and the fresh real points W1 is measured against. The arithmetic is in metrics/mog.py;
this module only declares the metrics, so it imports neither torch nor POT at load time.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from ganbench.metrics import EVALUATORS, NON_NEGATIVE, SHARE, metric

# modes_fair: a mode counts when it holds at least this fraction of its fair share (n / M) of all
# samples as high-quality samples. A uniform cloud puts ~2 of 2,500 samples within 3 std of each
# mode of ring8 or grid25 (fair share 312 or 100, so 31 or 10 needed): it scores 0 where VEEGAN's
# >= 1-sample rule gives it 5.4/8 and 20.7/25. An exact sampler holds ~99% of its share per mode.
FAIR_SHARE_FRACTION = 0.1
TOY = ("toy",)


@EVALUATORS.register("toy")
class ToyView:
    """One member's generated points [n, 2] at one evaluation, with what its metrics share."""

    def __init__(self, dataset: Any, fake: Any, generator: Any, train: Any, context: Any) -> None:
        self.dataset, self.fake, self.train = dataset, fake, train
        n = min(train.w1_points, len(fake))
        # Draw the real points first, so the generator advances the same way whatever the fake
        # points are (finite or not) and whichever metrics are computed.
        self.real = dataset.sample(n, generator)

    @cached_property
    def counts(self) -> Any:
        """High-quality samples nearest to each mode ([M] int64)."""
        return _mog().mode_counts(self.fake, self.dataset.centres, self.dataset.std)


@metric(
    "modes_covered",
    higher_is_better=True,
    worst=0.0,
    bounds=NON_NEGATIVE,
    kinds=TOY,
    description="modes with at least min_count high-quality samples nearest to them",
)
def modes_covered(view: ToyView) -> float:
    return _mog().modes_covered(view.counts, view.train.min_count)


@metric(
    "modes_fair",
    higher_is_better=True,
    worst=0.0,
    bounds=NON_NEGATIVE,
    kinds=TOY,
    description=f"modes holding >= {FAIR_SHARE_FRACTION:.0%} of their fair share (n / M) of samples as high-quality samples",
)
def modes_fair(view: ToyView) -> float:
    return _mog().modes_fair(view.counts, len(view.fake))


@metric(
    "hq_share",
    higher_is_better=True,
    worst=0.0,
    bounds=SHARE,
    kinds=TOY,
    description="share of samples within 3 std of their nearest mode",
)
def hq_share(view: ToyView) -> float:
    return _mog().hq_share(view.counts, len(view.fake))


@metric(
    "reverse_kl",
    higher_is_better=False,
    bounds=NON_NEGATIVE,
    kinds=TOY,
    description="KL(histogram of high-quality samples over the modes || uniform)",
)
def reverse_kl(view: ToyView) -> float:
    return _mog().kl_from_uniform(view.counts)


@metric(
    "w1",
    higher_is_better=False,
    bounds=NON_NEGATIVE,
    kinds=TOY,
    description="exact Wasserstein-1 distance between generated and fresh real points",
)
def w1(view: ToyView) -> float:
    return _mog().wasserstein1(view.fake[: len(view.real)], view.real)


def _mog() -> Any:
    """The arithmetic (torch, POT), imported on first use."""
    from ganbench.metrics import mog

    return mog
