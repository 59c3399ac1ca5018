"""EnTranNAS's feature sharing (seed 004, Sec. 2.3, Eq. 6): a cell whose candidate layers
belong to the source node, not to the edge.

In a plain cell every edge (i, j) owns its candidates' layers, w_k^(i,j) of Eq. 1. Here
the same candidate from node i has one set of layers, w_k^(i) of Eq. 6, for every
destination j > i, and its output o_k(w_k^(i), x_i) is computed once per forward and reused
by every later node. The cell holds (n - 1) x K candidate chains instead of |E| x K: a
different supernet (fewer parameters), not a simplification of the naive one (the
simplification invariants do not apply to it), built
only on request (`BuildOptions.share_source_features`).

Mixing happens after the candidates' outputs, per destination node, so the per-edge plans
of the simplifier (which mix inside the edge) do not apply. What does apply is the exact
part of partial module sharing (seed 000 Eq. 3-5, prefix sharing): candidates of one source
that begin with the same parameter-free, stateless modules (the ReLU of every separable and
dilated conv) compute that prefix once. It is on when the supernet is simplified; the
layers, and so the parameters and checkpoints, are the same either way.
"""

from __future__ import annotations

import torch
from torch import nn

from nasdsl.backends.torch.cells import CellBase
from nasdsl.backends.torch.edge import add_all
from nasdsl.backends.torch.layers import build_layer
from nasdsl.dsl import space as IR
from nasdsl.dsl.modules import Module


class SharedSourceCell(CellBase):
    """A cell with feature sharing; run like `cells.Cell` (a `contract.CellRun`, the same
    meanings), so methods need not know which they run.

    Layers live at `sources.<i>.<m>.<position>`: candidate chain m of source node i, one per
    distinct candidate op (name and modules) on the edges that leave i.
    """

    def __init__(self, cell: IR.Cell, share_prefixes: bool = True, normalize: bool = False):
        super().__init__(cell, normalize)
        self.share_prefixes = share_prefixes
        # Per source, its distinct candidate ops; per edge, where each candidate's op sits.
        self._ops: dict[int, list[IR.Op]] = {}
        self._slots: list[list[int]] = []
        for edge in cell.edges:
            ops = self._ops.setdefault(edge.src, [])
            slots = []
            for op in edge.candidates:
                if op not in ops:
                    ops.append(op)
                slots.append(ops.index(op))
            self._slots.append(slots)
        self.sources = nn.ModuleDict({
            str(src): nn.ModuleList(
                nn.Sequential(*(build_layer(m, normalize) for m in op.modules)) for op in ops)
            for src, ops in self._ops.items()})

    def forward_context(self, states: list[torch.Tensor]) -> _Features:
        """Eq. 6: x_j = sum_i sum_k w_k^(i,j) o_k(w_k^(i), x_i), each o_k(x_i) computed at
        most once a forward, and only where some edge needs it."""
        return _Features(self, states)

    def edge_output(self, index, src, states, run, features):
        """One edge's mix of its source's shared features."""
        slots = self._slots[index]
        w = run.weights[index, :len(slots)]
        if run.sampled is not None:
            chosen = int(run.sampled[index])
            # As NaiveEdge: the other (zero) weights added as scalars keep their gradients.
            return w[chosen] * features.get(src, slots[chosen]) + (w.sum() - w[chosen])
        chosen = range(len(slots)) if run.active is None else \
            run.active[index, :len(slots)].nonzero().flatten().tolist()
        return add_all([w[k] * features.get(src, slots[k]) for k in chosen])

    def chain(self, src: int, slot: int) -> tuple[nn.Sequential, tuple[Module, ...]]:
        """The layers of candidate `slot` of source `src`, and its IR modules."""
        return self.sources[str(src)][slot], self._ops[src][slot].modules


class _Features:
    """One forward's memo of candidate outputs per (source, candidate) and, when prefixes
    are shared, of parameter-free prefixes per (source, modules)."""

    def __init__(self, cell: SharedSourceCell, states: list[torch.Tensor]):
        self.cell = cell
        self.states = states
        self.outputs: dict[tuple[int, int], torch.Tensor] = {}
        self.prefixes: dict[tuple, torch.Tensor] = {}

    def get(self, src: int, slot: int) -> torch.Tensor:
        key = (src, slot)
        if key not in self.outputs:
            self.outputs[key] = self._compute(src, slot)
        return self.outputs[key]

    def _compute(self, src: int, slot: int) -> torch.Tensor:
        layers, modules = self.cell.chain(src, slot)
        x = self.states[src]
        sharing = self.cell.share_prefixes
        for position, (module, layer) in enumerate(zip(modules, layers)):
            sharing = sharing and module.stateless  # its output depends on its input alone
            if not sharing:
                x = layer(x)
                continue
            key = (src, modules[:position + 1])  # interned modules: equal means the same
            if key not in self.prefixes:
                self.prefixes[key] = layer(x)
            x = self.prefixes[key]
        return x
