"""The interface between a search method and the shared search loop.

A method decides how mixing weights come from the architecture parameters, which losses the
two levels of the bi-level problem minimize (seed 000 Eq. 1), and how the architecture step
is taken. The loop owns everything else: data, optimizers, schedules, logging, checkpoints.
Methods talk to the supernet through its small interface (architecture parameters in,
logits out), never through its internals.
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F

from nasdsl.backends.torch.network import BuildOptions, Supernet, softmax_weights
from nasdsl.dsl.derive import Architecture, derive
from nasdsl.dsl.space import Space


class Method:
    name: ClassVar[str]

    def __init__(self, config):
        self.config = config
        self.start_epoch(0)

    # --- how the supernet is built -------------------------------------------------------------

    def load_options(self) -> dict:
        """Extra arguments to `load` for the space this method searches."""
        return {}

    def build_options(self, options: BuildOptions) -> BuildOptions:
        return options

    # --- hooks the loop calls ----------------------------------------------------------------

    @property
    def warmup_epochs(self) -> int:
        """Epochs of weight training before the architecture steps begin."""
        return 0

    def start_epoch(self, epoch: int) -> None:
        """Set per-epoch schedules (temperatures, regularization strength)."""
        self.epoch = epoch

    def mixing_weights(self, net: Supernet) -> dict[str, torch.Tensor]:
        return softmax_weights(net)

    def logits(self, net: Supernet, x: torch.Tensor) -> torch.Tensor:
        return net(x, self.mixing_weights(net))

    def weight_loss(self, net: Supernet, x, y) -> torch.Tensor:
        return F.cross_entropy(self.logits(net, x), y)

    def arch_loss(self, net: Supernet, x, y) -> torch.Tensor:
        return F.cross_entropy(self.logits(net, x), y) + self.regularizer(net)

    def regularizer(self, net: Supernet) -> torch.Tensor:
        return torch.zeros((), device=next(net.parameters()).device)

    def arch_step(self, net: Supernet, train_batch, valid_batch, arch_optimizer,
                  weight_optimizer) -> float:
        """First-order: one step on the architecture loss of a validation batch."""
        arch_optimizer.zero_grad(set_to_none=True)
        loss = self.arch_loss(net, *valid_batch)
        loss.backward()
        arch_optimizer.step()
        return loss.item()

    def eval_weights(self, net: Supernet) -> dict[str, torch.Tensor]:
        """The weights used to evaluate the supernet and to derive: the softmax."""
        return softmax_weights(net)

    def eval_logits(self, net: Supernet, x: torch.Tensor) -> torch.Tensor:
        return net(x, self.eval_weights(net))

    def derive(self, net: Supernet, space: Space) -> Architecture:
        weights = self.eval_weights(net)
        return derive(space, {name: w.detach().cpu().tolist() for name, w in weights.items()})
