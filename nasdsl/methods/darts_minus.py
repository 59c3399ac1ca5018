"""DARTS- (Chu, Wang, Zhang, Zhang, Wei & Yan, "DARTS-: Robustly Stepping out of Performance
Collapse Without Indicators", ICLR 2021).

DARTS with an auxiliary skip connection on every edge, outside the search (Eq. 3):

    o_bar(x) = beta * x + sum_o softmax(alpha)_o * o(x)

Its coefficient beta decays from `skip-beta` towards zero over the search (the reference
code's linear schedule beta * (1 - epoch / epochs), which ends at beta / epochs, or a cosine
one): early on the skip carries the gradient that otherwise makes the searched skip_connect
win unfairly (the paper's account of collapse), and at the end the supernet is nearly
DARTS's. Derivation and the logged weights use softmax(alpha) alone, as in DARTS.

The skip is the edge's identity candidate (`KindView.identity`) whose mixing weight gains
beta, which is beta * x exactly. Where an edge changes the shape (the reduction cell's
stride-2 edges), the skip is the candidate of the name that is the identity on the kind's
other edges (DARTS's skip_connect, there a factorized reduce): the reference code gives
those edges a factorized reduce of their own, here it shares skip_connect's weights. An edge
with neither (nb101's vertex ops), and every edge of a kind with no identity candidate, has
no auxiliary skip. Simplification composes as with DARTS: the skip is a candidate that shares no module
with another (the identity has none; skip_connect's factorized reduce is its own), so a plan
exact at a vertex of the simplex is exact at a vertex plus beta on the skip.
"""

from __future__ import annotations

import math
import weakref

import torch

from nasdsl.arguments import Range
from nasdsl.backends.torch.contract import Run
from nasdsl.methods import register
from nasdsl.methods.base import Option
from nasdsl.methods.darts import Darts


@register
class DartsMinus(Darts):
    name = "darts-minus"
    options = (*Darts.options,
               Option("skip-beta", Range(float, low=0), 1.0,
                      "DARTS-: the auxiliary skip connection's first coefficient"),
               Option("skip-decay", str, "linear",
                      "DARTS-: how the coefficient falls to zero over the epochs",
                      choices=("linear", "cosine")))

    def start_epoch(self, epoch: int) -> None:
        super().start_epoch(epoch)
        progress = epoch / max(self.config.epochs, 1)
        shape = 1 - progress if self.option("skip-decay") == "linear" \
            else (1 + math.cos(math.pi * progress)) / 2
        self.beta = self.option("skip-beta") * shape

    def __init__(self, config):
        # Each view's skip columns, found once: they depend on the space only.
        self._skips: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        super().__init__(config)

    def mixing_weights(self, net):
        weights = super().mixing_weights(net)
        return {name: w + self.beta * self._skip(net.views[name]).to(w)
                for name, w in weights.items()}

    def _skip(self, view) -> torch.Tensor:
        if view not in self._skips:
            self._skips[view] = skip_columns(view)
        return self._skips[view]

    def eval_run(self, net) -> Run:
        """The supernet is evaluated as it trains, auxiliary skip included."""
        return Run(self.mixing_weights(net))


def skip_columns(view) -> torch.Tensor:
    """(edges, candidates) one-hot: the candidate that carries each edge's auxiliary skip,
    its identity candidate or, where it has none, the candidate of the name that is the
    identity on the kind's other edges (skip_connect at stride 2); a row of zeros where there
    is neither."""
    identity = view.identity.cpu()
    names = {view.edges[row][2][column] for row, column in identity.nonzero().tolist()}
    chosen = torch.zeros_like(identity)
    for row, (_, _, candidates) in enumerate(view.edges):
        columns = identity[row].nonzero().flatten().tolist() or \
            [column for column, name in enumerate(candidates) if name in names]
        if columns:
            chosen[row, columns[0]] = True
    return chosen.to(view.identity.device)
