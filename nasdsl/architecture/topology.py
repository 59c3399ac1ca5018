"""The topologies a cell kind's derivation rule allows, as sets of input edges per node.

A kind that derives `top k` keeps k input edges of every intermediate node (DARTS's rule: in
DARTS's space each node keeps 2); ROME (seed 001, Sec. 3.3-3.4) samples exactly such sets
while it searches, so that search and evaluation see the same topology. A kind that derives
`all` keeps every edge: its only topology is the full cell.
"""

from __future__ import annotations

from itertools import combinations

from nasdsl.dsl.space import CellKind


def edge_sets(kind: CellKind, node: int) -> list[tuple[int, ...]]:
    """The sets of input edges `node` may keep, in lexicographic order: every set of `top` of
    them (all of them where it has no more; `top` may differ between nodes), or the one full
    set where the kind derives all."""
    incoming, top = kind.incoming(node), kind.keeps(node)
    if top is None:
        return [incoming]
    return list(combinations(incoming, min(top, len(incoming))))


def choosing_nodes(kind: CellKind) -> list[int]:
    """The intermediate nodes with searchable incoming edges: those with a topology to
    choose (a node of fixed edges only keeps them all)."""
    return [node for node in kind.intermediate if kind.incoming(node)]


def all_edge_sets(kind: CellKind) -> list[tuple[int, tuple[int, ...]]]:
    """(node, edge set) for every node with searchable edges and every set it may keep, node
    by node: the choices of ROME-v1, one topology parameter each (seed 001 Eq. 4)."""
    return [(node, chosen) for node in choosing_nodes(kind) for chosen in edge_sets(kind, node)]
