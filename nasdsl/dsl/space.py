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

    @property
    def is_identity(self) -> bool:
        """The op outputs its input: no modules, or only identities."""
        return not self.is_zero and all(module.trivial for module in self.modules)


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
    (top None) or its `top` strongest incoming edges (one count for every intermediate node,
    or one per node); excluded ops are never chosen."""

    top: int | tuple[int, ...] | None = None
    exclude: tuple[str, ...] = ()

    def top_of(self, position: int) -> int | None:
        """How many inputs the rule keeps of the node at `position` among those with
        inputs (None: all of them)."""
        return self.top if self.top is None or isinstance(self.top, int) else self.top[position]


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

    Output "concat": the concatenation of the nodes `concat` lists (NASNet's and AmoebaNet's
    cells concatenate those no other node reads), or where it lists none of every
    intermediate node.

    Output "vertex": the last node is an output vertex that concatenates what its incoming
    edges bring, and is the cell's output (NAS-Bench-101's output). A `node_ops` kind is a
    cell whose nodes carry the choice (NAS-Bench-101's), written as a plain one: each of its
    vertices v (numbered as the text numbers them) is two nodes, `sum_node(v)` summing the
    vertex's input edges (its "wires") and `vertex_node(v)`, fed from the sum by one edge
    whose candidates are the vertex's ops; the output vertex is the last node. So every method
    and the simplifier see edges with candidates, nothing new. `max_edges` caps the wires a
    derived cell keeps (NAS-Bench-101's 9).
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
    node_ops: bool = False
    max_edges: int | None = None
    concat: tuple[int, ...] = ()  # the nodes `output concat` lists (none listed: all)

    @property
    def intermediate(self) -> range:
        return range(self.inputs, self.inputs + self.nodes)

    @property
    def concatenated(self) -> tuple[int, ...]:
        """The nodes `output concat` joins, in order: those it lists, else every
        intermediate node."""
        return self.concat or tuple(self.intermediate)

    def incoming(self, node: int) -> tuple[int, ...]:
        """Indices (into `edges`) of the searchable edges into `node`, in edge order."""
        return tuple(index for index, (_, dst, _) in enumerate(self.edges) if dst == node)

    def keeps(self, node: int) -> int | None:
        """How many incoming edges derivation keeps of `node` (None: all of them)."""
        return self.derive.top_of(node - self.inputs)

    # --- the vertices of a node_ops kind, as its text numbers them --------------------------

    @property
    def vertices(self) -> range:
        """The vertices with an op (its text's intermediate nodes)."""
        return range(self.inputs, self.inputs + (self.nodes - (self.output == "vertex")) // 2)

    @property
    def output_vertex(self) -> int:
        """The output vertex's number in the text (one past the last vertex)."""
        return self.vertices.stop

    def sum_node(self, vertex: int) -> int:
        """The node summing a vertex's wires; the output vertex is the last node (a plain
        kind's node is its own)."""
        if not self.node_ops:
            return vertex
        if vertex == self.output_vertex:
            return self.inputs + self.nodes - 1
        return self.inputs + 2 * (vertex - self.inputs)

    def vertex_node(self, vertex: int) -> int:
        """The node holding a vertex's output: an input, or the node after its sum."""
        return vertex if vertex < self.inputs or not self.node_ops else self.sum_node(vertex) + 1

    def vertex_of(self, node: int) -> int:
        """The vertex a node belongs to (its sum or its output)."""
        if node < self.inputs or not self.node_ops:
            return node
        if self.output == "vertex" and node == self.inputs + self.nodes - 1:
            return self.output_vertex
        return self.inputs + (node - self.inputs) // 2

    def is_wire(self, src: int, dst: int) -> bool:
        """Whether an edge joins two vertices: any edge but a node_ops vertex's op edge."""
        return not (self.node_ops and src >= self.inputs and (src - self.inputs) % 2 == 0
                    and dst == src + 1)

    @property
    def text_nodes(self) -> range:
        """The nodes with inputs as the cell's text numbers them: its vertices (and output
        vertex) for a node_ops kind, else its intermediate nodes."""
        if not self.node_ops:
            return self.intermediate
        return range(self.inputs, self.output_vertex + (self.output == "vertex"))

    def text_keeps(self) -> tuple[int | None, ...]:
        """How many inputs derivation keeps of each of `text_nodes` (None: every one)."""
        if not self.node_ops:
            return tuple(self.keeps(node) for node in self.intermediate)
        return tuple(self.keeps(self.sum_node(vertex)) for vertex in self.text_nodes)

    def in_text(self, src: int, dst: int) -> str:
        """An edge as the cell's text writes it: `s->d`, or `node v` for a vertex's op."""
        if not self.is_wire(src, dst):
            return f"node {self.vertex_of(dst)}"
        return f"{self.vertex_of(src)}->{self.vertex_of(dst)}"

    def place(self, src: int, dst: int) -> str:
        """One edge as the cell's text writes it: `edge 0->1`, or `node v` for a vertex's op."""
        return f"edge {self.in_text(src, dst)}" if self.is_wire(src, dst) \
            else self.in_text(src, dst)

    def places(self, pairs) -> str:
        """Edges given as (src, dst) pairs, as the cell's text writes them: `edges 0->1 1->2`,
        or `nodes 1 2` where they are all vertex ops."""
        written = [self.in_text(src, dst) for src, dst in pairs]
        if all(not self.is_wire(src, dst) for src, dst in pairs):
            return "nodes " + " ".join(str(self.vertex_of(dst)) for _, dst in pairs)
        return "edges " + " ".join(written)

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
        of its edges' choices, or where it keeps k inputs the sum over its k-sets of
        searchable edges of their products (the elementary symmetric polynomial e_k of the
        choices, computed in O(edges * k) rather than over every k-set)."""
        total = 1
        for node in self.intermediate:
            choices = [self.choices(self.edges[index]) for index in self.incoming(node)]
            top = self.keeps(node)
            if top is None:
                total *= math.prod(choices)
                continue
            sums = [1] + [0] * top  # sums[j]: over j-sets of the edges so far
            for choice in choices:
                for j in range(top, 0, -1):
                    sums[j] += sums[j - 1] * choice
            total *= sums[top] if choices else 1
        return total

    def projects_to_output(self, src: int, dst: int) -> bool:
        """Whether an edge joins an input to the output vertex, which adds what it brings
        to the vertices' concatenation: its ops give that concatenation's width."""
        return self.output == "vertex" and src < self.inputs and dst == self.intermediate[-1]

    def wires_into_output(self) -> int:
        """How many edges from vertices (not the cell's inputs) the output vertex
        concatenates, searchable or fixed."""
        last = self.inputs + self.nodes - 1
        return sum(1 for src, dst, _ in (*self.edges, *self.fixed)
                   if dst == last and src >= self.inputs)


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
        if self.kind.output == "vertex":
            return self.channels * self.kind.wires_into_output()
        return self.channels * (len(self.kind.concatenated) if self.kind.output == "concat"
                                else 1)

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
