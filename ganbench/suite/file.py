"""The suite file's top level: ``SuiteFile`` (with its `success:` criterion) and its `tune:` section."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from ganbench.registry import UnknownName
from ganbench.suite.base import PositiveInt, Strict
from ganbench.suite.claims import ClaimConfig, ToleranceConfig


class ObjectiveConfig(Strict):
    """What `ganbench tune` optimises (``tune.objective``)."""

    metric: str = Field(description="a per-run metric; its direction comes from the metric catalogue")
    dataset: str | None = Field(None, description="dataset label; null: the mean over the suite's datasets")


class TuneConfig(Strict):
    """Optuna search of one variant's hyperparameters (``ganbench tune``)."""

    variant: str = Field(description="the variant to tune")
    objective: ObjectiveConfig = Field(description="what to optimise")
    space: dict[str, dict[Literal["log_uniform", "uniform", "int", "choice"], list[Any]]] = Field(
        description="key path into the variant (e.g. optimizer.lr) -> {log_uniform|uniform|int: "
        "[low, high]} or {choice: [...]}"
    )
    trials: PositiveInt = Field(20, description="Optuna trials (`--trials` overrides)")
    seeds: PositiveInt | None = Field(None, description="seeds per trial; null: the suite's")


class SuiteFile(Strict):
    """A suite file: datasets x variants x seeds, and the claims the suite tests."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")] = Field(
        description="the suite's name: labels its runs and the default output dir runs/<name>"
    )
    description: str = Field("", description="what the suite asks, in words")
    defaults: dict[str, Any] = Field(
        {}, description="variant keys (the Variant table) applied to every variant, deep-merged"
    )
    datasets: list[str | dict[str, Any]] = Field(
        description="registry names (`ring8`) or `{name: ring, modes: 8, ..., label: ...}` (the Datasets table)"
    )
    seeds: PositiveInt | list[Annotated[int, Field(ge=0)]] = Field(
        5, description="a count N (seeds 0..N-1) or an explicit list of seeds"
    )
    variants: dict[str, dict[str, Any]] = Field(
        description="variant name -> variant keys (the Variant table), over `defaults`; `noise` and `data` are reserved"
    )
    claims: list[ClaimConfig] = Field([], description="the claims the suite tests (the Claim table)")
    p_adjust: Literal["holm", "bh", "none"] = Field(
        "holm", description="multiple-comparison adjustment over claims x datasets (p_adjusted)"
    )
    success: dict[str, dict[Literal["below", "above"], float]] | None = Field(
        default=None,
        validate_default=True,
        description="what a successful run is (success_rate claims): every condition holds, e.g. "
        "{w1: {below: 0.3}, hq_share: {above: 0.5}}",
    )
    tolerance: ToleranceConfig | None = Field(
        None, description="the regression band of `ganbench check --baseline`"
    )
    tune: TuneConfig | None = Field(None, description="the search of `ganbench tune`")
    data_root: str | None = Field(
        None, description="folder with image datasets; --data-root and GANBENCH_DATA_ROOT win"
    )
    inception_weights: str | None = Field(
        None,
        description="offline Inception weights file for FID/IS/KID; --inception-weights and GANBENCH_INCEPTION_WEIGHTS win",
    )

    @field_validator("success")
    @classmethod
    def _success_criterion(
        cls, success: dict[str, dict[str, float]] | None, info: ValidationInfo
    ) -> dict[str, dict[str, float]] | None:
        """Reported at `success`: missing while a claim needs it, an empty condition, a bad metric."""
        if success is None:
            for i, claim in enumerate(info.data.get("claims") or []):
                if claim.protocol == "success_rate":
                    raise ValueError(
                        f"claims[{i}] ({claim.id}) has protocol success_rate, which needs a `success:` "
                        "criterion such as {w1: {below: 0.3}}"
                    )
            return None
        from ganbench.metrics import metric_info  # late: metrics register on import

        for metric, bounds in success.items():
            if not bounds:
                raise ValueError(f"{metric}: give `below:` and/or `above:`")
            try:
                metric_info(metric)
            except UnknownName as err:
                raise ValueError(str(err)) from None
        return success
