"""Image metrics: the "image" evaluator and the names, directions and meanings of its metrics.

Two groups, chosen per variant by ``TrainConfig.image_metrics``:
- "inception": IS, FID, KID, precision/recall and density/coverage on torch-fidelity's Inception
  features (metrics/fid.py); needs offline weights and, at useful sample counts, a GPU. The k of
  the k-NN balls of precision/recall and density/coverage is ``TrainConfig.prdc_k`` (default 5).
- "classifier": classifier FID, classes covered and class KL from a small classifier trained by
  ganbench on the dataset (metrics/classifier.py); works anywhere, the default.

Generated images are quantised to uint8 first, as a saved PNG would hold them, so they are
compared with the stored real images on equal terms. Both groups compare against the held-out
split, using as many real images as generated ones (or the whole split if smaller): FID-type
numbers are biased by sample size and only comparable at equal counts, which ``identity`` records.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from ganbench.data.images import to_float, to_uint8
from ganbench.metrics import EVALUATORS, EvalContext  # names and meanings: the catalogue there
from ganbench.metrics.classifier import VERSION, classifier_metrics
from ganbench.metrics.fid import INCEPTION, file_sha256, inception_metrics, inception_weights


@EVALUATORS.register("image")
def evaluate_image(
    dataset: Any, fake: Tensor, generator: Any, train: Any, context: EvalContext
) -> dict[str, float]:
    pixels = to_uint8(fake)
    metrics: dict[str, float] = {}
    if "classifier" in train.image_metrics:
        metrics |= classifier_metrics(dataset, to_float(pixels), context.cache_dir, context.device)
    if "inception" in train.image_metrics:
        rgb = pixels.expand(-1, 3, -1, -1).contiguous() if pixels.shape[1] == 1 else pixels
        metrics |= inception_metrics(
            dataset, rgb, context.inception_weights, context.cache_dir, context.device, train.prdc_k
        )
    return metrics


def image_identity(dataset: Any, train: Any, context: EvalContext) -> dict[str, str]:
    """What the numbers were computed with; raises BadInput early when Inception weights are missing."""
    extractors, info = [], {}
    if "classifier" in train.image_metrics:
        extractors.append(VERSION)
    if "inception" in train.image_metrics:
        extractors.append(INCEPTION)
        info["weights_sha256"] = file_sha256(inception_weights(context.inception_weights))[:12]
    n_real = min(train.eval_samples, len(dataset.test_pixels))
    return {
        "extractor": "+".join(extractors),
        **info,
        "n_real": str(n_real),
        "n_fake": str(train.eval_samples),
    }


evaluate_image.identity = image_identity
