"""Derived architectures: from mixing weights to a discrete cell per cell kind, and the
formats researchers exchange them in (NAS-Bench-201 arch strings, DARTS genotypes, .nas).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Mapping, Sequence

import attrs

from nasdsl.dsl import syntax as S
from nasdsl.dsl.printer import print_program
from nasdsl.dsl.space import CellKind, Space
from nasdsl.errors import NasError


@attrs.frozen
class DerivedCell:
    """The edges kept in one cell kind, each with its one op, in derivation order."""

    kind: str
    edges: tuple[tuple[int, int, str], ...]


@attrs.frozen
class Architecture:
    cells: tuple[DerivedCell, ...]

    def cell(self, kind: str) -> DerivedCell:
        return next(cell for cell in self.cells if cell.kind == kind)


def derive_cell(kind: CellKind, weights: Sequence[Sequence[float]]) -> DerivedCell:
    """Read one cell off its mixing weights (rows: edges, columns: candidates).

    Every edge keeps its strongest op (`derive all`, NB201), or each node keeps the `top`
    incoming edges whose strongest allowed op is strongest, with that op (DARTS's rule).
    Excluded ops are never chosen; ties go to the earlier candidate, then the earlier edge.
    """
    def strongest(index: int, names: tuple[str, ...]) -> tuple[float, str]:
        allowed = [(float(weights[index][k]), -k, name) for k, name in enumerate(names)
                   if name not in kind.derive.exclude]
        strength, _, name = max(allowed)
        return strength, name

    return cell_of(kind, strongest, kind.derive.top)


def cell_of(kind: CellKind, pick: Callable[[int, tuple[str, ...]], tuple[float, str] | None],
            top: int | None) -> DerivedCell:
    """The cell whose nodes take the incoming edges `pick` keeps (it gives an edge's strength
    and op from the edge's index and candidate names, or None to leave the edge out): per
    node in edge order where the kind derives every edge, else strongest first (ties to the
    earlier edge) and at most `top` of them."""
    chosen = []
    for node in kind.intermediate:
        ranked = []
        for index, (src, dst, names) in enumerate(kind.edges):
            picked = pick(index, names) if dst == node else None
            if picked is not None:
                ranked.append((picked[0], -index, src, picked[1]))
        if kind.derive.top is None:
            ranked.sort(key=lambda item: -item[1])
        else:
            ranked = sorted(ranked, reverse=True)[:top]
        chosen += [(src, node, name) for _, _, src, name in ranked]
    return DerivedCell(kind.name, tuple(chosen))


def derive(space: Space, weights: Mapping[str, Sequence[Sequence[float]]]) -> Architecture:
    return Architecture(tuple(derive_cell(kind, weights[kind.name])
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

    Where a node keeps another number of inputs than the derivation rule's (a learned
    topology, EnTranNAS-DST), the pairs are listed per node: `normal=[[('op', 0), ...],
    [...], ...]`, one list per intermediate node."""
    parts = []
    for cell in arch.cells:
        kind = next(k for k in space.cell_kinds if k.name == cell.kind)
        role = "reduce" if kind.reduction else "normal"
        pairs = ", ".join(f"('{op}', {src})" for src, _, op in cell.edges)
        if not _fixed_in_degree(cell, kind):
            pairs = ", ".join(
                "[" + ", ".join(f"('{op}', {src})" for src, dst, op in cell.edges if dst == node)
                + "]" for node in kind.intermediate)
        concat = list(kind.intermediate) if kind.output == "concat" else [kind.intermediate[-1]]
        parts.append(f"{role}=[{pairs}], {role}_concat={concat}")
    return f"Genotype({', '.join(parts)})"


def from_genotype(text: str, space: Space) -> Architecture:
    """Read a DARTS Genotype string back; each node's pairs come in order, `top` a node."""
    try:
        call = ast.parse(text.strip(), mode="eval").body
        fields = {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords}
    except (SyntaxError, ValueError, AttributeError):
        raise NasError(f"not a DARTS genotype: {text[:60]!r}",
                       hint="expected Genotype(normal=[('sep_conv_3x3', 0), ...], "
                            "normal_concat=[2, 3, 4, 5], reduce=[...], reduce_concat=[...])") \
            from None
    cells = []
    for kind in space.cell_kinds:
        pairs = fields.get("reduce" if kind.reduction else "normal")
        if isinstance(pairs, list) and pairs and all(isinstance(p, list) for p in pairs):
            cells.append(_cell_per_node(kind, pairs))
            continue
        per_node = kind.derive.top or 1
        if pairs is None or len(pairs) != per_node * kind.nodes:
            raise NasError(f"the genotype does not fit cell '{kind.name}': expected "
                           f"{per_node * kind.nodes} (op, input) pairs")
        edges = tuple((src, kind.inputs + k // per_node, op) for k, (op, src) in enumerate(pairs))
        cells.append(DerivedCell(kind.name, edges))
    return Architecture(tuple(cells))


def _fixed_in_degree(cell: DerivedCell, kind: CellKind) -> bool:
    """Each node keeps the rule's number of inputs, listed node after node: a flat list of
    pairs then says which node each pair feeds."""
    per_node = kind.derive.top or 1
    expected = [dst for dst in kind.intermediate for _ in range(per_node)]
    return [dst for _, dst, _ in cell.edges] == expected


def _cell_per_node(kind: CellKind, nodes: list) -> DerivedCell:
    """A cell read from per-node lists of (op, source) pairs."""
    if len(nodes) != kind.nodes:
        raise NasError(f"the genotype does not fit cell '{kind.name}': expected "
                       f"{kind.nodes} lists of (op, input) pairs, one per node")
    edges = []
    for node, pairs in zip(kind.intermediate, nodes):
        for pair in pairs:
            if not (isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[0], str)
                    and isinstance(pair[1], int) and 0 <= pair[1] < node):
                raise NasError(f"the genotype does not fit cell '{kind.name}': node {node} has "
                               f"the pair {pair!r}, not an (op, earlier node) pair")
            edges.append((pair[1], node, pair[0]))
    return DerivedCell(kind.name, tuple(edges))


# --- derived spaces as .nas text ------------------------------------------------------------

def derived_program(programs: Sequence[S.Program], arch: Architecture) -> S.Program:
    """A stand-alone .nas program of the derived architecture: every definition the space's
    files hold (imports inlined), each cell reduced to its kept edges with one op each."""
    items = []
    for program in programs:
        for item in program.items:
            if isinstance(item, S.Import):
                continue
            if isinstance(item, S.CellDef):
                item = _derived_cell_def(item, arch.cell(item.name))
            items.append(item)
    return S.Program(tuple(items))


def _derived_cell_def(cell: S.CellDef, derived: DerivedCell) -> S.CellDef:
    kept = (S.Inputs, S.Nodes, S.Preprocess, S.Reduction, S.Combine, S.Output)
    body = [stmt for stmt in cell.body if isinstance(stmt, kept)]
    ordered = sorted(derived.edges, key=lambda edge: (edge[1], edge[0]))
    ops = tuple(dict.fromkeys(op for _, _, op in ordered))
    body.append(S.Edges(tuple(S.EdgeRef(src, dst) for src, dst, _ in ordered)))
    body.append(S.Candidates(tuple(S.Ref(op) for op in ops)))
    body += [S.EdgeOverride(S.EdgeRef(src, dst), (S.Ref(op),)) for src, dst, op in ordered]
    body.append(S.Derive(None))
    return S.CellDef(cell.name, tuple(body))


def derived_text(programs: Sequence[S.Program], arch: Architecture) -> str:
    return print_program(derived_program(programs, arch))
