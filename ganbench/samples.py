"""Each run's final samples and trained generator, kept beside its record.

``samples/<run_id>.npy`` in the output dir, for the report's sample panels: for 2-D data the (at
most 1,000) final points as float32 [n, 2]; for images the first 64 as uint8 [n, C, H, W], as a
saved PNG would hold them. ``generators/<run_id>.npz``, for ``ganbench sample``: the generator's
flat weights (float32 [P], the EMA weights when the run averaged them) and the shape of one
sample, which rebuilds the architecture without loading the dataset. A run that diverged or
failed has neither. (Both are written before the record, the commit point.)
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from ganbench.files import write_atomic

FOLDER = "samples"
GENERATORS = "generators"
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


def generator_path(out_dir: Path, run_id: str) -> Path:
    return Path(out_dir) / GENERATORS / f"{run_id}.npz"


def save_generator(
    out_dir: Path, run_id: str, weights: np.ndarray | None, sample_shape: tuple[int, ...]
) -> Path | None:
    """Atomic, like the records: the file is whole or absent. An older file of the same run id
    (--rerun of a run that now failed) is removed, so that no stale generator is ever sampled."""
    path = generator_path(out_dir, run_id)
    if weights is None:
        path.unlink(missing_ok=True)
        return None
    buffer = io.BytesIO()
    np.savez(
        buffer,
        weights=np.asarray(weights, dtype=np.float32).reshape(-1),
        sample_shape=np.asarray(sample_shape, dtype=np.int64),
    )
    write_atomic(path, buffer.getvalue())
    return path


def load_generator(out_dir: Path, run_id: str) -> tuple[np.ndarray, tuple[int, ...]] | None:
    """(flat weights, shape of one sample), or None when absent or unreadable."""
    try:
        with np.load(generator_path(out_dir, run_id), allow_pickle=False) as saved:
            return saved["weights"], tuple(int(n) for n in saved["sample_shape"])
    except (OSError, ValueError, KeyError):
        return None
