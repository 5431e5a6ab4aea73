"""Image-tier throughput: DCGAN/ResNet training img/s per precision, and Inception feature img/s.

    .venv/bin/python bench/image_throughput.py [SUITE] [--variant V] [--steps N] [--device cuda]
                                              [--inception-weights FILE] [--runs N] [--alone M]

(a) training: one variant's runs of the suite (one ensemble, every seed) through train_group,
    in float32 with the contiguous layout (the baseline) and then with the precision "auto" picks
    on this device (bf16 autocast + channels_last for conv nets on CUDA, float32 on CPU) and with
    bf16 forced; img/s counts the real images the critics see (K x steps x n_critic x batch).
    Evaluation is pushed past the last step, so only training is timed.
    With --runs N the variant's seeds are repeated up to N runs (issue 14: 64+ runs on a GPU), and
    --alone M also times M of them trained one at a time (one ensemble per run, the per-run
    loop's structure with ganbench's nets), scaled to all N: the ensemble's ratio against it.
(b) Inception features: torch-fidelity's Inception (pool3, 2048-d) on random uint8 images at
    the suite's resolution (resized to 299 inside, as for FID), with the weights file FID uses; skipped
    without a weights file (--inception-weights or GANBENCH_INCEPTION_WEIGHTS).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ganbench.data import build_dataset  # noqa: E402
from ganbench.metrics import EvalContext  # noqa: E402
from ganbench.metrics.fid import INCEPTION  # noqa: E402
from ganbench.suite import load_suite  # noqa: E402
from ganbench.train import _train_group, train_group  # noqa: E402


def train_rate(specs, device: str, precision: str, data_root: str | None) -> tuple[float, str]:
    """(img/s, precision used) of training the specs once; a short warm-up run first."""
    specs = [_no_eval(s) for s in specs]
    context = EvalContext(data_root=data_root, device=device, precision=precision)
    train = train_group if len(specs) > 1 else _alone
    train([_no_eval(s, steps=2) for s in specs], device, context)  # kernels, allocator, cuDNN
    _sync(device)
    start = time.perf_counter()
    results = train(specs, device, context)
    _sync(device)
    wall = time.perf_counter() - start
    t = specs[0].train
    return len(specs) * t.steps * t.n_critic * t.batch_size / wall, results[0].precision


def _alone(specs, device: str, context: EvalContext):
    """One run as one ensemble of one, without the ghost member train_group adds to a lone run (it
    keeps a lone run's numbers equal to an ensemble member's; a per-run loop has no such cost)."""
    return _train_group(specs, device, context, None, 1, [0])


def _no_eval(spec, steps: int | None = None):
    steps = steps or spec.train.steps
    # eval_every beyond the last step leaves one final evaluation; eval_samples 64 keeps it small.
    train = spec.train.model_copy(update={"steps": steps, "eval_every": steps, "eval_samples": 64})
    return replace(spec, train=train)


def inception_rate(weights: str, side: int, device: str, n: int, batch: int) -> float:
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    model = FeatureExtractorInceptionV3(INCEPTION, ["2048"], feature_extractor_weights_path=weights)
    model = model.to(device).eval()
    images = torch.randint(0, 256, (batch, 3, side, side), dtype=torch.uint8, device=device)
    with torch.no_grad():
        model(images)  # warm-up
        _sync(device)
        start = time.perf_counter()
        for _ in range(n // batch):
            model(images)
        _sync(device)
    return (n // batch) * batch / (time.perf_counter() - start)


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("suite", nargs="?", default="suites/images_smoke.yaml")
    parser.add_argument("--variant", default=None, help="default: the suite's first")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--data-root", default=os.environ.get("GANBENCH_DATA_ROOT"))
    parser.add_argument("--inception-weights", default=os.environ.get("GANBENCH_INCEPTION_WEIGHTS"))
    parser.add_argument("--inception-images", type=int, default=512)
    parser.add_argument(
        "--runs", type=int, default=0, help="repeat the variant's seeds up to N runs (0: as is)"
    )
    parser.add_argument("--alone", type=int, default=0, help="also time M runs trained one at a time")
    args = parser.parse_args()

    seeds = max(args.runs, 1) if args.runs else None
    suite = load_suite(args.suite, steps=args.steps, seeds=seeds)
    variant = args.variant or next(iter(suite.variants))
    specs = [s for s in suite.specs if s.variant == variant]
    t = specs[0].train
    print(
        f"device {args.device}, torch threads {torch.get_num_threads()}, {suite.name}/{variant}: "
        f"{len(specs)} runs x {args.steps} steps, {t.model.arch}, batch {t.batch_size}, n_critic {t.n_critic}"
    )
    print(f"{'training':<28}{'img/s':>10}{'vs fp32':>10}")
    baseline, _ = train_rate(specs, args.device, "fp32", args.data_root)
    print(f"{'fp32 (baseline)':<28}{baseline:>10.0f}{1.0:>9.2f}x")
    for requested in ("auto", "bf16"):
        rate, used = train_rate(specs, args.device, requested, args.data_root)
        print(f"{requested + ' -> ' + used:<28}{rate:>10.0f}{rate / baseline:>9.2f}x")
    if args.alone:
        picks = specs[: args.alone]
        alone = sum(train_rate([s], args.device, "fp32", args.data_root)[0] for s in picks) / len(picks)
        print(f"{'fp32, each run alone':<28}{alone:>10.0f}{alone / baseline:>9.2f}x")
        print(f"ensemble of {len(specs)} vs runs one at a time (fp32): {baseline / alone:.2f}x")

    if not args.inception_weights:
        print("inception features: skipped (no --inception-weights or GANBENCH_INCEPTION_WEIGHTS)")
        return
    side = build_dataset(specs[0].data, args.data_root).shape[-1]
    rate = inception_rate(args.inception_weights, side, args.device, args.inception_images, 64)
    print(
        f"inception features (pool3, {side} px images resized to 299 as for FID, batch 64): {rate:.0f} img/s"
    )


if __name__ == "__main__":
    main()
