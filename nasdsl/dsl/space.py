"""The IR of a checked space: concrete ops, cells and the macro network.

Where the syntax tree says what the text says, these classes say what it means: every name
resolved, every expression evaluated, every op placed at its stride and channels as a chain
of interned modules. Backends and the simplifier read only these.
"""

from __future__ import annotations

import math

import attrs

from nasdsl.dsl.modules import Module, is_zero_chain
from nasdsl.errors import NasError


@attrs.frozen
class Op:
    """A candidate operation placed on an edge: a chain of modules (empty for identity)."""

    name: str
    modules: tuple[Module, ...]

    @property
    def is_zero(self) -> bool:
        """The op outputs zeros whatever its input (see `modules.is_zero_chain`)."""
        return is_zero_chain(self.modules)


@attrs.frozen
class Edge:
    """A searchable edge: y = sum_i w_i op_i(x) over its candidates."""

    src: int
    dst: int
    stride: int
    candidates: tuple[Op, ...]


@attrs.frozen
class DeriveRule:
    """How a discrete architecture is read off the architecture weights: every edge of a node
    (top None) or its `top` strongest incoming edges; excluded ops are never chosen."""

    top: int | None = None
    exclude: tuple[str, ...] = ()


@attrs.frozen
class CellKind:
    """The channel-free shape of a cell: nodes, edges with their candidate names, rules.

    Nodes 0..inputs-1 are the cell's inputs, the next `nodes` are intermediate nodes. All
    cells of one kind share architecture parameters.

    `edges` are the searchable edges, those with several candidates: the search mixes and
    derives them, and architecture parameters have a row for each. `fixed` are the edges with
    one candidate: part of the network, not of the search; they always run, unweighted, are
    kept by every derived architecture and add nothing to the architecture count. Both keep
    the order of the cell's `edges` statement; a pair of nodes may be joined by several
    (parallel) fixed edges.

    A `layer` kind is one searchable layer of a macro space, `layer` naming the `layers`
    statement that made it: one input, one node, its edges from the input to the node;
    `residual` adds the input to the node (MobileNetV2's shortcut, outside the choice).
    """

    name: str
    inputs: int
    nodes: int
    edges: tuple[tuple[int, int, tuple[str, ...]], ...]
    combine: str = "sum"
    output: str = "last"
    reduction: bool = False
    derive: DeriveRule = DeriveRule()
    fixed: tuple[tuple[int, int, tuple[str, ...]], ...] = ()
    layer: str | None = None
    residual: bool = False

    @property
    def intermediate(self) -> range:
        return range(self.inputs, self.inputs + self.nodes)

    def incoming(self, node: int) -> tuple[int, ...]:
        """Indices (into `edges`) of the searchable edges into `node`, in edge order."""
        return tuple(index for index, (_, dst, _) in enumerate(self.edges) if dst == node)

    @property
    def layer_candidates(self) -> tuple[str, ...]:
        """A layer kind's candidates: those of its one edge, searchable or fixed."""
        return (self.edges or self.fixed)[0][2]

    def derivable(self, name: str) -> bool:
        """Whether derivation may choose the candidate `name` (not `derive ... exclude`d)."""
        return name not in self.derive.exclude

    def fixed_into(self, node: int) -> list[tuple[int, int, str]]:
        """The fixed edges into `node`, as (source, node, op)."""
        return [(src, dst, names[0]) for src, dst, names in self.fixed if dst == node]

    def choices(self, edge: tuple[int, int, tuple[str, ...]]) -> int:
        return sum(1 for name in edge[2] if self.derivable(name))

    def architecture_count(self) -> int:
        """Number of discrete cells the derivation rule can produce: per node, the product
        of its edges' choices, or with `top k` the sum over its k-sets of searchable edges of
        their products (the elementary symmetric polynomial e_k of the choices, computed in
        O(edges * k) rather than over every k-set)."""
        total = 1
        for node in self.intermediate:
            choices = [self.choices(self.edges[index]) for index in self.incoming(node)]
            if self.derive.top is None:
                total *= math.prod(choices)
                continue
            sums = [1] + [0] * self.derive.top  # sums[j]: over j-sets of the edges so far
            for choice in choices:
                for j in range(self.derive.top, 0, -1):
                    sums[j] += sums[j - 1] * choice
            total *= sums[self.derive.top] if choices else 1
        return total


@attrs.frozen
class Cell:
    """One cell of the network: a kind placed at channels and resolution, its searchable
    edges and its fixed ones (one candidate each) in the kind's orders."""

    kind: CellKind
    channels: int
    size: int
    preprocess: tuple[tuple[Module, ...], ...]
    edges: tuple[Edge, ...]
    fixed: tuple[Edge, ...] = ()
    # The channels the searched edges' ops run on: fewer than `channels` under partial
    # channel connections, the rest of the channels bypassing the edge's mix.
    edge_channels: int = attrs.field(
        default=attrs.Factory(lambda cell: cell.channels, takes_self=True))
    # The channels its inputs arrive at: the cell's, but for a layer of a macro space, whose
    # edges may change the channels (never under partial channel connections).
    input_channels: int = attrs.field(
        default=attrs.Factory(lambda cell: cell.channels, takes_self=True))

    @property
    def out_channels(self) -> int:
        return self.channels * (self.kind.nodes if self.kind.output == "concat" else 1)

    @property
    def out_size(self) -> int:
        return -(-self.size // 2) if self.kind.reduction else self.size

    def edge_input_channels(self, src: int) -> int:
        """The channels a searched edge from node `src` takes in: its input's where they
        differ from the cell's (a layer that changes them), else the edges' width."""
        if src < self.kind.inputs and self.input_channels != self.channels:
            return self.input_channels
        return self.edge_channels

    def node_size(self, node: int) -> int:
        """The resolution of a node's tensor: the cell's inputs (preprocessed) at `size`, the
        intermediate nodes at `out_size` (half of it in a reduction cell)."""
        return self.size if node < self.kind.inputs else self.out_size


@attrs.frozen
class Layer:
    """A fixed, unsearched part of the network: the stem, a layer between cells, the head."""

    role: str
    modules: tuple[Module, ...]


@attrs.frozen
class Network:
    name: str
    input_channels: int
    input_size: int
    classes: int
    stages: tuple[Layer | Cell, ...]

    @property
    def cells(self) -> tuple[Cell, ...]:
        return tuple(stage for stage in self.stages if isinstance(stage, Cell))


@attrs.frozen
class LoadSettings:
    """What a space was elaborated with besides its text (the arguments of `load`), and the
    width of its searched edges: their ops run on 1/`edge_divisor` of their cell's channels
    (partial channel connections; 1 for every space `load` returns)."""

    phase: str = "search"
    overrides: tuple[tuple[str, int | float], ...] = ()
    image: tuple[int, int] | None = None
    classes: int | None = None
    edge_divisor: int = 1


@attrs.frozen
class Space:
    """A checked search space: its cell kinds in order of first use and its network."""

    name: str
    file: str
    cell_kinds: tuple[CellKind, ...]
    network: Network | None
    warnings: tuple[NasError, ...] = ()
    # The parsed files it came from, imports first and the root last, and the settings it was
    # elaborated with: what a derived .nas file is written from, what re-elaboration reuses.
    programs: tuple = attrs.field(default=(), eq=False, repr=False)
    settings: LoadSettings = attrs.field(default=LoadSettings(), eq=False, repr=False)

    def architecture_count(self) -> int:
        return math.prod(kind.architecture_count() for kind in self.cell_kinds)
