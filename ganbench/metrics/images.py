"""The metrics of image datasets, in two groups a variant turns on with ``image_metrics``:

- "inception": IS, FID, KID, precision/recall and density/coverage on torch-fidelity's Inception
  features (metrics/fid.py); needs offline weights and, at useful sample counts, a GPU. The k of
  the k-NN balls of precision/recall and density/coverage is ``TrainConfig.prdc_k`` (default 5).
- "classifier": classifier FID, classes covered and class KL from a small classifier trained by
  ganbench on the dataset (metrics/classifier.py); works anywhere, the default.

``ImageView`` computes each group once per evaluation (one feature extraction feeds all of its
metrics, torch-fidelity style) and each metric reads its value from it. Generated images are
quantised to uint8 first, as a saved PNG would hold them, so they are compared with the stored
real images on equal terms. Both groups compare against the held-out split, using as many real
images as generated ones (or the whole split if smaller): FID-type numbers are biased by sample
size and only comparable at equal counts, which ``identity`` records. torch and torch-fidelity
are imported on first use, not when the catalogue loads.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from ganbench.metrics import EVALUATORS, NON_NEGATIVE, SHARE, EvalContext, metric

IMAGE = ("image",)


@EVALUATORS.register("image")
class ImageView:
    """One member's generated images [n, C, H, W] at one evaluation, and each group's values."""

    def __init__(self, dataset: Any, fake: Any, generator: Any, train: Any, context: EvalContext) -> None:
        from ganbench.data.images import to_uint8

        self.dataset, self.train, self.context = dataset, train, context
        self.pixels = to_uint8(fake)

    @cached_property
    def classifier(self) -> dict[str, float]:
        from ganbench.data.images import to_float
        from ganbench.metrics.classifier import classifier_metrics

        c = self.context
        return classifier_metrics(self.dataset, to_float(self.pixels), c.cache_dir, c.device)

    @cached_property
    def inception(self) -> dict[str, float]:
        from ganbench.metrics.fid import inception_metrics

        pixels, c = self.pixels, self.context
        rgb = pixels.expand(-1, 3, -1, -1).contiguous() if pixels.shape[1] == 1 else pixels
        return inception_metrics(
            self.dataset, rgb, c.inception_weights, c.cache_dir, c.device, self.train.prdc_k
        )

    @staticmethod
    def identity(dataset: Any, train: Any, context: EvalContext) -> dict[str, str]:
        """What the numbers were computed with; raises BadInput early when Inception weights are missing."""
        from ganbench.metrics.classifier import VERSION
        from ganbench.metrics.fid import INCEPTION, file_sha256, inception_weights

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


def _classifier_metric(name: str, key: str, **declared: Any) -> None:
    metric(name, kinds=IMAGE, group="classifier", **declared)(lambda view: view.classifier[key])


def _inception_metric(name: str, key: str, **declared: Any) -> None:
    metric(name, kinds=IMAGE, group="inception", **declared)(lambda view: view.inception[key])


_classifier_metric(
    "classifier_fid",
    "classifier_fid",
    higher_is_better=False,
    bounds=NON_NEGATIVE,
    description="Fréchet distance on the features of ganbench's own classifier",
)
_classifier_metric(
    "classes_covered",
    "classes_covered",
    higher_is_better=True,
    worst=0.0,
    bounds=NON_NEGATIVE,
    description="classes predicted for at least 10% of their uniform share of samples",
)
_classifier_metric(
    "class_kl",
    "class_kl",
    higher_is_better=False,
    bounds=NON_NEGATIVE,
    description="KL(predicted-class histogram || uniform); 0 is balanced",
)
_inception_metric(
    "fid",
    "fid",
    higher_is_better=False,
    bounds=NON_NEGATIVE,
    description="Fréchet Inception Distance to the held-out split (torch-fidelity)",
)
_inception_metric(
    "is_mean",
    "is_mean",
    higher_is_better=True,
    worst=1.0,
    bounds=(1.0, None),
    description="Inception Score, mean over 10 splits",
)
_inception_metric(
    "is_std",
    "is_std",
    higher_is_better=False,
    bounds=NON_NEGATIVE,
    shown=False,
    description="Inception Score, std over 10 splits",
)
_inception_metric(  # the unbiased MMD^2 estimate can be slightly negative
    "kid_mean",
    "kid_mean",
    higher_is_better=False,
    description="Kernel Inception Distance (unbiased MMD^2, cubic kernel), mean over subsets",
)
_inception_metric(
    "kid_std",
    "kid_std",
    higher_is_better=False,
    bounds=NON_NEGATIVE,
    shown=False,
    description="Kernel Inception Distance, std over subsets",
)
_inception_metric(
    "precision",
    "precision",
    higher_is_better=True,
    worst=0.0,
    bounds=SHARE,
    description="share of generated images inside the real Inception-feature manifold (k-NN balls, k = prdc_k)",
)
_inception_metric(
    "recall",
    "recall",
    higher_is_better=True,
    worst=0.0,
    bounds=SHARE,
    description="share of real images inside the generated Inception-feature manifold (k-NN balls, k = prdc_k)",
)
_inception_metric(
    "density",
    "density",
    higher_is_better=True,
    worst=0.0,
    bounds=NON_NEGATIVE,
    description="mean number of real Inception-feature k-NN balls holding a generated image, over k (Naeem et al.; ~1 when matched)",
)
_inception_metric(
    "coverage",
    "coverage",
    higher_is_better=True,
    worst=0.0,
    bounds=SHARE,
    description="share of real images whose Inception-feature k-NN ball holds a generated image (Naeem et al.)",
)
