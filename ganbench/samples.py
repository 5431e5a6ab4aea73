"""Each run's final samples, kept small beside its record for the report's sample panels.

``samples/<run_id>.npy`` in the output dir: for 2-D data the (at most 1,000) final points as
float32 [n, 2]; for images the first 64 as uint8 [n, C, H, W], as a saved PNG would hold them.
A run that diverged or failed has none. (Written before the record, the commit point.)
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from ganbench.files import write_atomic

FOLDER = "samples"
IMAGES_KEPT = 64


def path_for(out_dir: Path, run_id: str) -> Path:
    return Path(out_dir) / FOLDER / f"{run_id}.npy"


def save(out_dir: Path, run_id: str, samples: np.ndarray | None) -> Path | None:
    if samples is None:
        return None
    samples = np.asarray(samples)
    if samples.ndim == 4:  # images in [-1, 1]
        kept = np.nan_to_num(samples[:IMAGES_KEPT], nan=-1.0)
        kept = np.clip(np.round((kept + 1.0) * 127.5), 0, 255).astype(np.uint8)
    else:
        kept = samples.astype(np.float32)
    buffer = io.BytesIO()
    np.save(buffer, kept, allow_pickle=False)
    path = path_for(out_dir, run_id)
    write_atomic(path, buffer.getvalue())
    return path


def load(out_dir: Path, run_id: str) -> np.ndarray | None:
    """The run's samples (images back in [-1, 1] float32), or None when absent or unreadable."""
    try:
        samples = np.load(path_for(out_dir, run_id), allow_pickle=False)
    except (OSError, ValueError):
        return None
    if samples.dtype == np.uint8:
        return samples.astype(np.float32) / 127.5 - 1.0
    return samples
