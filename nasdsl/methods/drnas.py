"""DrNAS (Chen, Wang, Cheng, Tang & Hsieh, "DrNAS: Dirichlet Neural Architecture Search",
ICLR 2021).

The mixing weights of an edge are a sample of a Dirichlet distribution whose concentration
is beta = elu(alpha) + 1 (positive, and 1 at alpha = 0: the uniform distribution), drawn
with the pathwise (reparameterization) gradient, so that the architecture step differentiates
through the sample. The architecture loss adds lambda * KL(Dir(beta) || Dir(prior)), the
divergence from a Dirichlet prior of concentration `prior` on every candidate, averaged over
the edges (lambda = 1e-3 as the reference code's `reg_scale`). Derivation and evaluation use
the Dirichlet mean beta / sum(beta). Each edge's distribution covers its own candidates only
(edges of different widths are drawn apart). The paper's progressive scheme (widening the
partial channels while pruning candidates between stages) is not implemented: this is the
single-stage DrNAS. Simplification composes as with DARTS: a sample is a weight vector like
any other.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.distributions import Dirichlet, kl_divergence

from nasdsl.arguments import Range
from nasdsl.methods import register
from nasdsl.methods.base import Method, Option


@register
class DrNas(Method):
    name = "drnas"
    options = (
        Option("kl-weight", Range(float, low=0), 1e-3,
               "DrNAS: lambda, the weight of the KL divergence to the Dirichlet prior"),
        Option("prior", Range(float, low=0, low_open=True), 1.0,
               "DrNAS: the prior's concentration on every candidate"),
    )

    def concentrations(self, net) -> dict[str, torch.Tensor]:
        """beta = elu(alpha) + 1 per candidate (the padding columns are not used)."""
        return {name: F.elu(view["alpha"]) + 1 for name, view in net.views.items()}

    def mixing_weights(self, net):
        """One Dirichlet sample per edge, drawn by rsample (pathwise gradient)."""
        weights = {}
        for name, beta in self.concentrations(net).items():
            view = net.views[name]
            sample = beta.new_zeros(beta.shape)
            for width, rows in _rows_by_width(view.mask):
                drawn = Dirichlet(beta[rows, :width]).rsample()
                sample = sample.index_put((rows,), F.pad(drawn, (0, beta.shape[1] - width)))
            weights[name] = sample
        return weights

    def eval_weights(self, net):
        """The Dirichlet mean beta / sum(beta) over each edge's candidates."""
        return {name: beta * net.views[name].mask /
                (beta * net.views[name].mask).sum(-1, keepdim=True)
                for name, beta in self.concentrations(net).items()}

    def regularizer(self, net) -> torch.Tensor:
        terms = []
        for name, beta in self.concentrations(net).items():
            for width, rows in _rows_by_width(net.views[name].mask):
                posterior = Dirichlet(beta[rows, :width])
                prior = Dirichlet(torch.full_like(beta[rows, :width], self.option("prior")))
                terms.append(kl_divergence(posterior, prior))
        return self.option("kl-weight") * torch.cat(terms).mean()


def _rows_by_width(mask: torch.Tensor) -> list[tuple[int, torch.Tensor]]:
    """The edges grouped by their number of candidates (real columns come first)."""
    widths = mask.sum(-1)
    return [(int(width), (widths == width).nonzero().flatten())
            for width in widths.unique().tolist()]
