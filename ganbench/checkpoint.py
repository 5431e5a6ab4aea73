"""Checkpoints of a training ensemble, so that a killed unit resumes where it stopped.

A work unit (one ensemble) saves everything its training loop carries (weights, optimizer state,
random streams, curves, evaluations, divergence state; see ``train.Carry``) every
``checkpoint_every`` steps to ``<checkpoint_dir>/<unit key>.pt``. The unit key hashes the sorted
run ids of its members, so a resumed suite that plans the same unit finds the file; a unit
planned otherwise (other members) does not, and simply trains from step 0. The file also holds a
fingerprint of the members' resolved specs (in ensemble order), the precision, the device type
and the torch version: a file whose fingerprint differs is not resumed (a warning says so), and
the unit's next checkpoint replaces it. Resuming gives the numbers of an uninterrupted run, bit
for bit (tests/test_checkpoint.py).

Files are written whole or not at all (``files.write_atomic``), so a kill while saving leaves
the previous checkpoint. The caller deletes the file (``discard``) once the unit's records are
saved; a unit whose runs failed keeps it, so that its retry resumes. A checkpoint that cannot be
written is a warning, not a failed run. The state is tensors and JSON: ``torch.load`` reads it
with ``weights_only=True`` (no pickled objects run on loading).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

from ganbench.errors import OutputError
from ganbench.files import write_atomic

FORMAT = 1  # bumped when the layout of the saved state changes: older files are not read
# The default cadence (`--checkpoint-every` not given): a checkpoint per minute of training, so a
# kill loses at most about a minute. Time, not steps: a tiny MLP ensemble does 500 steps in half
# a second, a DCGAN ensemble on a CPU in minutes. One checkpoint took 12-45 ms for 20 MLPs of 3x64
# at step 5,000 (5.7 MB; 0.2-0.3% of their 500 steps) and 0.3-0.55 s for 3 DCGANs of width 64 on
# 32x32 images (69 MB), on 2 shared CPU cores with fsync.
AUTO_SECONDS = 60.0
MAX_SAVE_SHARE = 0.01  # time-based cadence: at most this share of the time goes to saving


def unit_key(run_ids: Iterable[str]) -> str:
    """The file name of a unit's checkpoint: a hash of its members' sorted run ids."""
    return hashlib.sha256("\n".join(sorted(set(run_ids))).encode()).hexdigest()[:16]


def fingerprint(identity: Any) -> str:
    """A hash of what must match for a checkpoint to be resumed (JSON-able), and of the torch
    version (another one may compute other last bits)."""
    text = json.dumps({"identity": identity, "torch": torch.__version__}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def checkpoint_path(directory: str | Path, run_ids: Iterable[str]) -> Path:
    return Path(directory) / f"{unit_key(run_ids)}.pt"


def discard(directory: str | Path | None, run_ids: Iterable[str]) -> None:
    """Delete a unit's checkpoint (its records are saved), and the folder once it is empty."""
    if directory is None:
        return
    path = checkpoint_path(directory, run_ids)
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)
        for partial in path.parent.glob(f".{path.name}.*.tmp"):  # a write cut short by a kill
            partial.unlink(missing_ok=True)
        path.parent.rmdir()  # fails while other units' checkpoints are there: fine


def prune(directory: str | Path | None, units: Iterable[Iterable[str]]) -> None:
    """Delete the checkpoints (and partial writes) of units other than these (given by their
    members' run ids): units planned otherwise, or killed while their records were being saved,
    are never resumed, and a DCGAN ensemble's file holds ~70 MB."""
    if directory is None or not Path(directory).is_dir():
        return
    keep = {checkpoint_path(directory, run_ids).name for run_ids in units}
    stale = [p for p in Path(directory).glob("*.pt") if p.name not in keep]
    for path in stale + list(Path(directory).glob(".*.tmp")):  # no unit is training yet
        with contextlib.suppress(OSError):
            path.unlink()


class Checkpointer:
    """Saves and loads one unit's checkpoint; ``due(step)`` says when to save.

    Checkpoints are taken only at steps that are multiples of `align` (train.CHUNK: at a chunk
    boundary no drawn-but-unused noise is pending, so the generators' states are all the streams
    need): the first such step `every` or more steps after the previous checkpoint, or, with
    `every` 0, `seconds` or more after it. In that time-based mode the interval also grows to
    100 times the last save's duration, so saving never takes more than ~1% of the training time
    (a large ensemble's file takes seconds to write)."""

    def __init__(
        self,
        directory: str | Path,
        run_ids: Iterable[str],
        identity: Any,
        align: int,
        every: int = 0,
        seconds: float = 0.0,
    ) -> None:
        self.path = checkpoint_path(directory, run_ids)
        self.align, self.every, self.seconds = align, every, seconds
        self.fingerprint = fingerprint(identity)
        self.last_step, self.last_time = 0, time.monotonic()  # of the last checkpoint saved or loaded
        self.wait_s = seconds
        self.failed = False  # a write failed once: warned, not tried again

    def due(self, step: int) -> bool:
        if self.failed or step % self.align:
            return False
        if self.every > 0:
            return step - self.last_step >= self.every
        return self.seconds > 0 and time.monotonic() - self.last_time >= self.wait_s

    def save(self, step: int, state: dict[str, Any]) -> None:
        began = time.monotonic()
        buffer = io.BytesIO()
        torch.save({"format": FORMAT, "fingerprint": self.fingerprint, "step": step, **state}, buffer)
        try:
            write_atomic(self.path, buffer.getvalue())
        except OutputError as err:
            self.failed = True
            _warn(f"{err}; training goes on without checkpoints")
            return
        self.last_step, self.last_time = step, time.monotonic()
        self.wait_s = max(self.seconds, (self.last_time - began) / MAX_SAVE_SHARE)

    def load(self) -> dict[str, Any] | None:
        """The saved state, on the CPU (the loop copies it into its tensors, on their device;
        generator states must be CPU tensors), or None (no file, or one that does not fit: warned)."""
        if not self.path.is_file():
            return None
        try:
            saved = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as err:  # noqa: BLE001 - any unreadable file means: start over
            _warn(f"{self.path}: unreadable checkpoint ({type(err).__name__}); training from step 0")
            return None
        if not isinstance(saved, dict) or saved.get("format") != FORMAT:
            _warn(f"{self.path}: checkpoint of another ganbench version; training from step 0")
            return None
        if saved.get("fingerprint") != self.fingerprint:
            _warn(f"{self.path}: checkpoint of other specs, precision, device or torch; training from step 0")
            return None
        self.last_step, self.last_time = int(saved["step"]), time.monotonic()
        return saved

    def reject(self) -> None:
        """Delete a checkpoint that could not be restored, so a retry starts over instead of
        failing the same way."""
        with contextlib.suppress(OSError):
            self.path.unlink(missing_ok=True)


def _warn(message: str) -> None:
    # Printed, not logged: workers are separate processes whose stderr is the terminal's.
    print(f"warning: {message}", file=sys.stderr, flush=True)


def note(message: str) -> None:
    print(f"note: {message}", file=sys.stderr, flush=True)
