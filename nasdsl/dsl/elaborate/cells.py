"""Cells: a cell definition's statements as a cell kind, and a kind placed in the network
at its channels and resolution."""

from __future__ import annotations

import attrs

from nasdsl.dsl import syntax as S
from nasdsl.dsl.elaborate.chains import ChainExpander
from nasdsl.dsl.elaborate.ops import OpPlacer
from nasdsl.dsl.elaborate.scope import Scope, keyword_of, names_hint
from nasdsl.dsl.limits import MAX_CANDIDATES, MAX_EDGES, MAX_INPUTS, MAX_NODES
from nasdsl.dsl.modules import KernelSize, strides_apart
from nasdsl.dsl.space import Cell, CellKind, DeriveRule, Edge, Op
from nasdsl.errors import Location, did_you_mean

COMBINE_RULES = ("sum",)
OUTPUT_RULES = ("last", "concat", "vertex")


class CellBuilder:
    """Checks a cell definition into a `CellKind` and places kinds as network stages."""

    def __init__(self, scope: Scope, expander: ChainExpander, placer: OpPlacer):
        self.scope = scope
        self.error = scope.error
        self.expander = expander
        self.placer = placer

    def cell_kind(self, cell: S.CellDef) -> CellKind:
        """Check a cell's statements and return its channel-free shape."""
        seen: dict[type, S.CellStmt] = {}
        for stmt in cell.body:
            key = (type(stmt), getattr(stmt, "reduced", None))
            if not isinstance(stmt, (S.EdgeOverride, S.NodeOverride)) and key in seen:
                self.error(f"cell '{cell.name}' has two '{keyword_of(stmt)}' statements", stmt.at,
                           f"the first is at {seen[key].at}")
            seen.setdefault(key, stmt)
        get = lambda cls, reduced=None: seen.get((cls, reduced))  # noqa: E731
        inputs = self.count_stmt(get(S.Inputs), 1, "inputs", MAX_INPUTS)
        nodes = self.count_stmt(get(S.Nodes), None, "nodes", MAX_NODES, cell) or 0
        overrides = [stmt for stmt in cell.body if isinstance(stmt, S.NodeOverride)]
        on_nodes = get(S.NodeOps) is not None or bool(overrides)
        output = self.output_rule(get(S.Output), on_nodes, cell)
        # The output vertex of `output vertex` is one node past the cell's `nodes`.
        nodes_written = nodes + (output == "vertex")
        candidates_stmt = get(S.Candidates)
        candidates = self.candidate_names(candidates_stmt.ops) if candidates_stmt else ()
        every = self.cell_edges(cell, get(S.Edges), inputs, nodes_written, candidates)
        # Without a `candidates` statement every edge needs its own `edge s -> d:` statement.
        bare = [(src, dst) for src, dst, names in every if not names]
        if candidates_stmt is None and (bare or not every):
            where = f" for edge {bare[0][0]} -> {bare[0][1]}" if bare else ""
            self.error(f"cell '{cell.name}' has no candidate set{where}", cell.at,
                       "add 'candidates op1, op2, ...', or an 'edge s -> d: ...' statement "
                       "for every edge")
        vertex_ops = self.vertex_ops(cell, get(S.NodeOps), overrides, inputs, nodes) \
            if on_nodes else {}
        combine = self.rule(get(S.Combine), COMBINE_RULES, "combine")
        derive = self.derive_rule(get(S.Derive), cell, every, inputs, nodes_written,
                                  tuple(vertex_ops.values()))
        max_edges = self.max_edges(get(S.MaxEdges), cell, every, derive, inputs, nodes_written)
        concat = self.concat_nodes(get(S.Output), output, cell, inputs, nodes, every)
        kind = CellKind(cell.name, inputs, nodes, (), combine, output,
                        get(S.Reduction) is not None, derive, node_ops=on_nodes,
                        max_edges=max_edges, concat=concat)
        if on_nodes:
            kind = lowered(kind, every, vertex_ops)
            if output == "vertex" and not kind.wires_into_output():
                self.error(f"the output vertex {inputs + nodes} of cell '{cell.name}' has no "
                           "edge from a vertex: it concatenates what vertices bring",
                           get(S.Output).at, f"add an edge v -> {inputs + nodes}")
            elif output == "vertex" and not self.keeps_a_vertex_wire(kind):
                self.error(f"'derive top' may leave the output vertex {inputs + nodes} of cell "
                           f"'{cell.name}' with only edges from the cell's inputs: it "
                           "concatenates what vertices bring", get(S.Derive).at,
                           "let it keep more inputs than it has edges from the cell's inputs")
        else:
            edges, fixed = split_fixed(every)
            kind = attrs.evolve(kind, edges=edges, fixed=fixed)
        return kind

    @staticmethod
    def keeps_a_vertex_wire(kind: CellKind) -> bool:
        """Whether every derived cell keeps a wire from a vertex into the output vertex: a
        fixed one, or more kept inputs than searchable wires from the cell's inputs."""
        last = kind.intermediate[-1]
        if kind.keeps(last) is None or any(src >= kind.inputs
                                            for src, _, _ in kind.fixed_into(last)):
            return True
        from_inputs = sum(1 for src, dst, _ in kind.edges if dst == last and src < kind.inputs)
        return kind.keeps(last) > from_inputs

    def output_rule(self, stmt, on_nodes: bool, cell: S.CellDef) -> str:
        output = self.rule(stmt, OUTPUT_RULES, "output")
        if output == "vertex" and not on_nodes:
            self.error("'output vertex' is the output of a cell whose nodes carry the ops",
                       stmt.at, "add a 'node_ops' statement, or use 'output last' or "
                       "'output concat'")
            return "last"
        if output == "concat" and on_nodes:
            self.error(f"cell '{cell.name}' has 'node_ops' and 'output concat'", stmt.at,
                       "a cell whose nodes carry the ops ends with 'output vertex' (a vertex "
                       "concatenating the vertices wired to it) or 'output last'")
            return "vertex"  # what a concatenating node_ops cell means: checked as that
        return output

    def concat_nodes(self, stmt, output: str, cell: S.CellDef, inputs: int, nodes: int,
                     every) -> tuple[int, ...]:
        """The nodes `output concat 4, 5, 6` lists, checked: intermediate nodes, each once.
        A node that is neither listed nor read by another node computes nothing the cell
        gives: a warning."""
        if stmt is None or not stmt.nodes:
            return ()
        if output != "concat":
            self.error(f"'output {output}' takes no list of nodes", stmt.nodes[0].at,
                       "only 'output concat' lists the nodes it concatenates")
            return ()
        listed: list[int] = []
        for number in stmt.nodes:
            node = number.value
            if not inputs <= node < inputs + nodes:
                self.error(f"'output concat' lists node {node}, which is not an intermediate "
                           f"node of cell '{cell.name}' ({inputs}..{inputs + nodes - 1})",
                           number.at)
            elif node in listed:
                self.error(f"'output concat' lists node {node} twice", number.at)
            else:
                listed.append(node)
        read = {src for src, _, _ in every}
        unused = [node for node in range(inputs, inputs + nodes)
                  if node not in listed and node not in read]
        if listed and unused:
            several = len(unused) > 1
            self.scope.warning(f"node{'s' * several} {', '.join(map(str, unused))} of cell "
                               f"'{cell.name}' {'are' if several else 'is'} neither "
                               "concatenated nor read by another node: computed for nothing",
                               stmt.at, "list it in 'output concat', or leave its edges out")
        return tuple(listed)

    def vertex_ops(self, cell, stmt, overrides, inputs: int, nodes: int
                   ) -> dict[int, tuple[str, ...]]:
        """Each vertex's op candidates: its `node v:` statement's, else `node_ops`'."""
        ops: dict[int, tuple[str, ...]] = {}
        for override in overrides:
            if not inputs <= override.node < inputs + nodes:
                self.error(f"node {override.node} of cell '{cell.name}' is not a node with an op "
                           f"({inputs}..{inputs + nodes - 1})", override.at)
            elif override.node in ops:
                self.error(f"cell '{cell.name}' has two 'node {override.node}:' statements",
                           override.at)
            else:
                ops[override.node] = self.candidate_names(override.ops)
        default = self.candidate_names(stmt.ops) if stmt is not None else ()
        for vertex in range(inputs, inputs + nodes):
            ops.setdefault(vertex, default)
            if not ops[vertex]:
                self.error(f"node {vertex} of cell '{cell.name}' has no op candidates", cell.at,
                           f"add 'node_ops op1, op2, ...' or 'node {vertex}: ...'")
        return dict(sorted(ops.items()))

    def count_stmt(self, stmt, default, keyword: str, limit: int,
                   cell: S.CellDef | None = None) -> int | None:
        if stmt is None:
            if default is None:
                self.error(f"cell '{cell.name}' needs a '{keyword}' statement", cell.at)
            return default
        if stmt.count < 1:
            self.error(f"'{keyword}' must be at least 1, not {stmt.count}", stmt.at)
            return default or 1
        if stmt.count > limit:
            self.error(f"'{keyword} {stmt.count}' is more than {limit}, the limit of a cell",
                       stmt.at)
            return default or 1
        return stmt.count

    def candidate_names(self, refs: tuple[S.Ref, ...]) -> tuple[str, ...]:
        names: dict[str, None] = {}
        if len(refs) > MAX_CANDIDATES:
            self.error(f"{len(refs)} candidates are more than {MAX_CANDIDATES}, the limit of an "
                       "edge", refs[MAX_CANDIDATES].at)
            refs = refs[:MAX_CANDIDATES]
        ops = self.scope.ops
        for ref in refs:
            if ref.name not in ops:
                self.error(f"unknown op '{ref.name}'", ref.at,
                           did_you_mean(ref.name, ops) or names_hint(ops, "ops"))
            elif ref.name in names:
                self.error(f"op '{ref.name}' is listed twice", ref.at)
            else:
                self.scope.used.add(ref.name)
                names[ref.name] = None
        return tuple(names)

    def cell_edges(self, cell, stmt, inputs, nodes, candidates):
        """Every edge of the cell with its candidate names, in the order of its `edges`
        statement. A pair listed k times there is k parallel edges (NASNet's cells take two
        ops from one input); its `edge s -> d:` statements give the copies their candidates
        in order, and each copy must end with one candidate: parallel edges are fixed."""
        last = inputs + nodes - 1
        refs: list[S.EdgeRef | None] = []
        if stmt is not None and stmt.edges is not None and len(stmt.edges) > MAX_EDGES:
            self.error(f"{len(stmt.edges)} edges are more than {MAX_EDGES}, the limit of a cell",
                       stmt.edges[MAX_EDGES].at)
            stmt = attrs.evolve(stmt, edges=stmt.edges[:MAX_EDGES])
        if stmt is None or stmt.edges is None:
            pairs = [(src, dst) for dst in range(inputs, last + 1) for src in range(dst)]
            if len(pairs) > MAX_EDGES:
                self.error(f"'edges all' makes {len(pairs):,} edges, more than {MAX_EDGES}, the "
                           "limit of a cell", stmt.at if stmt is not None else cell.at,
                           "list fewer edges, or give the cell fewer nodes")
                pairs = pairs[:MAX_EDGES]
            refs = [None] * len(pairs)
        else:
            pairs = []
            for ref in stmt.edges:
                if ref.dst < inputs or ref.dst > last:
                    self.error(f"edge {ref.src} -> {ref.dst} goes to node {ref.dst}, which is not "
                               f"an intermediate node ({inputs}..{last})", ref.at)
                elif ref.src >= ref.dst:
                    self.error(f"edge {ref.src} -> {ref.dst} goes backwards: a cell is acyclic, "
                               "so edges go from a lower node number to a higher one", ref.at)
                else:
                    pairs.append((ref.src, ref.dst))
                    refs.append(ref)
            for dst in range(inputs, last + 1):
                if not any(pair[1] == dst for pair in pairs):
                    self.error(f"node {dst} of cell '{cell.name}' has no incoming edge", stmt.at)
        sets = [candidates] * len(pairs)
        given: dict[tuple[int, int], int] = {}
        for override in cell.body:
            if not isinstance(override, S.EdgeOverride):
                continue
            pair = (override.edge.src, override.edge.dst)
            copies = [index for index, other in enumerate(pairs) if other == pair]
            count = given[pair] = given.get(pair, 0) + 1
            if not copies:
                self.error(f"edge {pair[0]} -> {pair[1]} is not an edge of cell "
                           f"'{cell.name}'", override.edge.at)
            elif count > len(copies):
                times = "once" if len(copies) == 1 else f"{len(copies)} times"
                self.error(f"edge {pair[0]} -> {pair[1]} is listed {times} in 'edges' but this is "
                           f"'edge {pair[0]} -> {pair[1]}:' statement {count}", override.edge.at,
                           "list the pair in 'edges' once for each parallel edge")
            else:
                sets[copies[count - 1]] = self.candidate_names(override.ops)
        for index, pair in enumerate(pairs):
            repeated = pairs.count(pair) > 1
            if repeated and len(sets[index]) != 1 and pairs.index(pair) == index:
                self.error(f"edge {pair[0]} -> {pair[1]} is listed {pairs.count(pair)} times: "
                           "parallel edges are fixed, with one op each", refs[index].at,
                           f"give each copy its op with an 'edge {pair[0]} -> {pair[1]}: op' "
                           "statement, or list the pair once")
        return tuple((src, dst, names) for (src, dst), names in zip(pairs, sets))

    def rule(self, stmt, known: tuple[str, ...], keyword: str) -> str:
        if stmt is None:
            return known[0]
        if stmt.rule.name not in known:
            self.error(f"unknown {keyword} rule '{stmt.rule.name}'", stmt.rule.at,
                       did_you_mean(stmt.rule.name, known) or names_hint(known, "rules"))
            return known[0]
        return stmt.rule.name

    def derive_rule(self, stmt, cell, every, inputs, nodes, node_choices=()) -> DeriveRule:
        """The `derive` statement checked against the cell's edges (`every`, with their
        candidates, fixed ones too) and the candidate sets of its nodes' ops, if any."""
        if stmt is None:
            return DeriveRule()
        exclude = tuple(ref.name for ref in stmt.exclude)
        searched = [edge for edge in every if len(edge[2]) != 1]
        sets = [names for names in node_choices if len(names) != 1]
        names = {name for ops in (*(edge[2] for edge in searched), *sets) for name in ops}
        for ref in stmt.exclude:
            if names and ref.name not in names:  # no names: the missing candidates are reported
                self.error(f"excluded op '{ref.name}' is not a candidate of cell '{cell.name}'",
                           ref.at, did_you_mean(ref.name, names))
        for src, dst, ops in searched:
            if ops and all(name in exclude for name in ops):
                self.error(f"edge {src} -> {dst} of cell '{cell.name}' has no candidate left "
                           "after 'exclude'", stmt.at)
        for vertex, ops in enumerate(node_choices, start=inputs):
            if len(ops) > 1 and all(name in exclude for name in ops):
                self.error(f"node {vertex} of cell '{cell.name}' has no op left after "
                           "'exclude'", stmt.at)
        if stmt.top is None:
            return DeriveRule(None, exclude)
        tops = stmt.top if isinstance(stmt.top, tuple) else (stmt.top,) * nodes
        if len(tops) != nodes:
            self.error(f"'derive top' gives {len(tops)} counts but cell '{cell.name}' has "
                       f"{nodes} nodes with inputs ({inputs}..{inputs + nodes - 1})", stmt.at,
                       "give one count for every node, or one for all of them")
            return DeriveRule(None, exclude)
        for node, top in zip(range(inputs, inputs + nodes), tops):
            count = sum(1 for edge in searched if edge[1] == node)
            pinned = sum(1 for edge in every if edge[1] == node) - count
            if top < 1:
                self.error(f"'derive top' must keep at least 1 input, not {top}", stmt.at)
                break
            if 0 < count < top:  # a node without edges is reported with the edges
                what = "searchable incoming edge" if pinned else "incoming edge"
                self.error(f"'derive top {top}' but node {node} of cell '{cell.name}' "
                           f"has {count} {what}{'s' if count != 1 else ''}", stmt.at,
                           f"its {pinned} fixed edge{'s' if pinned != 1 else ''} (one op "
                           f"each) {'are' if pinned != 1 else 'is'} kept besides the "
                           f"{top} derived" if pinned else "")
                break
        return DeriveRule(stmt.top if isinstance(stmt.top, int) else tops, exclude)

    def max_edges(self, stmt, cell, every, derive: DeriveRule, inputs, nodes) -> int | None:
        """`max_edges`, checked against the most edges the derivation rule can keep: every
        edge under `derive all`, else per node its fixed edges and its `top` searchable
        ones. Derivation then respects it by construction."""
        if stmt is None:
            return None
        kept = 0
        for position, node in enumerate(range(inputs, inputs + nodes)):
            into = [edge for edge in every if edge[1] == node]
            searched = sum(1 for edge in into if len(edge[2]) != 1)
            top = derive.top_of(position)
            kept += len(into) - searched + (searched if top is None else min(top, searched))
        if kept > stmt.count:
            rule = "'derive all' keeps every edge" if derive.top is None else \
                "each node's fixed edges and its 'derive top' ones"
            self.error(f"cell '{cell.name}' may keep {kept} edges ({rule}) but "
                       f"'max_edges {stmt.count}' allows {stmt.count}", stmt.at,
                       "keep fewer inputs per node with 'derive top', or list fewer edges")
        return stmt.count

    def place_cell(self, kind: CellKind, definition: S.CellDef, channels: int,
                   arriving: list[tuple[int, int]], at) -> Cell | None:
        """A cell of `kind` at `channels`, fed by the (channels, size) of its inputs."""
        size = arriving[-1][1]
        preprocess = []
        input_channels = channels  # what the edges from the inputs take in
        stmts = {getattr(s, "reduced", None): s for s in definition.body
                 if isinstance(s, S.Preprocess)}
        for index, (c_in, s_in) in enumerate(arriving):
            if s_in not in (size, 2 * size):
                self.error(f"input {index} of cell '{kind.name}' arrives at resolution {s_in} but "
                           f"the cell works at {size}: a cell takes inputs at its resolution "
                           "or at twice it (which 'preprocess_reduced' halves), not others", at,
                           "give the cell fewer inputs: each may come from at most one "
                           "reduction back")
                return None
            stmt = stmts.get(s_in != size)
            if s_in != size and stmt is None:
                self.error(f"input {index} of cell '{kind.name}' arrives at resolution {s_in} but "
                           f"the cell works at {size}", at,
                           "add 'preprocess_reduced factorized_reduce' to the cell")
                return None
            if stmt is None:
                # The edges from a node_ops cell's one input may change the channels, as a
                # layer's do (NAS-Bench-101's cells project their input on each edge).
                if c_in != channels and not (kind.node_ops and kind.inputs == 1):
                    self.error(f"cell '{kind.name}' at {channels} channels receives {c_in} "
                               f"channels on input {index}", at,
                               "add a 'preprocess' statement to the cell or a layer before it")
                    return None
                input_channels = c_in
                preprocess.append(())
                continue
            state = self.expander.chain_state(c_in, channels, in_cell=True)
            if not self.expander.expand(stmt.body, {}, state):
                return None
            if state.stride_done != KernelSize(s_in // size):
                reached = KernelSize(*(-(-s_in // done) for done in state.stride_done))
                self.error(f"'{keyword_of(stmt)}' of cell '{kind.name}' brings input {index} from "
                           f"resolution {s_in} to {reached[0] if reached.square else reached} "
                           f"where the cell works at {size}", stmt.at)
                return None
            if state.placement.channels != channels:
                self.error(f"'{keyword_of(stmt)}' of cell '{kind.name}' turns {c_in} channels into "
                           f"{state.placement.channels} where the cell needs {channels}", stmt.at)
                return None
            preprocess.append(tuple(state.modules))
        divisor = self.scope.settings.edge_divisor
        if channels % divisor and kind.edges:
            self.error(f"cell '{kind.name}' at {channels} channels cannot send 1/{divisor} "
                       "of them through its edges", at,
                       "partial channel connections need channels divisible by K")
            return None
        c_in = input_channels
        # Partial channel connections belong to the search: fixed edges run at full width.
        placed: dict[bool, list[Edge]] = {True: [], False: []}
        for searched, listed in ((True, kind.edges), (False, kind.fixed)):
            width = channels // divisor if searched else channels
            for src, dst, names in listed:
                stride = 2 if kind.reduction and src < kind.inputs else 1
                takes = c_in if src < kind.inputs and c_in != channels else width
                gives = self.edge_width(kind, dst, src, width)
                if searched and divisor != 1 and (takes, gives) != (width, width):
                    full = self.edge_width(kind, dst, src, channels)
                    self.error(f"{kind.place(src, dst)} of cell "
                               f"'{kind.name}' takes {takes if takes != width else channels} "
                               f"channels to {full}: partial channel connections (1/{divisor} "
                               "of the channels through the mix) need edges that keep their "
                               "channels",
                               at, "search this space with every channel through the mix (K = 1)")
                    return None
                ops = [self.placer.place_op(self.scope.ops[name], stride, takes,
                                            _ref_at(definition, name), gives,
                                            kind.place(src, dst)) for name in names]
                if any(op is None for op in ops) or searched and not all(
                        self.searchable(op, f"{kind.place(src, dst)} of cell '{kind.name}'",
                                        _ref_at(definition, op.name)) for op in ops):
                    return None
                placed[searched].append(Edge(src, dst, stride, tuple(ops)))
        return Cell(kind, channels, size, tuple(preprocess), tuple(placed[True]),
                    tuple(placed[False]), channels // divisor, c_in)

    def searchable(self, op: Op, place: str, at) -> bool:
        """Whether `op` may be a candidate of a searchable edge at `place`, else False after
        saying why: the simplifier and its cost model reason on square feature maps, which a
        module striding its axes apart does not give."""
        module = strides_apart(op.modules)
        if module is None:
            return True
        self.error(f"op '{op.name}' strides its axes apart ({module}) on {place}, a searchable "
                   "edge", at, "per-axis strides go on fixed edges (one op), stems and layers: "
                   "the simplifier reasons on square feature maps")
        return False

    @staticmethod
    def edge_width(kind: CellKind, dst: int, src: int, width: int) -> int:
        """The channels an edge gives: its width, but for an edge from an input to the
        output vertex, which it joins by addition, that of the vertices' concatenation."""
        if kind.projects_to_output(src, dst):
            return width * kind.wires_into_output()
        return width


def split_fixed(edges):
    """The searchable edges (several candidates) and the fixed ones (one), each in order."""
    return (tuple(edge for edge in edges if len(edge[2]) != 1),
            tuple(edge for edge in edges if len(edge[2]) == 1))


def lowered(kind: CellKind, wires, vertex_ops: dict[int, tuple[str, ...]]) -> CellKind:
    """A `node_ops` kind as a plain one (see `CellKind`): `kind` has the text's `nodes` and
    derivation rule, `wires` are the edges between the text's vertices."""
    shape = attrs.evolve(kind, nodes=2 * kind.nodes + (kind.output == "vertex"))
    edges = [(shape.vertex_node(src), shape.sum_node(dst), names) for src, dst, names in wires]
    edges += [(shape.sum_node(v), shape.sum_node(v) + 1, ops) for v, ops in vertex_ops.items()]
    edges.sort(key=lambda edge: edge[1])  # stable: each node's wires in the text's order
    top = kind.derive.top
    if top is not None:
        tops = (top,) * (kind.nodes + (kind.output == "vertex")) if isinstance(top, int) else top
        per_node = [count for vertex_top in tops[:kind.nodes] for count in (vertex_top, 1)]
        top = tuple(per_node + list(tops[kind.nodes:]))
    searched, fixed = split_fixed(edges)
    return attrs.evolve(shape, edges=searched, fixed=fixed,
                        derive=attrs.evolve(kind.derive, top=top))


def _ref_at(cell: S.CellDef, name: str) -> Location | None:
    for stmt in cell.body:
        for ref in getattr(stmt, "ops", ()):
            if ref.name == name:
                return ref.at
    return cell.at

