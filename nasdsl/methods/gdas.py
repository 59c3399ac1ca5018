"""GDAS (Dong & Yang, CVPR 2019): one candidate sampled per edge with the Gumbel-softmax,
hard one-hot forward and straight-through gradients, the temperature annealed linearly from
10 to 0.1. Only the sampled candidate runs (GDAS's memory saving), so the supernet keeps the
naive mix; with rewrites forced, the plan runs with the one-hot weights, which equals the
sampled candidate (vertex exactness) but computes more."""

from __future__ import annotations

import torch.nn.functional as F

from nasdsl.arguments import Range
from nasdsl.backends.torch.contract import Run
from nasdsl.errors import NasError
from nasdsl.methods import register
from nasdsl.methods.base import Method, Option, linear_schedule

_TEMPERATURE = Range(float, low=0, low_open=True)
TAU_MAX = Option("tau-max", _TEMPERATURE, 10.0, "the Gumbel-softmax's first temperature")
TAU_MIN = Option("tau-min", _TEMPERATURE, 0.1,
                 "the Gumbel-softmax's last temperature (at most --tau-max)")


class Annealed(Method):
    """A method whose temperature falls linearly from --tau-max to --tau-min over the
    epochs (GDAS's schedule; ROME takes it too)."""

    options = (TAU_MAX, TAU_MIN)
    unstable_settings = (*Method.unstable_settings, "--tau-min")  # low: sharp gradients

    def start_epoch(self, epoch: int) -> None:
        super().start_epoch(epoch)
        high, low = self.option("tau-max"), self.option("tau-min")
        if low > high:
            raise NasError(f"--tau-min {low} is above --tau-max {high}")
        self.tau = linear_schedule(high, low, epoch, self.config.epochs)


@register
class Gdas(Annealed):
    name = "gdas"
    single_path = True

    def mixing_weights(self, net):
        return {name: F.gumbel_softmax(view.masked(view["alpha"]), tau=self.tau, hard=True,
                                       dim=-1)
                for name, view in net.views.items()}

    def run(self, net) -> Run:
        weights = self.mixing_weights(net)
        return Run(weights, sampled={name: w.argmax(-1) for name, w in weights.items()})
