"""beta-DARTS (Ye et al., CVPR 2022): DARTS plus the beta-decay regularization
lambda_t * mean over edges of logsumexp(alpha_edge), lambda_t rising linearly with the epoch
as in the official code: lambda_t = 50 * epoch / 100 (`--beta-decay` sets the 50)."""

from __future__ import annotations

import torch

from nasdsl.arguments import Range
from nasdsl.methods import register
from nasdsl.methods.base import Option
from nasdsl.methods.darts import Darts

BETA_DECAY = Option("beta-decay", Range(float, low=0), 50.0,
                    "beta-DARTS's lambda_t = BETA_DECAY * epoch / 100")


@register
class BetaDarts(Darts):
    name = "beta-darts"
    options = (*Darts.options, BETA_DECAY)

    def start_epoch(self, epoch: int) -> None:
        super().start_epoch(epoch)
        self.strength = self.option("beta-decay") * epoch / 100

    def regularizer(self, net) -> torch.Tensor:
        terms = [torch.logsumexp(view.masked(view["alpha"]), dim=-1)
                 for view in net.views.values()]
        return self.strength * torch.cat(terms).mean()
