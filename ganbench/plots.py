"""Pictures of samples: a scatter over the mode centres for 2-D data, a grid for images.

Drawn with a bare Agg Figure (no pyplot state, no tight-bbox second pass): one picture per run
is on the suite's critical path, so it must cost a few tens of milliseconds.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure


def sample_figure(samples: np.ndarray, centres: np.ndarray | None, title: str, path: Path) -> Path:
    """Save a picture of `samples` ([n, 2] points or [n, C, H, W] images in [-1, 1]) to `path`."""
    figure = Figure(figsize=(4, 4), dpi=80)
    axes = figure.add_subplot()
    if samples.ndim == 2:
        _scatter(axes, samples, centres)
    else:
        image_grid(axes, samples)
    axes.set_title(title, fontsize=8)
    figure.savefig(path)
    return path


def _scatter(axes, points: np.ndarray, centres: np.ndarray | None) -> None:
    axes.scatter(points[:, 0], points[:, 1], s=2, alpha=0.4, label="generated", rasterized=True)
    if centres is not None:
        axes.scatter(centres[:, 0], centres[:, 1], s=30, c="red", marker="x", label="modes")
        span = np.abs(centres).max() * 1.5 + 0.5
        axes.set_xlim(-span, span)
        axes.set_ylim(-span, span)
    axes.set_aspect("equal")
    axes.legend(loc="upper right", fontsize=7)


def image_grid(axes, images: np.ndarray, n: int = 64) -> None:
    """Up to n images [N, C, H, W] in [-1, 1] tiled on one axes (also used by the report)."""
    images = images[:n]
    side = math.ceil(math.sqrt(len(images)))
    c, h, w = images.shape[1:]
    canvas = np.ones((side * h, side * w, c), dtype=np.float32)
    for i, image in enumerate(images):
        r, q = divmod(i, side)
        canvas[r * h : (r + 1) * h, q * w : (q + 1) * w] = (np.transpose(image, (1, 2, 0)) + 1) / 2
    axes.imshow(canvas.clip(0, 1).squeeze(), cmap="gray" if c == 1 else None)
    axes.axis("off")
