"""FBNet (Wu et al., "FBNet: Hardware-Aware Efficient ConvNet Design via Differentiable Neural
Architecture Search", CVPR 2019).

Each searchable edge (each layer of a macro space) mixes its candidates with a relaxed
Gumbel-softmax sample m, in both steps; the temperature starts at 5.0 and is multiplied by
exp(-0.045) = 0.956 every epoch. The architecture loss is latency-aware, multiplicative:
CE(a, w) * alpha * log(LAT(a))^beta with alpha = 0.2 and beta = 0.6, LAT(a) = sum over edges
of m . LAT, LAT a lookup table of each candidate's latency. The paper measures its table on
the target phone; here it is the cost model's modelled time of each candidate for one image
(forward and backward, on the cost model's CPU), in milliseconds, clamped below at e ms so
that the log stays at least 1 (a tiny test network's modelled time may be under a
millisecond). Derivation reads softmax(theta) by the space's rule. The paper trains the
weights alone for its first epochs; that warm-up is not offered. Simplification composes as
with DARTS.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from nasdsl.arguments import Range
from nasdsl.backends.torch.contract import Run
from nasdsl.methods import register
from nasdsl.methods.base import Method, Option
from nasdsl.methods.snas import relaxed_samples

_POSITIVE = Range(float, low=0, low_open=True)


def latency_ms(net, weights: dict[str, torch.Tensor]) -> torch.Tensor:
    """LAT(a) = sum over edges of weights . LAT, in modelled milliseconds."""
    return sum((w * net.views[name].costs("seconds")).sum() for name, w in weights.items()) \
        * 1000.0


@register
class FbNet(Method):
    name = "fbnet"
    options = (
        Option("fbnet-tau-initial", _POSITIVE, 5.0, "FBNet: the first epoch's temperature"),
        Option("fbnet-tau-decay", Range(float, low=0, high=1, low_open=True), math.exp(-0.045),
               "FBNet: the temperature's factor per epoch"),
        Option("latency-alpha", Range(float, low=0), 0.2,
               "FBNet: alpha, the magnitude of the latency-aware loss"),
        Option("latency-beta", Range(float, low=0), 0.6,
               "FBNet: beta, the exponent of log latency"),
    )

    def start_epoch(self, epoch: int) -> None:
        super().start_epoch(epoch)
        self.tau = self.option("fbnet-tau-initial") * self.option("fbnet-tau-decay") ** epoch

    def mixing_weights(self, net):
        return relaxed_samples(net, self.tau)

    def latency_factor(self, net, weights) -> torch.Tensor:
        """alpha * log(LAT(a))^beta, LAT at least e ms."""
        lat = latency_ms(net, weights).clamp_min(math.e)
        return self.option("latency-alpha") * lat.log() ** self.option("latency-beta")

    def arch_loss(self, net, x, y) -> torch.Tensor:
        weights = self.mixing_weights(net)
        return F.cross_entropy(net(x, Run(weights)), y) * self.latency_factor(net, weights)
