"""Derived architectures: from mixing weights to a discrete cell per cell kind, and the
formats researchers exchange them in (NAS-Bench-201 arch strings, DARTS genotypes, .nas).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Mapping, Sequence

import attrs

from nasdsl.dsl import syntax as S
from nasdsl.dsl.elaborate import load
from nasdsl.dsl.elaborate.layers import split_layers
from nasdsl.dsl.printer import print_program
from nasdsl.dsl.space import CellKind, Space
from nasdsl.errors import NasError, NasErrors, did_you_mean


@attrs.frozen
class DerivedCell:
    """The edges kept in one cell kind, each with its one op, in derivation order: node by
    node, each node's fixed edges first, then its derived ones."""

    kind: str
    edges: tuple[tuple[int, int, str], ...]


@attrs.frozen
class Architecture:
    cells: tuple[DerivedCell, ...]

    def cell(self, kind: str) -> DerivedCell:
        return next(cell for cell in self.cells if cell.kind == kind)


def derive_cell(kind: CellKind, weights: Sequence[Sequence[float]]) -> DerivedCell:
    """Read one cell off its mixing weights (rows: searchable edges, columns: candidates).

    Every edge keeps its strongest op (`derive all`, NB201), or each node keeps the `top`
    incoming edges whose strongest allowed op is strongest, with that op (DARTS's rule).
    Excluded ops are never chosen; ties go to the earlier candidate, then the earlier edge.
    Fixed edges are kept as they are, besides the `top` derived ones.
    """
    return cell_of(kind, _strongest(kind, weights), limit=True)


def derived_columns(kind: CellKind, weights: Sequence[Sequence[float]]) -> list[int]:
    """Per searchable edge, the column of the candidate `derive_cell` keeps on it, or -1
    where it leaves the edge out: the derived cell as a path through the supernet."""
    columns = [-1] * len(kind.edges)
    for index, name in _kept(kind, _strongest(kind, weights), limit=True):
        columns[index] = kind.edges[index][2].index(name)
    return columns


def _strongest(kind: CellKind, weights: Sequence[Sequence[float]]):
    def strongest(index: int, names: tuple[str, ...]) -> tuple[float, str]:
        allowed = [(float(weights[index][k]), -k, name) for k, name in enumerate(names)
                   if kind.derivable(name)]
        strength, _, name = max(allowed)
        return strength, name
    return strongest


def cell_of(kind: CellKind, pick: Callable[[int, tuple[str, ...]], tuple[float, str] | None],
            limit: bool) -> DerivedCell:
    """The cell whose nodes take their fixed edges and the searchable edges `pick` keeps (it
    gives an edge's strength and op from the edge's index and candidate names, or None to
    leave the edge out): per node in edge order where the kind derives every edge, else
    strongest first (ties to the earlier edge), and with `limit` at most as many as the
    kind's rule keeps of the node."""
    kept = dict(_kept(kind, pick, limit))
    chosen = []
    for node in kind.intermediate:
        chosen += kind.fixed_into(node)
        chosen += [(kind.edges[index][0], node, kept[index]) for index in kept
                   if kind.edges[index][1] == node]
    return DerivedCell(kind.name, tuple(chosen))


def _kept(kind: CellKind, pick, limit: bool) -> list[tuple[int, str]]:
    """(edge index, op) of the searchable edges `cell_of` keeps, node by node, in its order."""
    kept = []
    for node in kind.intermediate:
        ranked = []
        for index, (src, dst, names) in enumerate(kind.edges):
            picked = pick(index, names) if dst == node else None
            if picked is not None:
                ranked.append((picked[0], -index, picked[1]))
        if kind.derive.top is None:
            ranked.sort(key=lambda item: -item[1])
        else:
            ranked = sorted(ranked, reverse=True)[:kind.keeps(node) if limit else None]
        kept += [(-minus_index, name) for _, minus_index, name in ranked]
    return kept


def stand_in_op(kind: CellKind, index: int, strengths: Sequence[float],
                zero: Sequence[bool]) -> int:
    """The candidate that stands for searchable edge `index` where a method keeps none of
    its candidates but the kind keeps every edge: its zero candidate (`none`), else its
    strongest allowed one."""
    if any(zero):
        return list(zero).index(True)
    names = kind.edges[index][2]
    allowed = [(value, -k) for k, value in enumerate(strengths) if kind.derivable(names[k])]
    return -max(allowed)[1]


def derive(space: Space, weights: Mapping[str, Sequence[Sequence[float]]]) -> Architecture:
    return Architecture(tuple(derive_cell(kind, weights.get(kind.name, ()))
                              for kind in space.cell_kinds))


# --- NAS-Bench-201 arch strings ----------------------------------------------------------------

def to_nb201(arch: Architecture) -> str:
    """`|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`: per node, its incoming edges by source."""
    (cell,) = arch.cells
    nodes = sorted({dst for _, dst, _ in cell.edges})
    return "+".join(
        "|" + "|".join(f"{op}~{src}" for src, dst, op in sorted(cell.edges) if dst == node) + "|"
        for node in nodes)


def from_nb201(text: str, kind: str = "cell") -> Architecture:
    nodes = text.strip().split("+")
    edges = []
    for node, part in enumerate(nodes, start=1):
        if not re.fullmatch(r"\|([A-Za-z0-9_]+~\d+\|)+", part):
            raise NasError(f"not a NAS-Bench-201 arch string: {text!r}",
                           hint="expected e.g. |nor_conv_3x3~0|+|none~0|skip_connect~1|+|...|")
        for item in part.strip("|").split("|"):
            op, src = item.rsplit("~", 1)
            edges.append((int(src), node, op))
    return Architecture((DerivedCell(kind, tuple(edges)),))


# --- DARTS genotypes ------------------------------------------------------------------------

def to_genotype(arch: Architecture, space: Space) -> str:
    """A DARTS Genotype string: per cell kind, (op, source) pairs in derivation order.

    A space of at most one normal and one reduction cell kind takes DARTS's own form,
    `Genotype(normal=[...], normal_concat=[...], reduce=[...], reduce_concat=[...])`. Any
    other space keys its cells by kind name: `Genotype(cells={'a': [...], 'b': [...]},
    concat={'a': [...], 'b': [...]})`. Where a node keeps another number of inputs than the
    derivation rule's (a learned topology, EnTranNAS-DST), a cell's pairs are listed per node:
    `[[('op', 0), ...], [...], ...]`, one list per intermediate node."""
    pairs, concat = {}, {}
    for cell in arch.cells:
        kind = _kind(space, cell.kind)
        pairs[kind.name] = _pairs_text(cell, kind)
        concat[kind.name] = list(kind.concatenated) if kind.output == "concat" \
            else [kind.intermediate[-1]]
    if not darts_form(space):
        cells = ", ".join(f"{name!r}: [{text}]" for name, text in pairs.items())
        concats = ", ".join(f"{name!r}: {value}" for name, value in concat.items())
        return f"Genotype(cells={{{cells}}}, concat={{{concats}}})"
    parts = []
    for cell in arch.cells:
        role = _role(_kind(space, cell.kind))
        parts.append(f"{role}=[{pairs[cell.kind]}], {role}_concat={concat[cell.kind]}")
    return f"Genotype({', '.join(parts)})"


def darts_form(space: Space) -> bool:
    """Whether the space's genotypes take DARTS's form: one normal and one reduction cell
    kind at most, so that `normal` and `reduce` name them."""
    roles = [_role(kind) for kind in space.cell_kinds]
    return roles.count("normal") <= 1 and roles.count("reduce") <= 1


def _role(kind: CellKind) -> str:
    return "reduce" if kind.reduction else "normal"


def _kind(space: Space, name: str) -> CellKind:
    return next(k for k in space.cell_kinds if k.name == name)


def _pairs_text(cell: DerivedCell, kind: CellKind) -> str:
    if _fixed_in_degree(cell, kind):
        return ", ".join(f"('{op}', {src})" for src, _, op in cell.edges)
    return ", ".join(
        "[" + ", ".join(f"('{op}', {src})" for src, dst, op in cell.edges if dst == node)
        + "]" for node in kind.intermediate)


_GENOTYPE_HINT = ("expected Genotype(normal=[('sep_conv_3x3', 0), ...], normal_concat=[2, 3, 4, "
                  "5], reduce=[...], reduce_concat=[...]), or for a space of more cell kinds "
                  "Genotype(cells={'kind': [...], ...}, concat={...})")


def from_genotype(text: str, space: Space) -> Architecture:
    """Read a DARTS Genotype string back, in either form (see `to_genotype`); each node's
    pairs come in order, `top` a node, or per node in lists."""
    try:
        call = ast.parse(text.strip(), mode="eval").body
        fields = {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords}
    except (SyntaxError, ValueError, AttributeError, TypeError):
        raise NasError(f"not a DARTS genotype: {text[:60]!r}", hint=_GENOTYPE_HINT) from None
    if "cells" in fields:
        by_kind = fields["cells"]
    elif darts_form(space):
        by_kind = {kind.name: fields.get(_role(kind)) for kind in space.cell_kinds}
    else:
        names = ", ".join(kind.name for kind in space.cell_kinds)
        raise NasError(f"this space has the cell kinds {names}: its genotypes name each kind",
                       hint="Genotype(cells={'kind': [('op', input), ...], ...}, concat={...})")
    if not isinstance(by_kind, dict):
        raise NasError(f"not a DARTS genotype: {text[:60]!r}", hint=_GENOTYPE_HINT)
    cells = []
    for kind in space.cell_kinds:
        pairs = by_kind.get(kind.name)
        if isinstance(pairs, list) and pairs and all(isinstance(p, list) for p in pairs):
            cells.append(_cell_per_node(kind, pairs))
            continue
        feeds = _flat_nodes(kind)
        if not isinstance(pairs, list) or len(pairs) != len(feeds) or not all(
                _is_pair(pair) for pair in pairs):
            raise NasError(f"the genotype does not fit cell '{kind.name}': expected "
                           f"{len(feeds)} (op, input) pairs")
        edges = tuple((src, node, op) for node, (op, src) in zip(feeds, pairs))
        cells.append(DerivedCell(kind.name, edges))
    arch = Architecture(tuple(cells))
    check_architecture(space, arch, "the genotype")
    return arch


def _is_pair(pair) -> bool:
    return (isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[0], str)
            and isinstance(pair[1], int) and not isinstance(pair[1], bool))


def _fixed_in_degree(cell: DerivedCell, kind: CellKind) -> bool:
    """Each node keeps the rule's number of inputs, listed node after node: a flat list of
    pairs then says which node each pair feeds."""
    return [dst for _, dst, _ in cell.edges] == _flat_nodes(kind)


def _flat_nodes(kind: CellKind) -> list[int]:
    """The node each pair of a flat list feeds: each node as many times as the rule keeps
    inputs of it (once where it keeps every edge)."""
    return [dst for dst in kind.intermediate for _ in range(kind.keeps(dst) or 1)]


def _cell_per_node(kind: CellKind, nodes: list) -> DerivedCell:
    """A cell read from per-node lists of (op, source) pairs."""
    if len(nodes) != kind.nodes:
        raise NasError(f"the genotype does not fit cell '{kind.name}': expected "
                       f"{kind.nodes} lists of (op, input) pairs, one per node")
    edges = []
    for node, pairs in zip(kind.intermediate, nodes):
        for pair in pairs:
            if not (_is_pair(pair) and 0 <= pair[1] < node):
                raise NasError(f"the genotype does not fit cell '{kind.name}': node {node} has "
                               f"the pair {pair!r}, not an (op, earlier node) pair")
            edges.append((pair[1], node, pair[0]))
    return DerivedCell(kind.name, tuple(edges))


# --- derived spaces as .nas text ------------------------------------------------------------

def derived_program(space: Space, arch: Architecture) -> S.Program:
    """A stand-alone .nas program of the derived architecture: the definitions of the space's
    files (imports inlined) that its network uses, in their order, each cell reduced to its
    kept edges with one op each, each layer to its op. What no derived cell uses is left
    out, so that the file holds what runs and loads without "never used" warnings."""
    definitions = [item for program in space.programs for item in program.items
                   if not isinstance(item, S.Import)]
    derived = {cell.kind for cell in arch.cells}
    chosen = {cell.kind: tuple(op for _, _, op in cell.edges) for cell in arch.cells}
    kinds = {kind.name: kind for kind in space.cell_kinds}
    definitions = [_derived_cell_def(item, arch.cell(item.name), kinds[item.name])
                   if isinstance(item, S.CellDef) and item.name in derived else
                   split_layers(item, space.cell_kinds, chosen)
                   if isinstance(item, S.NetworkDef) else item
                   for item in definitions]
    return standalone(definitions)


def standalone(definitions: Sequence) -> S.Program:
    """A program of the network among `definitions` and the definitions it reaches, in their
    order: what runs, and loads without "never used" warnings."""
    used = _used(definitions)
    return S.Program(tuple(item for item in definitions
                           if isinstance(item, S.NetworkDef) or (type(item), item.name) in used))


def _used(definitions: Sequence) -> set[tuple[type, str]]:
    """(kind of definition, name) of every definition the network reaches: the cells it
    places, their ops, and the chains these call, transitively."""
    table = {(type(item), item.name): item for item in definitions
             if not isinstance(item, S.NetworkDef)}
    found: set[tuple[type, str]] = set()
    pending = [item for item in definitions if isinstance(item, S.NetworkDef)]
    while pending:
        for key in _references(pending.pop()):
            if key in table and key not in found:
                found.add(key)
                pending.append(table[key])
    return found


def _references(item) -> list[tuple[type, str]]:
    """The definitions one definition names: chains it calls, ops it lists, cells it places,
    ops its layers choose among."""
    calls: list[S.Call] = []
    found: list[tuple[type, str]] = []
    if isinstance(item, S.ChainDef):
        calls += S.calls_of(item.body)
    elif isinstance(item, S.OpDef):
        calls += [call for form in item.forms for call in S.calls_of(form.body)]
    elif isinstance(item, S.CellDef):
        for stmt in item.body:
            calls += S.calls_of(getattr(stmt, "body", ()))
            found += [(S.OpDef, ref.name) for ref in getattr(stmt, "ops", ())]
    else:
        for stmt in item.body:
            calls += S.calls_of(getattr(stmt, "body", ()))
            if isinstance(stmt, S.Cells):
                found.append((S.CellDef, stmt.cell.name))
            if isinstance(stmt, S.Layers):
                found += [(S.OpDef, ref.name) for ref in (*stmt.ops, stmt.optional) if ref]
    return found + [(S.ChainDef, call.name) for call in calls]


def _derived_cell_def(cell: S.CellDef, derived: DerivedCell, kind: CellKind) -> S.CellDef:
    """The cell with its derived edges, each fixed with its one op: a pair kept twice (two
    ops from one input) is listed twice, its `edge s -> d:` statements in the same order. A
    node_ops cell is written as its text numbers it: `node v: op` for each vertex's op, its
    kept wires as edges. (`max_edges` constrains a search, not one cell: it is left out, as
    EnTranNAS-DST, which learns its own topology, may keep more edges.)"""
    kept = (S.Inputs, S.Nodes, S.Preprocess, S.Reduction, S.Combine, S.Output)
    body = [stmt for stmt in cell.body if isinstance(stmt, kept)]
    edges = derived.edges
    if kind.node_ops:
        body += [S.NodeOverride(kind.vertex_of(dst), (S.Ref(op),))
                 for src, dst, op in edges if not kind.is_wire(src, dst)]
        edges = [(kind.vertex_of(src), kind.vertex_of(dst), op)
                 for src, dst, op in edges if kind.is_wire(src, dst)]
    ordered = sorted(edges, key=lambda edge: (edge[1], edge[0]))
    ops = tuple(dict.fromkeys(op for _, _, op in ordered))
    body.append(S.Edges(tuple(S.EdgeRef(src, dst) for src, dst, _ in ordered)))
    body.append(S.Candidates(tuple(S.Ref(op) for op in ops)))
    body += [S.EdgeOverride(S.EdgeRef(src, dst), (S.Ref(op),)) for src, dst, op in ordered]
    body.append(S.Derive(None))
    return S.CellDef(cell.name, tuple(body))


def derived_text(space: Space, arch: Architecture) -> str:
    return print_program(derived_program(space, arch))


def check_architecture(space: Space, arch: Architecture, source: str = "the architecture"
                       ) -> None:
    """Raise a NasError, speaking of `source` (the genotype or arch string a user gave),
    unless every derived edge joins an earlier node to an intermediate node of its cell with
    an op the space defines, and every intermediate node has an input."""
    ops = sorted({item.name for program in space.programs for item in program.items
                  if isinstance(item, S.OpDef)})
    kinds = {kind.name: kind for kind in space.cell_kinds}
    for cell in arch.cells:
        kind = kinds.get(cell.kind)
        if kind is None:
            raise NasError(f"{source} has a cell '{cell.kind}' that {space.file} does not have",
                           hint=did_you_mean(cell.kind, kinds) or f"cells: {', '.join(kinds)}")
        for src, dst, op in cell.edges:
            if dst not in kind.intermediate or not 0 <= src < dst:
                raise NasError(f"{source} gives node {dst} of cell '{kind.name}' an input from "
                               f"node {src}: cell '{kind.name}' has inputs 0..{kind.inputs - 1} "
                               f"and intermediate nodes {kind.inputs}..{kind.intermediate[-1]}, "
                               "each fed by earlier nodes")
            if op not in ops:
                raise NasError(f"{source} gives node {dst} of cell '{kind.name}' the op '{op}', "
                               f"which {space.file} does not define",
                               hint=did_you_mean(op, ops) or f"ops: {', '.join(ops)}")
        for node in kind.intermediate:
            if not any(dst == node for _, dst, _ in cell.edges):
                raise NasError(f"{source} gives node {node} of cell '{kind.name}' no input")


def derived_space(space: Space, arch: Architecture, source: str = "the architecture",
                  **load_options) -> Space:
    """The derived architecture as a space of its own (every edge fixed), checked and
    elaborated from its .nas text without a file (`load_options` as `load` takes them, e.g.
    phase="eval"); an error speaks of `source`, not of text the user never wrote."""
    check_architecture(space, arch, source)
    try:
        return load(f"<{source}>", text=derived_text(space, arch), **load_options)
    except NasErrors as errors:
        raise NasError(f"{source} does not build in {space.file}: "
                       + "; ".join(error.message for error in errors.errors)) from None
