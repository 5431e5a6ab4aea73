"""`ganbench sample`: draw from a finished run's saved generator.

The generator is rebuilt from the run's record (its resolved spec names the architecture) and
the weights in ``generators/<run_id>.npz``. Its noise comes from the same stream as evaluation
(``stream(seed, "eval")``, the run's own seed unless another is asked for), drawn and pushed
through the network in blocks of ``eval_samples`` exactly as training's evaluation does, so the
first ``eval_samples`` samples are the run's final evaluation samples, bit for bit on the same
machine (tests/test_tracking.py checks them against ``samples/<run_id>.npy``).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ganbench import samples, store
from ganbench.errors import BadInput
from ganbench.files import write_atomic
from ganbench.results import RunRecord

DEFAULT_ROOT = Path("runs")
CHUNK = 4096  # generator forward passes per call, as train._generate splits them


@dataclass(frozen=True)
class Found:
    out_dir: Path
    record: RunRecord


def find_run(run_id: str, out: Path | None = None) -> Found:
    """The run whose id starts with `run_id`, in output dir `out` or, when `out` holds no records,
    in any output dir below it (default ``runs/``). Unknown or ambiguous: ``BadInput``."""
    root = Path(out) if out is not None else DEFAULT_ROOT
    prefix = run_id.strip()
    if not prefix or not prefix.isalnum():
        raise BadInput(f"{run_id!r}: not a run id (the hex `run_id` column of runs.csv)")
    matches = sorted(
        {
            (path.parent.parent, path.stem)
            for folder in _record_folders(root)
            for path in folder.glob(f"{prefix}*.json")
        }
    )
    if not matches:
        raise BadInput(f"{root}: no run {prefix!r} here (a run id or a unique prefix of one, from runs.csv)")
    if len(matches) > 1:
        listed = ", ".join(f"{stem} in {folder}" for folder, stem in matches[:4])
        more = f", ... ({len(matches)} in all)" if len(matches) > 4 else ""
        raise BadInput(f"{root}: run id {prefix!r} is ambiguous: {listed}{more}; give more of it or --out")
    out_dir, stem = matches[0]
    record = store.load(out_dir).get(stem)
    if record is None:
        raise BadInput(f"{out_dir / 'records' / (stem + '.json')}: unreadable record")
    return Found(out_dir, record)


def _record_folders(root: Path) -> list[Path]:
    """``root/records``, else the ``records`` folders of the output dirs up to two levels below."""
    if (root / "records").is_dir():
        return [root / "records"]
    if not root.is_dir():
        raise BadInput(f"{root}: no such output dir (pass --out DIR, the --out of `ganbench run`)")
    return sorted([*root.glob("*/records"), *root.glob("*/*/records")])


def draw(found: Found, n: int, seed: int | None = None) -> np.ndarray:
    """n samples (float32; images in [-1, 1] as [n, C, H, W], points as [n, d]) from the run's
    generator, with noise from ``stream(seed, "eval")`` (the run's seed by default)."""
    import torch

    from ganbench.registry import ARCHS
    from ganbench.seeding import stream

    record = found.record
    saved = samples.load_generator(found.out_dir, record.run_id)
    if not record.done or saved is None:
        why = f"it {record.status}" if record.status != "finished" else "no generator was saved"
        raise BadInput(
            f"{samples.generator_path(found.out_dir, record.run_id)}: run {record.run_id} cannot be "
            f"sampled: {why} (only runs that finished keep their generator; `ganbench run --rerun` trains it again)"
        )
    weights, shape = saved
    train = record.spec["train"]
    model = model_config(train["model"])
    eval_samples = int(train["eval_samples"])
    # Two identical members, as a lone run trains beside its ghost (train.train_group): the same
    # batched kernels as in training, so the same bits.
    G, _ = ARCHS.get(model.arch)(model, shape, [record.seed, record.seed])
    # The forward passes' precision as in training (bf16 autocast for a run that used it).
    G.compute_dtype = torch.bfloat16 if record.compute_precision == "bf16" else None
    if G.flat.shape[1] != weights.size:
        raise BadInput(
            f"{samples.generator_path(found.out_dir, record.run_id)}: {weights.size} weights, but the "
            f"{model.arch} architecture of this ganbench has {G.flat.shape[1]} parameters"
        )
    with torch.no_grad():
        G.flat.copy_(torch.from_numpy(weights).expand_as(G.flat))
        noise = stream(record.seed if seed is None else seed, "eval")
        blocks, left = [], n
        while left > 0:  # whole evaluation-sized blocks: batch norm sees the batches evaluation saw
            z = torch.randn(eval_samples, model.z_dim, generator=noise)
            z = torch.stack([z, z])
            block = torch.cat([G(chunk) for chunk in z.split(CHUNK, dim=1)], dim=1)[0].float()
            blocks.append(block[:left].numpy())
            left -= len(blocks[-1])
    return np.concatenate(blocks).astype(np.float32, copy=False)


def model_config(keys: dict[str, Any]) -> Any:
    """The `model` config a record's resolved spec dumped (a dumped config validates back: keys an
    arch does not read are accepted at their defaults); a problem is one line."""
    from pydantic import ValidationError

    from ganbench.suite import ModelConfig

    try:
        return ModelConfig(**keys)
    except ValidationError as err:
        raise BadInput(f"model {keys}: {' '.join(str(err).split())[:200]}") from None


def write_samples(path: Path, drawn: np.ndarray) -> None:
    buffer = io.BytesIO()
    np.save(buffer, drawn, allow_pickle=False)
    write_atomic(Path(path), buffer.getvalue())
