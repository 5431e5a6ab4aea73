"""Pictures of samples: a scatter over the mode centres for 2-D data, a grid for images."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: workers and CI have no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def sample_figure(samples: np.ndarray, centres: np.ndarray | None, title: str, path: Path) -> Path:
    """Save a picture of `samples` ([n, 2] points or [n, C, H, W] images in [-1, 1]) to `path`."""
    if samples.ndim == 2:
        _scatter(samples, centres, title)
    else:
        _grid(samples, title)
    plt.savefig(path, dpi=90, bbox_inches="tight")
    plt.close()
    return path


def _scatter(points: np.ndarray, centres: np.ndarray | None, title: str) -> None:
    plt.figure(figsize=(4, 4))
    plt.scatter(points[:, 0], points[:, 1], s=2, alpha=0.4, label="generated")
    if centres is not None:
        plt.scatter(centres[:, 0], centres[:, 1], s=30, c="red", marker="x", label="modes")
        span = np.abs(centres).max() * 1.5 + 0.5
        plt.xlim(-span, span)
        plt.ylim(-span, span)
    plt.gca().set_aspect("equal")
    plt.legend(loc="upper right", fontsize=7)
    plt.title(title, fontsize=8)


def _grid(images: np.ndarray, title: str, n: int = 64) -> None:
    images = images[:n]
    side = math.ceil(math.sqrt(len(images)))
    c, h, w = images.shape[1:]
    canvas = np.ones((side * h, side * w, c), dtype=np.float32)
    for i, image in enumerate(images):
        r, q = divmod(i, side)
        canvas[r * h : (r + 1) * h, q * w : (q + 1) * w] = (np.transpose(image, (1, 2, 0)) + 1) / 2
    plt.figure(figsize=(4, 4))
    plt.imshow(canvas.clip(0, 1).squeeze(), cmap="gray" if c == 1 else None)
    plt.axis("off")
    plt.title(title, fontsize=8)
