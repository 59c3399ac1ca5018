"""Architectures of cells whose vertices carry the ops (NAS-Bench-101's) as text, in the
numbering of the cell's text and in derivation order: each vertex's wires, then its op,
`cell: 0->1:project 1=maxpool3x3 1->2:link 0->2:project 2=conv3x3_bn_relu ...`; cell kinds
are separated by `;`. Written and read back."""

from __future__ import annotations

import re

from nasdsl.architecture.derive import Architecture, DerivedCell, check_architecture
from nasdsl.dsl.space import CellKind, Space
from nasdsl.errors import NasError, did_you_mean

_HINT = "expected 'kind: 0->1:op 1=op ...', wires as s->d:op and vertex ops as v=op"
_ITEM = re.compile(r"(?:(\d+)->(\d+):|(\d+)=)([A-Za-z_][A-Za-z0-9_]*)")


def vertices_form(space: Space) -> bool:
    """Whether every searchable cell kind of the space has its ops on its vertices."""
    searched = [kind for kind in space.cell_kinds if kind.edges]
    return bool(searched) and all(kind.node_ops for kind in searched)


def to_vertices(arch: Architecture, space: Space) -> str:
    kinds = {kind.name: kind for kind in space.cell_kinds}
    parts = []
    for cell in arch.cells:
        kind = kinds[cell.kind]
        items = [f"{kind.vertex_of(src)}->{kind.vertex_of(dst)}:{op}" if kind.is_wire(src, dst)
                 else f"{kind.vertex_of(dst)}={op}" for src, dst, op in cell.edges]
        parts.append(f"{cell.kind}: {' '.join(items)}")
    return "; ".join(parts)


def from_vertices(text: str, space: Space) -> Architecture:
    """Read `to_vertices` text back (each kind's items in derivation order)."""
    kinds = {kind.name: kind for kind in space.cell_kinds}
    cells = {}
    for part in text.split(";"):
        name, colon, items = part.partition(":")
        name = name.strip()
        if not colon:
            raise NasError(f"not a vertices architecture: {part.strip()[:60]!r}", hint=_HINT)
        kind = kinds.get(name)
        if kind is None:
            raise NasError(f"the architecture names a cell '{name}' that {space.file} does not "
                           "have", hint=did_you_mean(name, kinds) or f"cells: {', '.join(kinds)}")
        edges = [_edge(kind, item) for item in items.split()]
        given = [dst for src, dst, _ in edges if not kind.is_wire(src, dst)]
        for vertex in kind.vertices if kind.node_ops else ():
            if given.count(kind.sum_node(vertex) + 1) != 1:
                raise NasError(f"the architecture gives vertex {vertex} of cell '{name}' "
                               f"{given.count(kind.sum_node(vertex) + 1)} ops, not one",
                               hint=f"write its op once, as {vertex}=op")
        cells[name] = DerivedCell(name, tuple(edges))
    missing = [kind.name for kind in space.cell_kinds if kind.name not in cells]
    if missing:
        raise NasError(f"the architecture gives no cell '{missing[0]}'")
    arch = Architecture(tuple(cells[kind.name] for kind in space.cell_kinds))
    check_architecture(space, arch, "the architecture")
    return arch


def _edge(kind: CellKind, item: str) -> tuple[int, int, str]:
    """One item of a kind's text as a derived edge (in the kind's lowered numbering), checked
    in the text's: a vertex's op among its candidates, a wire between existing vertices."""
    match = _ITEM.fullmatch(item)
    if match is None:
        raise NasError(f"not a wire or a vertex op: {item!r} in cell '{kind.name}'", hint=_HINT)
    src, dst, vertex, op = match.groups()
    if vertex is not None:
        if not kind.node_ops or int(vertex) not in kind.vertices:
            where = (f"vertices {kind.vertices.start}..{kind.vertices.stop - 1}" if kind.node_ops
                     else "its ops on its edges")
            raise NasError(f"{item!r}: cell '{kind.name}' has no vertex {vertex} with an op (it "
                           f"has {where})")
        node = kind.sum_node(int(vertex))
        edge = (node, node + 1, op)
    else:
        src, dst = int(src), int(dst)
        if dst not in kind.text_nodes or not 0 <= src < dst:
            raise NasError(f"{item!r}: cell '{kind.name}' has no edge {src}->{dst}")
        edge = (kind.vertex_node(src), kind.sum_node(dst), op)
    candidates = {name for s, d, names in (*kind.edges, *kind.fixed) if (s, d) == edge[:2]
                  for name in names}
    if not candidates:
        raise NasError(f"{item!r}: cell '{kind.name}' has no edge {src}->{dst}")
    if op not in candidates:
        raise NasError(f"{item!r}: '{op}' is not a candidate of {kind.place(*edge[:2])} of cell "
                       f"'{kind.name}'", hint=did_you_mean(op, candidates) or
                       f"its candidates: {', '.join(sorted(candidates))}")
    return edge
