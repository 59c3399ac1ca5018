"""GDAS (Dong & Yang, CVPR 2019): one candidate sampled per edge with the Gumbel-softmax,
hard one-hot forward and straight-through gradients, the temperature annealed linearly from
10 to 0.1. Only the sampled candidate runs (GDAS's memory saving), so the cost model keeps
the naive mix; with rewrites forced, the plan runs with the one-hot weights, which equals the
sampled candidate (vertex exactness) but computes more."""

from __future__ import annotations

import attrs
import torch
import torch.nn.functional as F

from nasdsl.methods import register
from nasdsl.methods.base import Method


@register
class Gdas(Method):
    name = "gdas"
    unstable_settings = (*Method.unstable_settings, "tau_min")  # a low temperature: sharp grads

    def build_options(self, options):
        """Only the sampled candidate runs: the cost model then keeps the naive mix unless
        rewrites are forced."""
        return attrs.evolve(options, setting=attrs.evolve(options.setting, sampled=True))

    def start_epoch(self, epoch: int) -> None:
        super().start_epoch(epoch)
        high, low = self.config.tau_max, self.config.tau_min
        self.tau = high - (high - low) * epoch / max(self.config.epochs - 1, 1)

    def mixing_weights(self, net):
        weights = {}
        for name, alpha in net.arch.items():
            logits = alpha.masked_fill(~net.mask(name), float("-inf"))
            weights[name] = F.gumbel_softmax(logits, tau=self.tau, hard=True, dim=-1)
        return weights

    def logits(self, net, x: torch.Tensor) -> torch.Tensor:
        weights = self.mixing_weights(net)
        return net(x, weights, sampled={name: w.argmax(-1) for name, w in weights.items()})
