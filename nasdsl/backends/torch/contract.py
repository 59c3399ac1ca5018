"""The interface between search methods and supernets.

A method declares the architecture parameters it needs (`ArchParameter`); the supernet
allocates one tensor of each per searchable cell kind and gives the method a view of every
kind (`KindView`): its parameters, its searchable edges with their candidate names, the
incoming edges of each node, which candidates are real columns, which derivation may
choose, which output zeros and which are the identity, what each candidate costs (the cost
model's FLOPs and modelled time, for resource-aware methods), and where its cells are. A
forward is told how to run the cells by one record (`Run`): mixing weights, and optionally
sampled candidates, edge weights, active candidates and terms added to the nodes, per cell
kind or per cell. Nothing below knows a method by name, and a method reads nothing of the
supernet but this.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import attrs
import torch
from torch import nn

from nasdsl.architecture.topology import all_edge_sets, choosing_nodes
from nasdsl.dsl.space import CellKind, Space
from nasdsl.simplify.cost import Setting, plan_cost
from nasdsl.simplify.plan import naive_plan

# The shapes an architecture parameter takes, per cell kind.
SHAPES = {
    "edge-candidate": "a row per searchable edge, a column per candidate (the widest edge's)",
    "edge": "one per searchable edge",
    "node": "one per intermediate node",
    "edge-set": "one per set of input edges a node may keep under `derive top k` (none "
                "where the kind derives every edge)",
}


@attrs.frozen
class ArchParameter:
    """An architecture parameter a method asks for, one tensor of `shape` per searchable
    cell kind, initialized at 1e-3 N(0, 1) (`small`) or at zero."""

    name: str
    shape: str
    init: str = "small"

    def __attrs_post_init__(self):
        if self.shape not in SHAPES:
            raise ValueError(f"unknown shape '{self.shape}': {', '.join(SHAPES)}")

    def tensor(self, kind: CellKind) -> torch.Tensor | None:
        """The initial tensor of one kind, or None where the shape has no entries there."""
        size = {"edge-candidate": (len(kind.edges), widest(kind)), "edge": (len(kind.edges),),
                "node": (kind.nodes,), "edge-set": (len(all_edge_sets(kind)),)}[self.shape]
        if self.shape == "edge-set" and kind.derive.top is None:
            return None
        return torch.zeros(size) if self.init == "zeros" else 1e-3 * torch.randn(size)


ALPHA = ArchParameter("alpha", "edge-candidate")  # every method's operation parameters


def widest(kind: CellKind) -> int:
    """The most candidates of a searchable edge of `kind`."""
    return max((len(names) for _, _, names in kind.edges), default=0)


def candidate_masks(kind: CellKind, space: Space) -> dict[str, torch.Tensor]:
    """Bool tables (edges, candidates) of a searchable kind as `space` places it: `mask` the
    real columns, `derivable` those derivation may choose, `zero` those that output zeros,
    `identity` those that pass their input through unchanged."""
    first = next(cell for cell in space.network.cells if cell.kind.name == kind.name)
    shape = (len(kind.edges), widest(kind))
    masks = {name: torch.zeros(shape, dtype=torch.bool)
             for name in ("mask", "derivable", "zero", "identity")}
    for index, ((_, _, names), edge) in enumerate(zip(kind.edges, first.edges)):
        for column, (name, op) in enumerate(zip(names, edge.candidates)):
            masks["mask"][index, column] = True
            masks["derivable"][index, column] = kind.derivable(name)
            masks["zero"][index, column] = op.is_zero
            masks["identity"][index, column] = op.is_identity
    return masks


def candidate_costs(kind: CellKind, space: Space) -> dict[str, torch.Tensor]:
    """Tables (edges, candidates) of what each candidate costs the network, as the cost
    model gives it for one image (forward and backward): `flops`, and modelled `seconds` on
    the cost model's CPU; summed over the kind's cells, each candidate where that cell
    places it (at its channels and resolution); zero in the padding columns."""
    shape = (len(kind.edges), widest(kind))
    costs = {"flops": torch.zeros(shape, dtype=torch.float64),
             "seconds": torch.zeros(shape, dtype=torch.float64)}
    for cell in (cell for cell in space.network.cells if cell.kind.name == kind.name):
        for index, edge in enumerate(cell.edges):
            setting = Setting(batch=1, size=cell.node_size(edge.src))
            for column, op in enumerate(edge.candidates):
                cost = plan_cost(naive_plan((op,)), cell.edge_input_channels(edge.src), setting)
                costs["flops"][index, column] += cost.flops
                costs["seconds"][index, column] += cost.seconds
    return costs


class KindView:
    """What a method sees of one searchable cell kind (buffers on the supernet's device)."""

    def __init__(self, kind: CellKind, space: Space, parameters: Mapping[str, nn.Parameter],
                 stages: tuple[int, ...], device: Callable[[], torch.device]):
        self.name = kind.name
        self.kind = kind
        self.edges = kind.edges
        self.nodes = kind.intermediate
        self.stages = stages
        self.parameters = dict(parameters)
        # Per node its searchable incoming edges; `choosing` the nodes that have any.
        self.incoming = {node: kind.incoming(node) for node in kind.intermediate}
        self.choosing = tuple(choosing_nodes(kind))
        self.edge_sets = all_edge_sets(kind) if kind.derive.top is not None else []
        self._masks = candidate_masks(kind, space)
        self._space = space
        self._device = device  # the supernet's, wherever it has moved since
        self._costs: dict[str, torch.Tensor] = {}
        self._rows = {node: torch.tensor(edges, dtype=torch.long)
                      for node, edges in self.incoming.items()}

    @property
    def mask(self) -> torch.Tensor:
        """(edges, candidates): the real columns (an edge may have fewer than the widest)."""
        return self._placed("mask")

    @property
    def derivable(self) -> torch.Tensor:
        """(edges, candidates): real columns derivation may choose (not `derive ... exclude`d)."""
        return self._placed("derivable")

    @property
    def zero(self) -> torch.Tensor:
        """(edges, candidates): the candidates that output zeros (`none`)."""
        return self._placed("zero")

    @property
    def identity(self) -> torch.Tensor:
        """(edges, candidates): the candidates that are the identity (a skip connection where
        the edge keeps its input's shape)."""
        return self._placed("identity")

    def costs(self, what: str = "flops") -> torch.Tensor:
        """(edges, candidates): each candidate's cost, `flops` or modelled `seconds`, summed
        over the kind's cells (`candidate_costs`), in float32 on the supernet's device."""
        if not self._costs:
            self._costs.update({name: table.float() for name, table in
                                candidate_costs(self.kind, self._space).items()})
        return self._on_device(self._costs, what)

    def rows(self, node: int) -> torch.Tensor:
        """`incoming[node]` as an index tensor on the supernet's device."""
        return self._on_device(self._rows, node)

    def _placed(self, name: str) -> torch.Tensor:
        return self._on_device(self._masks, name)

    def _on_device(self, table: dict, key) -> torch.Tensor:
        """A cached tensor on the supernet's device (it may have moved since)."""
        device = self._device()
        if table[key].device != device:
            table[key] = table[key].to(device)
        return table[key]

    def __getitem__(self, name: str) -> nn.Parameter:
        return self.parameters[name]

    def masked(self, logits: torch.Tensor, allowed: torch.Tensor | None = None) -> torch.Tensor:
        """`logits` with -inf outside `allowed` (default: the real columns)."""
        return masked(logits, self.mask if allowed is None else allowed)


def masked(logits: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
    """`logits` with -inf where `allowed` is False, so that a softmax gives them nothing."""
    return logits.masked_fill(~allowed, float("-inf"))


def softmax_weights(views: Mapping[str, KindView], name: str = "alpha",
                    allowed: str | None = None) -> dict[str, torch.Tensor]:
    """A softmax over each searchable edge's candidates (DARTS's mixing weights), of the
    parameter `name`; `allowed` names a view mask ("derivable") to restrict them to."""
    return {kind: torch.softmax(view.masked(view[name], getattr(view, allowed) if allowed
                                            else None), dim=-1)
            for kind, view in views.items()}


Table = Mapping[str | int, torch.Tensor]


@attrs.frozen
class Run:
    """How one forward runs the cells. Each table is keyed by cell kind; an entry keyed by a
    stage index (a cell's position in the network) overrides its kind's for that one cell,
    so that cells of one kind, which share their architecture parameters, may run
    differently.

      weights       (edges, candidates) mixing weights
      sampled       (edges,) the one candidate each edge runs, whose weight is one-hot; -1:
                    the edge is left out (a sampled topology)
      edge_weights  (edges,) a factor on each edge's output
      active        (edges, candidates) bool, may stay on the CPU: only the active
                    candidates run, each times its weight; an edge with none is left out
      node_terms    (nodes,) a value added to each intermediate node's state (zero in value
                    where a method adds straight-through gradients)
    """

    weights: Table = attrs.field(factory=dict)
    sampled: Table | None = None
    edge_weights: Table | None = None
    active: Table | None = None
    node_terms: Table | None = None

    def cell(self, stage: int, kind: str) -> CellRun:
        return CellRun(*(_entry(table, stage, kind) for table in (
            self.weights, self.sampled, self.edge_weights, self.active, self.node_terms)))


@attrs.frozen
class CellRun:
    """One cell's entries of a `Run`."""

    weights: torch.Tensor | None = None
    sampled: torch.Tensor | None = None
    edge_weights: torch.Tensor | None = None
    active: torch.Tensor | None = None
    node_terms: torch.Tensor | None = None


def _entry(table: Table | None, stage: int, kind: str):
    if not table:
        return None
    return table[stage] if stage in table else table.get(kind)
