"""A variant's keys: ``TrainConfig`` with its optimizers and critic schedule, resolved against the
loss's defaults so that the run id changes whenever behaviour does."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from ganbench.registry import LOSSES, OPTIMIZERS
from ganbench.suite.base import PositiveFloat, PositiveInt, Strict, Unit, registered
from ganbench.suite.models import AnyModel, MLPModel


class OptimizerConfig(Strict):
    """An optimizer and its hyperparameters (``optimizer``, ``optimizer_g``, ``optimizer_d``)."""

    name: str = Field("adam", description="`sgd`, `rmsprop` or `adam` (as in torch.optim, defaults included)")
    lr: PositiveFloat = Field(1e-4, description="learning rate")
    betas: tuple[Unit, Unit] = Field((0.5, 0.999), description="Adam's (beta1, beta2)")
    momentum: Unit = Field(0.0, description="SGD's momentum")
    alpha: Unit = Field(0.99, description="RMSProp's smoothing constant (torch's default)")
    eps: PositiveFloat = Field(1e-8, description="added to the denominator (RMSProp, Adam)")
    weight_decay: Annotated[float, Field(ge=0)] = Field(0.0, description="L2 penalty added to the gradient")

    @field_validator("name")
    @classmethod
    def _known(cls, name: str) -> str:
        return registered(OPTIMIZERS, name)


class CriticWarmupConfig(Strict):
    """The WGAN reference code's critic schedule: `n_critic` critic updates, instead of the
    variant's, before each of the first `steps` generator updates and before every `every`-th one."""

    steps: Annotated[int, Field(ge=0)] = Field(
        25, description="generator updates at the start that get the extra critic updates"
    )
    every: PositiveInt = Field(500, description="and every `every`-th generator update after them")
    n_critic: PositiveInt = Field(100, description="critic updates before each of those generator updates")


class TrainConfig(Strict):
    """One variant after ``defaults`` are merged in: everything that shapes a training run."""

    loss: str = Field(
        "ns",
        description="GAN objective: `mm` (minimax), `ns` (non-saturating), `lsgan`, `hinge`, `wgan`, "
        "`wgan-gp`, `rsgan`, `rasgan` (relativistic), `ns-r1` (non-saturating + R1), or an import "
        "path `pkg.module:loss` (docs/extending.md)",
    )
    n_critic: PositiveInt | None = Field(
        None,
        description="critic updates per generator update; not given: the loss's (wgan, wgan-gp: 5; others: 1)",
    )
    clip: PositiveFloat | None = Field(
        None,
        description="weight clipping of the critic to [-clip, clip]; not given: the loss's default "
        "(wgan: 0.01); `clip: null` turns it off",
    )
    critic_warmup: CriticWarmupConfig | None = Field(
        None,
        description="the WGAN code's extra critic updates; `{}` gives its {steps: 25, every: 500, n_critic: 100}",
    )
    gp_weight: Annotated[float, Field(ge=0)] | None = Field(
        None,
        description="weight of the loss's critic penalty: WGAN-GP's gradient penalty (lambda) for every "
        "built-in loss but `ns-r1`, whose R1 penalty it weighs as gamma / 2; not given: the loss's "
        "(wgan-gp: 10; ns-r1: 5; others: 0, no penalty)",
    )
    optimizer: OptimizerConfig = Field(OptimizerConfig(), description="optimizer of both nets")
    optimizer_g: OptimizerConfig | None = Field(
        None, description="the generator's optimizer; not given: `optimizer`"
    )
    optimizer_d: OptimizerConfig | None = Field(
        None, description="the discriminator's optimizer; not given: `optimizer`"
    )
    steps: PositiveInt = Field(5000, description="generator updates")
    batch_size: PositiveInt = Field(64, description="samples per batch (real and generated)")
    eval_every: PositiveInt = Field(
        500, description="generator updates between evaluations (capped at `steps`)"
    )
    eval_samples: PositiveInt = Field(2500, description="generated samples per evaluation")
    min_count: PositiveInt = Field(1, description="high-quality samples a mode needs to count as covered")
    w1_points: PositiveInt = Field(1000, description="points per side of the exact Wasserstein-1 distance")
    ema: Unit | None = Field(
        None, description="decay of an EMA copy of G's weights used for evaluation; null: none"
    )
    image_metrics: list[Literal["inception", "classifier"]] = Field(
        ["classifier"], description="image metric groups to compute (inception needs offline weights)"
    )
    prdc_k: PositiveInt = Field(
        5, description="k of the k-NN balls of precision/recall and density/coverage (Naeem et al.)"
    )
    model: AnyModel = Field(
        MLPModel(),
        description="architecture; its keys depend on `arch` (mlp when not given)",
    )

    @field_validator("loss")
    @classmethod
    def _known_loss(cls, loss: str) -> str:
        return registered(LOSSES, loss)

    @model_validator(mode="after")
    def _resolve(self) -> TrainConfig:
        # Make the resolved spec explicit, so the run id changes whenever behaviour does.
        updates: dict[str, Any] = {}
        if self.optimizer_g is None:
            updates["optimizer_g"] = self.optimizer
        if self.optimizer_d is None:
            updates["optimizer_d"] = self.optimizer
        loss = LOSSES.get(self.loss)
        if self.gp_weight is None:
            updates["gp_weight"] = float(getattr(loss, "default_gp_weight", 0.0))
        if self.n_critic is None:
            updates["n_critic"] = int(getattr(loss, "default_n_critic", 1))
        if self.clip is None and "clip" not in self.model_fields_set:
            updates["clip"] = getattr(loss, "default_clip", None)
        if self.eval_every > self.steps:
            updates["eval_every"] = self.steps
        for key, value in updates.items():
            object.__setattr__(self, key, value)
        if getattr(loss, "wasserstein", False) and not (
            self.clip or self.gp_weight or getattr(self.model, "spectral_norm", False)
        ):
            raise ValueError(
                f"loss {self.loss!r} needs a Lipschitz constraint on its critic: give clip (the WGAN "
                "paper's 0.01), gp_weight > 0 or model.spectral_norm"
            )
        if self.gp_weight and getattr(loss, "penalty", "gp") is None:
            raise ValueError(f"loss {self.loss!r} takes no penalty: gp_weight must be 0 or not given")
        if self.critic_warmup is not None and self.critic_warmup.n_critic < self.n_critic:
            raise ValueError(
                f"critic_warmup.n_critic ({self.critic_warmup.n_critic}) is below n_critic ({self.n_critic})"
            )
        if "inception" in self.image_metrics and self.prdc_k >= self.eval_samples:
            raise ValueError(f"prdc_k ({self.prdc_k}) must be below eval_samples ({self.eval_samples})")
        return self

    def critic_iterations(self, step: int) -> int:
        """Critic updates before generator update `step` (0-based), critic warm-up included."""
        warmup = self.critic_warmup
        if warmup is not None and (step < warmup.steps or step % warmup.every == 0):
            return warmup.n_critic
        return self.n_critic
