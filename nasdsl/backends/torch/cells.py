"""Cells in torch: what every cell does (preprocess its inputs, sum each node's incoming
edges, its fixed edges run as they are, its searchable ones as a `contract.CellRun` says),
and the plain cell whose searchable edges each hold their candidates' layers.

How a searchable edge's output is computed is the one thing cells differ in: `Cell` runs the
edge's naive mix or compiled plan; `sharing.SharedSourceCell` mixes outputs that the
candidates of one source node share between edges.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from nasdsl.backends.torch.contract import CellRun
from nasdsl.backends.torch.edge import NaiveEdge, PlanEdge, add_all
from nasdsl.backends.torch.layers import build_layer, channel_shuffle
from nasdsl.dsl import space as IR
from nasdsl.simplify.plan import Plan


class CellBase(nn.Module):
    """A cell's preprocessing, fixed edges and node sums; subclasses hold the searchable
    edges and compute their outputs (`edge_output`)."""

    drop_path = 0.0  # DARTS's drop path on every edge output but identities, in training

    def __init__(self, cell: IR.Cell, normalize: bool):
        super().__init__()
        self.kind = cell.kind
        self.preprocess = nn.ModuleList(
            nn.Sequential(*(build_layer(m) for m in modules)) for modules in cell.preprocess)
        self.fixed = nn.ModuleList(
            nn.Sequential(*(build_layer(m, normalize) for m in edge.candidates[0].modules))
            for edge in cell.fixed)
        self._incoming = {node: [(i, cell.edges[i].src) for i in cell.kind.incoming(node)]
                          for node in cell.kind.intermediate}
        self._fixed_into = {node: [(i, e.src) for i, e in enumerate(cell.fixed) if e.dst == node]
                            for node in cell.kind.intermediate}

    def forward(self, inputs: list[torch.Tensor], run: CellRun = CellRun()) -> torch.Tensor:
        """The cell's output, its searchable edges run as `run` says (see `contract.Run`)."""
        states = [pre(x) for pre, x in zip(self.preprocess, inputs)]
        context = self.forward_context(states)
        for position, node in enumerate(self.kind.intermediate):
            fixed = [(src, self._dropped(self.fixed[i](states[src]), self.fixed[i]))
                     for i, src in self._fixed_into[node]]
            searched = [(src, self._searched(i, src, states, run, context) if runs(run, i)
                         else None) for i, src in self._incoming[node]]
            if self.kind.output == "vertex" and node == self.kind.intermediate[-1]:
                terms = self._output_vertex(fixed + searched, states[-1])
            else:
                terms = [out for _, out in fixed + searched if out is not None]
            if not terms:  # a method's error: the node's shape would be unknown
                raise ValueError(f"the run leaves node {node} of a '{self.kind.name}' cell "
                                 "without any input edge; at least one must run")
            if run.node_terms is not None:
                terms.append(run.node_terms[position])
            states.append(add_all(terms))
        if self.kind.output == "concat":
            return torch.cat([states[node] for node in self.kind.concatenated], dim=1)
        if self.kind.residual:
            return states[-1] + states[0]
        return states[-1]

    def _searched(self, index, src, states, run: CellRun, context) -> torch.Tensor:
        out = self._dropped(self.edge_output(index, src, states, run, context))
        return out if run.edge_weights is None else out * run.edge_weights[index]

    def _output_vertex(self, terms, last: torch.Tensor) -> list[torch.Tensor]:
        """NAS-Bench-101's output: what the vertices bring concatenated, in the order of
        their numbers (an edge that does not run as zeros shaped like the `last` vertex's
        output, so the width stays), plus what the inputs bring (their projections to that
        width)."""
        vertices = sorted((src, index) for index, (src, _) in enumerate(terms)
                          if src >= self.kind.inputs)
        joined = torch.cat([torch.zeros_like(last) if terms[index][1] is None
                            else terms[index][1] for _, index in vertices], dim=1)
        return [joined] + [out for src, out in terms if src < self.kind.inputs and out is not None]

    def forward_context(self, states: list[torch.Tensor]):
        """What one forward's edges share (nothing, for a plain cell)."""
        return None

    def edge_output(self, index: int, src: int, states: list[torch.Tensor], run: CellRun,
                    context) -> torch.Tensor:
        raise NotImplementedError

    def _dropped(self, out: torch.Tensor, layers: nn.Module | None = None) -> torch.Tensor:
        """DARTS's drop path, in training: the output zeroed for a random part of the
        batch and rescaled; an identity (layers all nn.Identity) is spared."""
        if not (self.training and self.drop_path > 0):
            return out
        if layers is not None and all(isinstance(layer, nn.Identity) for layer in layers):
            return out
        keep = 1.0 - self.drop_path
        mask = torch.empty(out.shape[0], 1, 1, 1, device=out.device, dtype=out.dtype)
        return out / keep * mask.bernoulli_(keep)


def runs(run: CellRun, index: int) -> bool:
    """Whether searchable edge `index` runs: not left out of a sampled topology, and with an
    active candidate where only active ones run."""
    return (run.sampled is None or run.sampled[index] >= 0) and (
        run.active is None or bool(run.active[index].any()))


class Cell(CellBase):
    """A cell whose searchable edges hold their own candidates' layers: naive mixes, or
    compiled plans where a plan has rewrites, perhaps through partial channel connections."""

    def __init__(self, cell: IR.Cell, plans: dict[int, Plan] | None, normalize: bool):
        super().__init__(cell, normalize)
        # A plan without rewrites is the naive mix: NaiveEdge computes it and can run a
        # sampled candidate alone.
        edges = [PlanEdge(edge.candidates, plans[index], normalize)
                 if plans is not None and plans[index].rewrites
                 else NaiveEdge(edge.candidates, normalize)
                 for index, edge in enumerate(cell.edges)]
        partial = cell.channels // cell.edge_channels
        self.edges = nn.ModuleList(edge if partial == 1 else PartialChannels(edge, partial)
                                   for edge in edges)

    def edge_output(self, index, src, states, run, context):
        edge = self.edges[index]
        width = len(edge.ops)
        return edge(states[src], run.weights[index, :width],
                    None if run.sampled is None else run.sampled[index],
                    None if run.active is None else run.active[index, :width])


class PartialChannels(nn.Module):
    """PC-DARTS's partial channel connection: the first 1/K of the channels go through the
    edge's mix, the rest bypass it (max-pooled where the edge strides); the two are joined
    and the channels shuffled in K groups."""

    def __init__(self, edge: NaiveEdge, k: int):
        super().__init__()
        self.edge = edge
        self.k = k

    @property
    def ops(self):
        return self.edge.ops

    def forward(self, x: torch.Tensor, weights: torch.Tensor,
                sampled: torch.Tensor | None = None,
                active: torch.Tensor | None = None) -> torch.Tensor:
        part = x.shape[1] // self.k
        mixed = self.edge(x[:, :part], weights, sampled, active)
        rest = x[:, part:]
        if mixed.shape[2] != x.shape[2]:
            rest = F.max_pool2d(rest, 2, 2, ceil_mode=True)
        return channel_shuffle(torch.cat([mixed, rest], dim=1), self.k)
