"""Run health: is a finished run a GAN that trained, or one of the known failure modes?

A verdict about two variants is evidence only when their runs trained. Each run is put in one
class, the first that applies in this order:

- ``diverged``: a loss or weight became NaN/inf or blew past the engine's bound.
- ``dead_critic``: a Wasserstein critic whose estimate (mean D(real) - mean D(fake)) stays below
  ``DEAD_CRITIC_RATIO`` of the exact W1 (median over the last evaluations). A weight-clipped
  critic estimates W1 only up to its Lipschitz constant, which clipping makes tiny: for clip 0.01
  and a 3x64 ReLU MLP the product of the layers' norm bounds is about 4e-3, and living critics
  measured here (ring8, lr 2e-4, 3,000 steps) sit at 1e-5 to 2e-5 of W1 while their generators
  still close in on the data (w1 0.82 -> 0.51). At lr 1e-3 the same critics lose their ReLU units:
  the estimate is exactly 0 or 2e-8 to 9e-7 of W1, and the generator stops at noise's w1. The
  threshold 1e-6 lies between the two groups; deeper or narrower clipped critics sit lower, so
  for them it may call a weak critic dead (the ratio is in runs.csv as ``critic_w1_ratio``).
- ``collapsed``: samples are mostly sharp (``hq_share`` >= ``SHARP_HQ_SHARE``) but sit on at
  most ``COLLAPSED_MODES_SHARE`` of the modes by the fair-share count (``modes_fair``).
- ``diffuse``: few sharp samples (``hq_share`` < ``SHARP_HQ_SHARE``) while VEEGAN's >= 1-sample
  count credits at least half the modes: a cloud, not a mixture (uniform noise is diffuse).
- ``oscillating``: the quality metric (w1, or FID for images) moved over the last evaluations by
  more than ``OSCILLATION_RATIO`` of its final value (std over the window / final), for a run with
  at least twice as many evaluations as the window holds (else the window holds the descent).
- ``healthy``: none of the above. Healthy is not good: a healthy run can still be far from the
  data, which is what the noise reference rows and the metrics themselves say.

Mode-based classes need a mixture (``modes_covered`` present); image runs get the others.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

CLASSES = ("healthy", "diverged", "dead_critic", "collapsed", "diffuse", "oscillating")
DEAD_CRITIC_RATIO = 1e-6
SHARP_HQ_SHARE = 0.1
COLLAPSED_MODES_SHARE = 0.25
DIFFUSE_MODES_SHARE = 0.5
OSCILLATION_RATIO = 0.5
QUALITY_METRICS = ("w1", "fid", "classifier_fid")  # the first one a run has is its quality metric


def classify(
    status: str, metrics: Mapping[str, float], n_modes: int | None = None, settled: bool = True
) -> str:
    """The health class of one run from its status and final metrics (see the module doc).

    `settled`: the window of ``<metric>_osc`` lies in the second half of training. With fewer
    evaluations it still holds the early descent (w1 1.5 -> 0.5 is learning, not oscillation), so
    a run is only called oscillating when it is settled."""
    if status == "diverged" or metrics.get("diverged", 0.0) > 0:
        return "diverged"
    ratio = metrics.get("critic_w1_ratio", math.nan)
    if math.isfinite(ratio) and ratio < DEAD_CRITIC_RATIO:
        return "dead_critic"
    hq, fair, covered = (metrics.get(k, math.nan) for k in ("hq_share", "modes_fair", "modes_covered"))
    if n_modes and math.isfinite(hq):
        if hq >= SHARP_HQ_SHARE and fair <= COLLAPSED_MODES_SHARE * n_modes:
            return "collapsed"
        if hq < SHARP_HQ_SHARE and covered >= DIFFUSE_MODES_SHARE * n_modes:
            return "diffuse"
    quality = next((q for q in QUALITY_METRICS if math.isfinite(metrics.get(q, math.nan))), None)
    if quality is not None and settled:
        final, osc = metrics[quality], metrics.get(f"{quality}_osc", math.nan)
        if math.isfinite(osc) and final > 0 and osc > OSCILLATION_RATIO * final:
            return "oscillating"
    return "healthy"
