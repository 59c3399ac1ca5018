"""ProxylessNAS (Cai, Zhu & Han, "ProxylessNAS: Direct Neural Architecture Search on Target
Task and Hardware", ICLR 2019): binarized paths.

Each edge's path weights are p = softmax(alpha). The weight step binarizes them (Eq. 2-3):
one candidate drawn from p runs, with gate g = 1, and the others are not computed, so the
weights train at the memory of one path. The architecture step draws two candidates from p
(without replacement) and masks the others as if they did not exist: the two run, p' is the
softmax of their two alphas, one of them is drawn from p' to be active (g = 1, the other
g = 0), and alpha gets the paper's estimate (Eq. 4)

    dL/dalpha_i = sum_j dL/dg_j * p'_j * (delta_ij - p'_i),  dL/dg_j = <o_j(x), dL/dy>,

where the inactive candidate's output is what gives its gate a gradient. After the step only
the two drawn alphas keep what the optimizer made of them, shifted by one offset so that
their exp-sum is what it was: the path weights of the candidates that were not drawn stay
unchanged (the paper's rescaling; the others are restored, since the loop's Adam, with
momentum and weight decay, would move them). An optional latency loss, lambda_2 times the
expected cost of the cells (Eq. 5-6, the additive form), takes each candidate's cost from
the cost model (`--resource time`: modelled time, or FLOPs) in place of a measured latency
predictor; it is off (lambda_2 = 0) by default, and it too reaches only the drawn pair.
Derivation reads softmax(alpha) by the space's rule, as in ProxylessNAS (the most probable
path); evaluation runs the derived path.

The architecture optimizer is the loop's (Adam), not the paper's own settings. Only the drawn
candidates run, so the supernet keeps the naive mix (`single_path`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from nasdsl.architecture.derive import derived_columns
from nasdsl.arguments import Range
from nasdsl.backends.torch.contract import Run, softmax_weights
from nasdsl.methods import register
from nasdsl.methods.base import Method, Option, path_run
from nasdsl.methods.snas import RESOURCE, expected_cost


@register
class ProxylessNas(Method):
    name = "proxylessnas"
    single_path = True
    options = (
        Option("latency-weight", Range(float, low=0), 0.0,
               "ProxylessNAS: lambda_2, the weight of the expected cost (0: off)"),
        RESOURCE,
    )

    def run(self, net) -> Run:
        """The weight step's binarized path: one candidate per edge drawn from p."""
        return path_run(net, {name: torch.multinomial(p.detach(), 1).squeeze(1)
                              for name, p in softmax_weights(net.views).items()})

    def eval_run(self, net) -> Run:
        """The path derivation takes: the most probable allowed candidates on the edges the
        space's rule keeps."""
        return path_run(net, {name: torch.tensor(
            derived_columns(net.views[name].kind, p.detach().cpu().tolist()),
            device=p.device) for name, p in softmax_weights(net.views).items()})

    def arch_step(self, net, train_batch, valid_batch, arch_optimizer, weight_optimizer):
        pairs = {name: torch.multinomial(p.detach(), 2) for name, p in
                 softmax_weights(net.views).items()}
        arch_optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(net(valid_batch[0], two_path_run(net, pairs)), valid_batch[1]) \
            + self.regularizer(net)
        loss.backward()
        before = {name: net.views[name]["alpha"].detach().clone() for name in pairs}
        arch_optimizer.step()
        with torch.no_grad():
            for name, pair in pairs.items():
                alpha, old = net.views[name]["alpha"], before[name]
                # Only the drawn pair moves: the optimizer's momentum, weight decay or the
                # latency term would move the others too.
                moved = alpha.gather(1, pair)
                offset = moved.logsumexp(1, keepdim=True) \
                    - old.gather(1, pair).logsumexp(1, keepdim=True)
                alpha.copy_(old.scatter(1, pair, moved - offset))
        return loss.item()

    def regularizer(self, net) -> torch.Tensor:
        weight = self.option("latency-weight")
        if weight == 0:
            return super().regularizer(net)
        return weight * expected_cost(net, self.option("resource"))


def two_path_run(net, pairs: dict[str, torch.Tensor]) -> Run:
    """The architecture step's run: on each edge the two candidates of `pairs` (edges, 2)
    run, one drawn from p' = their softmax active, with gates whose value is that one-hot and
    whose gradient reaches alpha through p' (Eq. 4)."""
    weights, active = {}, {}
    for name, pair in pairs.items():
        view = net.views[name]
        p_two = torch.softmax(view["alpha"].gather(1, pair), -1)
        drawn = torch.multinomial(p_two.detach(), 1).squeeze(1)
        gates = F.one_hot(drawn, 2).to(p_two.dtype) + p_two - p_two.detach()
        weights[name] = torch.zeros_like(view["alpha"]).scatter(1, pair, gates)
        active[name] = torch.zeros_like(view.mask).scatter(1, pair, True)
    return Run(weights, active=active)
