"""What a suite tests: its claims (``ganbench check``) and the regression band of a baseline."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from ganbench.registry import CLAIM_TESTS
from ganbench.suite.base import PositiveInt, Strict, registered


class ClaimConfig(Strict):
    """`better` beats `worse` on `metric` (two samples), or `better` beats `threshold` (one sample,
    e.g. "the critic's estimate correlates positively with quality": w_quality_corr > 0)."""

    id: str = Field(description="short name of the claim (a row of claims.csv per dataset)")
    text: str = Field("", description="the claim in words")
    metric: str = Field(description="any metric in runs.csv; its direction comes from the metric catalogue")
    better: str = Field(description="the variant expected to be better (or `noise` / `data`)")
    worse: str | None = Field(None, description="the variant expected to be worse; give this or `threshold`")
    threshold: float | None = Field(
        None, description="one-sample claim: `better` beats this value (e.g. w_quality_corr > 0)"
    )
    datasets: list[str] | None = Field(None, description="dataset labels to test it on; null: all")
    expect: Literal["supported", "contradicted", "inconclusive"] = Field(
        "supported", description="the verdict `ganbench check` requires"
    )
    test: str = Field(
        "permutation", description="`permutation`, `mannwhitney`, `welch` or `bootstrap` (ganbench.claims)"
    )
    alpha: Annotated[float, Field(gt=0, lt=1)] = Field(0.05, description="significance level")
    protocol: Literal["pooled", "tuned", "success_rate"] = Field(
        "pooled",
        description="how configs x seeds of swept variants decide it: all runs as one sample, the "
        "best config of each side (picked on `selection_seeds`) on fresh seeds, or the share of "
        "successful runs (`success:`)",
    )
    selection_seeds: PositiveInt | None = Field(
        None, description="tuned: the first N sorted seeds pick the config; null: half, at least 1"
    )
    healthy_only: bool = Field(
        False,
        description="test only the runs classified healthy (ganbench.health): for claims about how "
        "a working GAN behaves (e.g. the critic's loss tracks quality), which a dead critic would blur",
    )

    @field_validator("test")
    @classmethod
    def _known_test(cls, test: str) -> str:
        return registered(CLAIM_TESTS, test)

    @model_validator(mode="after")
    def _one_reference(self) -> ClaimConfig:
        if (self.worse is None) == (self.threshold is None):
            raise ValueError("give exactly one of `worse` (a variant) and `threshold` (a value)")
        if self.selection_seeds is not None and self.protocol != "tuned":
            raise ValueError("`selection_seeds` only applies to `protocol: tuned`")
        if self.protocol == "success_rate" and self.threshold is not None and not 0 < self.threshold < 1:
            raise ValueError(
                f"a success_rate claim's `threshold` is a proportion in (0, 1), got {self.threshold}"
            )
        return self


class ToleranceConfig(Strict):
    """Band around a baseline mean that a regression check accepts (the widest given wins)."""

    metrics: list[str] | None = Field(
        None, description="metrics to check; null: every metric in the baseline"
    )
    absolute: Annotated[float, Field(ge=0)] | None = Field(None, description="band of +- this value")
    relative: Annotated[float, Field(ge=0)] | None = Field(
        None, description="band of +- this share of the baseline mean"
    )
    k_se: Annotated[float, Field(ge=0)] | None = Field(
        None, description="band of +- k standard errors of the baseline mean"
    )

    @model_validator(mode="after")
    def _some_band(self) -> ToleranceConfig:
        if self.absolute is None and self.relative is None and self.k_se is None:
            raise ValueError("give at least one of absolute, relative, k_se")
        return self
