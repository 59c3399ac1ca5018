"""SNAS (Xie, Zheng, Liu & Lin, "SNAS: Stochastic Neural Architecture Search", ICLR 2019).

Each edge's mixing weights are a relaxed (soft) Gumbel-softmax sample Z of its categorical,
softmax((log softmax(alpha) + g) / tau), in both the weight and the architecture step, so
that the same loss trains the weights and, through the sample, alpha; the temperature falls
geometrically from 1.0 at the first epoch to 0.03 at the last. The architecture loss adds the
resource constraint, lambda times the expected cost of the cells, sum over edges of
softmax(alpha) . R with R each candidate's cost as the cost model gives it (FLOPs, or
modelled time with `--resource time`), divided by that sum at uniform weights so that lambda
does not depend on the space's size; the paper estimates its gradient from samples, this
takes the expectation's exact one. lambda is 0 (off) unless given: the paper's mild,
moderate and aggressive constraints are not reproduced here. Derivation reads softmax(alpha)
by the space's rule. Simplification composes as with DARTS: a relaxed sample is a weight
vector like any other.
"""

from __future__ import annotations

import math

import torch

from nasdsl.arguments import Range
from nasdsl.backends.torch.contract import softmax_weights
from nasdsl.methods import register
from nasdsl.methods.base import Method, Option
from nasdsl.methods.rome import gumbel_noise

_TEMPERATURE = Range(float, low=0, low_open=True)
RESOURCE = Option("resource", str, "flops", "SNAS, FBNet, ProxylessNAS: the cost model's "
                  "measure of a candidate's cost", choices=("flops", "time"))


def relaxed_samples(net, tau: float) -> dict[str, torch.Tensor]:
    """The relaxed Gumbel-softmax sample of each edge, softmax((log softmax(alpha) + g) /
    tau), nothing in the padding (SNAS's and FBNet's mixing weights)."""
    weights = {}
    for name, view in net.views.items():
        logits = torch.log_softmax(view.masked(view["alpha"]), -1)
        weights[name] = torch.softmax((logits + gumbel_noise(logits)) / tau, -1)
    return weights


def expected_cost(net, what: str) -> torch.Tensor:
    """Sum over every searchable edge of softmax(alpha) . R, over its value at uniform
    weights (each edge's mean cost): 1 at uniform weights, lower where cheaper candidates
    weigh more."""
    column = "flops" if what == "flops" else "seconds"
    total, uniform = 0.0, 0.0
    for (name, weights), view in zip(softmax_weights(net.views).items(), net.views.values()):
        costs = view.costs(column)
        total = total + (weights * costs).sum()
        uniform += float((costs.sum(-1) / view.mask.sum(-1)).sum())
    return total / max(uniform, 1e-30)


@register
class Snas(Method):
    name = "snas"
    options = (
        Option("snas-tau-initial", _TEMPERATURE, 1.0, "SNAS: the first epoch's temperature"),
        Option("snas-tau-final", _TEMPERATURE, 0.03, "SNAS: the last epoch's temperature"),
        Option("resource-weight", Range(float, low=0), 0.0,
               "SNAS: lambda, the weight of the resource constraint (0: off)"),
        RESOURCE,
    )

    def start_epoch(self, epoch: int) -> None:
        super().start_epoch(epoch)
        first, last = self.option("snas-tau-initial"), self.option("snas-tau-final")
        share = epoch / max(self.config.epochs - 1, 1)
        self.tau = math.exp(math.log(first) + (math.log(last) - math.log(first)) * share)

    def mixing_weights(self, net):
        return relaxed_samples(net, self.tau)

    def regularizer(self, net) -> torch.Tensor:
        weight = self.option("resource-weight")
        if weight == 0:
            return super().regularizer(net)
        return weight * expected_cost(net, self.option("resource"))
