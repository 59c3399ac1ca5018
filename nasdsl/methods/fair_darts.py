"""FairDARTS (Chu, Zhou, Zhang & Li, "Fair DARTS: Eliminating Unfair Advantages in
Differentiable Architecture Search", ECCV 2020).

Each candidate's weight is its own sigmoid, sigma(alpha), not a softmax over the edge: the
candidates do not compete, so the one that helps early (a skip connection) cannot starve the
others. The architecture loss adds the zero-one loss, w_01 * L_01 with
L_01 = -1/N * sum_i (sigma(alpha_i) - 1/2)^2 over the N candidates of all edges, which pushes
every sigmoid towards 0 or 1 so that thresholding it loses little. Derivation keeps the
candidates whose sigmoid reaches the threshold (0.85): per edge its strongest allowed one
above it; a node of a `derive top k` kind keeps at most k such edges, strongest first, and
a node left with none keeps its strongest edge; a kind that keeps every edge gives an edge
with nothing above the threshold its zero candidate (`none`) where it has one. Simplification
composes as with DARTS: the mix is a weighted sum whatever the weights.
"""

from __future__ import annotations

import torch

from nasdsl.architecture.derive import (Architecture, DerivedCell, cell_of, derive_cell,
                                        stand_in_op)
from nasdsl.arguments import Range
from nasdsl.dsl.space import CellKind
from nasdsl.methods import register
from nasdsl.methods.base import Method, Option


@register
class FairDarts(Method):
    name = "fair-darts"
    options = (
        Option("zero-one-weight", Range(float, low=0), 10.0,
               "FairDARTS: w_01, the weight of the zero-one loss"),
        Option("sigmoid-threshold", Range(float, low=0, high=1), 0.85,
               "FairDARTS: derivation keeps the candidates whose sigmoid reaches this"),
    )

    def mixing_weights(self, net):
        """sigma(alpha) per candidate, zero in the padding columns."""
        return {name: torch.sigmoid(view["alpha"]) * view.mask
                for name, view in net.views.items()}

    def eval_weights(self, net):
        return self.mixing_weights(net)

    def regularizer(self, net) -> torch.Tensor:
        sigmoids = torch.cat([torch.sigmoid(view["alpha"])[view.mask]
                              for view in net.views.values()])
        return -self.option("zero-one-weight") * ((sigmoids - 0.5) ** 2).mean()

    def derive(self, net, space) -> Architecture:
        weights = {name: w.detach().cpu() for name, w in self.eval_weights(net).items()}
        threshold = self.option("sigmoid-threshold")
        return Architecture(tuple(
            thresholded_cell(kind, weights[kind.name], net.views[kind.name].zero.cpu(),
                             threshold)
            if kind.name in net.views else derive_cell(kind, ()) for kind in space.cell_kinds))


def thresholded_cell(kind: CellKind, sigmoids: torch.Tensor, zero: torch.Tensor,
                     threshold: float) -> DerivedCell:
    """FairDARTS's derived cell of one kind (see the module's docstring)."""
    def strongest(index: int, names: tuple[str, ...]) -> tuple[float, str]:
        row = sigmoids[index].tolist()
        strength, _, name = max((row[k], -k, name) for k, name in enumerate(names)
                                if kind.derivable(name))
        return strength, name

    def above(index: int, names: tuple[str, ...]) -> tuple[float, str] | None:
        strength, name = strongest(index, names)
        if strength >= threshold:
            return strength, name
        if kind.derive.top is None:
            width = len(names)
            return strength, names[stand_in_op(kind, index, sigmoids[index, :width].tolist(),
                                               zero[index, :width].tolist())]
        return None

    kept, fallback = cell_of(kind, above, limit=True), cell_of(kind, strongest, limit=True)
    edges = []
    for node in kind.intermediate:
        into = [edge for edge in kept.edges if edge[1] == node]
        pinned = len(kind.fixed_into(node))
        if len(into) == pinned and kind.incoming(node):  # no searchable edge made it
            into = [edge for edge in fallback.edges if edge[1] == node][:pinned + 1]
        edges += into
    return DerivedCell(kind.name, tuple(edges))
