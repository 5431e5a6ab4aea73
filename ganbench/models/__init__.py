"""Architectures. A registered arch is a function

    build(model, data_shape: tuple[int, ...], seeds: list[int]) -> (G, D)

returning two ``EnsembleNet``s of K = len(seeds) independent members, member k initialised from
seeds[k] alone (so a member equals a standalone run of the same seed). G maps noise
[K, B, z_dim] -> samples [K, B, *data_shape]; D maps [K, B, *data_shape] -> scores [K, B].
`model` is the variant's model config (ganbench.suite.AnyModel: its class follows `arch`).
`module` (module.py) builds both from a researcher's own nn.Module classes.
"""

from ganbench.models import (
    dcgan,  # noqa: F401  (registers "dcgan")
    mlp,  # noqa: F401  (registers "mlp")
    module,  # noqa: F401  (registers "module")
    resnet,  # noqa: F401  (registers "resnet")
)
from ganbench.models.base import EnsembleNet

__all__ = ["EnsembleNet"]
