"""beta-DARTS (Ye et al., CVPR 2022): DARTS plus the beta-decay regularization
lambda_t * mean over edges of logsumexp(alpha_edge), lambda_t rising linearly with the epoch
as in the official code: lambda_t = 50 * epoch / 100 (`--beta-decay` sets the 50)."""

from __future__ import annotations

import torch

from nasdsl.methods import register
from nasdsl.methods.darts import Darts


@register
class BetaDarts(Darts):
    name = "beta-darts"

    def start_epoch(self, epoch: int) -> None:
        super().start_epoch(epoch)
        self.strength = self.config.beta_decay_max * epoch / 100

    def regularizer(self, net) -> torch.Tensor:
        terms = []
        for name, alpha in net.arch.items():
            masked = alpha.masked_fill(~net.mask(name), float("-inf"))
            terms.append(torch.logsumexp(masked, dim=-1))
        return self.strength * torch.cat(terms).mean()
