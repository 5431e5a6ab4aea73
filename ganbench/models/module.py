"""`arch: module`: researchers' own ``torch.nn.Module`` classes, K members trained at once.

The suite names two classes (import paths, or names in ``ganbench.registry.MODULES``)::

    model: {arch: module, generator: "my_pkg.nets:Generator", discriminator: "my_pkg.nets:Critic",
            generator_args: {hidden: 64}, discriminator_args: {hidden: 64}, z_dim: 2}

A generator maps noise [B, z_dim] to samples [B, *data_shape] (or [B, prod(data_shape)]), a
discriminator maps samples to scores [B] or [B, 1]: one member's view, with no ensemble axis.

Init protocol: member k is ``cls(**args)`` built on the CPU after ``torch.manual_seed(s)``, s being
the initial seed of ``ganbench.seeding.stream(seeds[k], "G")`` ("D" for the discriminator), inside
``torch.random.fork_rng`` (the caller's random state is left as it was). So a member's initial
weights depend on its seed alone, and equal what the same constructor gives in a plain script
after that ``manual_seed``. Constructors that take ``z_dim`` or ``data_shape`` get them from the
model config and the dataset.

The K members' parameters are stacked into the one [K, P] leaf tensor ``flat`` of
``EnsembleNet``, so the engine's optimizers, clipping, EMA, freezing and divergence checks work
unchanged. A forward is ``torch.func.vmap(functional_call)`` over per-member views of ``flat``
(views, so autograd accumulates into ``flat.grad``); one template instance supplies the code.

Buffers: a module must not have any, except the power-iteration vectors of spectral norm. Running
statistics (BatchNorm's running_mean/var) would be state outside ``flat`` updated in place, which
vmap cannot do per member: build BatchNorm with ``track_running_stats=False`` (batch statistics
always, as the built-in archs do); modules with other buffers are refused (BadInput).

Spectral norm: ``torch.nn.utils.parametrizations.spectral_norm`` inside the user's module, or
``model.spectral_norm: true`` (applied here to every Linear/Conv weight of the discriminator,
under the member's seed). Its vectors u, v become per-member buffers [K, ...]; torch's in-place
power iteration cannot run under vmap, so the same iteration (n_power_iterations steps of
u = normalize(W v), v = normalize(W^T u)) runs here, batched over members, before every training
forward, and the parametrization itself runs in eval mode (sigma = u^T W v, weight / sigma), as
torch's does in training mode. Random ops in forward (dropout) are refused: vmap would draw them
from the global generator, not from the member's streams.

Precision: module nets count as not convolutional, so `--precision auto` trains them in float32
on every device; `--precision bf16` forces autocast. The built-in flat-tensor archs (mlp, dcgan,
resnet) are faster: ``bench/module_vs_builtin.py``.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call, vmap
from torch.nn.utils.parametrizations import _SpectralNorm, spectral_norm

from ganbench.errors import BadInput
from ganbench.models.base import EnsembleNet
from ganbench.registry import ARCHS, MODULES
from ganbench.seeding import stream

NORMALISED = (nn.Linear, nn.modules.conv._ConvNd)  # layers `model.spectral_norm` applies to
PROBE_BATCH = 2  # samples of the shape check at build time (batch norm needs more than one)


def build_member(
    factory: Callable[..., Any], args: dict[str, Any], seed: int, role: str, sn: bool
) -> nn.Module:
    """Member of seed `seed` (see the init protocol above)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(stream(seed, role).initial_seed())
        module = factory(**args)
        if not isinstance(module, nn.Module):
            raise BadInput(
                f"arch module: {factory!r} returned {type(module).__name__}, not a torch.nn.Module"
            )
        if sn:
            for layer in list(module.modules()):
                if isinstance(layer, NORMALISED) and isinstance(getattr(layer, "weight", None), nn.Parameter):
                    spectral_norm(layer)
    return module.float().train()


class ModuleEnsemble(EnsembleNet):
    """K instances of one nn.Module class as an EnsembleNet: [K, B, ...] in, [K, B, ...] out."""

    def __init__(self, label: str, members: list[nn.Module], out_shape: tuple[int, ...]) -> None:
        template = members[0]
        self.label = label
        params = dict(template.named_parameters())
        super().__init__(len(members), {name: tuple(p.shape) for name, p in params.items()})
        self.out_shape = out_shape  # per sample: data_shape for G, () for D
        object.__setattr__(self, "template", template)  # not a submodule: its tensors are never used
        self.norms = {n: m for n, m in template.named_modules() if isinstance(m, _SpectralNorm)}
        for name, norm in self.norms.items():
            if not name.endswith(".0"):  # its input would be another parametrization's output
                raise BadInput(
                    f"arch module: {label}: spectral_norm must be the first parametrization of {name}"
                )
            norm.eval()  # no in-place power iteration under vmap: _power_iteration does it
        self.buffer_attrs = self._stack_buffers(members)
        for k, member in enumerate(members):
            self.set_member(k, {name: p.detach() for name, p in member.named_parameters()})

    def _stack_buffers(self, members: list[nn.Module]) -> dict[str, str]:
        """Register each allowed buffer stacked over members; name in the module -> attribute."""
        allowed = {f"{n}._u" for n in self.norms} | {f"{n}._v" for n in self.norms}
        names = [name for name, _ in members[0].named_buffers()]
        refused = [name for name in names if name not in allowed]
        if refused:
            raise BadInput(
                f"arch module: {self.label} has buffers ({', '.join(refused[:5])}): state outside the "
                "parameters cannot be kept per member; build BatchNorm with track_running_stats=False "
                "(batch statistics, as the built-in archs use) and keep other constants out of buffers"
            )
        attrs = {}
        for i, name in enumerate(names):
            stacked = torch.stack([dict(m.named_buffers())[name].detach().float() for m in members])
            self.register_buffer(f"buffer{i}", stacked)
            attrs[name] = f"buffer{i}"
        return attrs

    def forward(self, x: Tensor) -> Tensor:
        params = {name: self.param(name) for name in self.shapes}
        buffers = self.stacked_buffers()
        if self.training and self.norms:
            self._power_iteration(params, buffers)
        return self._members(params, buffers, x)

    def _members(self, params: dict[str, Tensor], buffers: dict[str, Tensor], x: Tensor) -> Tensor:
        out = vmap(self._one)(params, buffers, x)
        k, b = x.shape[:2]
        if math.prod(out.shape[2:]) != math.prod(self.out_shape):
            raise BadInput(
                f"arch module: {self.label} maps a batch of {list(x.shape[1:])} to {list(out.shape[1:])}, "
                f"expected {[b, *self.out_shape]}"
            )
        return out.reshape(k, b, *self.out_shape)

    def _one(self, params: dict[str, Tensor], buffers: dict[str, Tensor], x: Tensor) -> Tensor:
        return functional_call(self.template, (params, buffers), (x,))

    @torch.no_grad()
    def _power_iteration(self, params: dict[str, Tensor], buffers: dict[str, Tensor]) -> None:
        """torch's spectral-norm power iteration, per member (see the module docstring)."""
        for name, norm in self.norms.items():
            weight = params[name.removesuffix(".0") + ".original"].detach()
            mat = weight.movedim(norm.dim + 1, 1).flatten(2)  # [K, out, rest]
            u, v = buffers[f"{name}._u"], buffers[f"{name}._v"]
            with torch.autocast(weight.device.type, enabled=False):  # float32 vectors, as torch's
                for _ in range(norm.n_power_iterations):
                    u.copy_(F.normalize(torch.bmm(mat, v.unsqueeze(2)).squeeze(2), dim=1, eps=norm.eps))
                    v.copy_(F.normalize(torch.bmm(mat.mH, u.unsqueeze(2)).squeeze(2), dim=1, eps=norm.eps))

    def stacked_buffers(self) -> dict[str, Tensor]:
        return {name: getattr(self, attr) for name, attr in self.buffer_attrs.items()}

    @torch.no_grad()
    def probe(self, in_shape: tuple[int, ...]) -> None:
        """Run the members on zeros once, so that a wrong output shape or a random op is bad input
        at build time (no power iteration: the vectors stay as the seeds left them)."""
        x = torch.zeros(self.k, PROBE_BATCH, *in_shape)
        try:
            self._members({name: self.param(name) for name in self.shapes}, self.stacked_buffers(), x)
        except RuntimeError as err:
            reason = " ".join(str(err).split())[:200]
            raise BadInput(f"arch module: {self.label} fails on a batch of {PROBE_BATCH}: {reason}") from None


def _injected(factory: Callable[..., Any], values: dict[str, Any]) -> dict[str, Any]:
    """The values among `values` (z_dim, data_shape) that the constructor's signature names."""
    try:
        parameters = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return {}
    return {name: value for name, value in values.items() if name in parameters}


def _ensemble(
    model, role: str, seeds: list[int], injected: dict[str, Any], out_shape, in_shape
) -> ModuleEnsemble:
    name = model.generator if role == "G" else model.discriminator
    args = dict(model.generator_args if role == "G" else model.discriminator_args)
    factory = MODULES.get(name)
    args |= _injected(factory, injected)
    sn = model.spectral_norm and role == "D"
    members = [build_member(factory, args, seed, role, sn) for seed in seeds]
    net = ModuleEnsemble(name, members, out_shape)
    net.probe(in_shape)
    return net


@ARCHS.register("module")
def build_module(model, data_shape: tuple[int, ...], seeds: list[int]) -> tuple[EnsembleNet, EnsembleNet]:
    shape = tuple(data_shape)
    G = _ensemble(model, "G", seeds, {"z_dim": model.z_dim, "data_shape": shape}, shape, (model.z_dim,))
    D = _ensemble(model, "D", seeds, {"data_shape": shape}, (), shape)
    return G, D
