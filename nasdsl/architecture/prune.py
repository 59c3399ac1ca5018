"""Pruned spaces (Zero-One-Shot, seed 003, Sec. 4.1): a mask over a space's candidate sets,
and the space it leaves, written back as .nas text.

A pruning mask I: O -> {0, 1} (seed 003 Eq. 1) is kept here as the candidates it leaves: per
cell kind, per edge in the kind's order, the names of the unmasked candidates in their
original order. Cells of one kind share their architecture parameters, so they share their
mask: the mixing-operation sets E_i of Alg. 1 are the (cell kind, edge) pairs.

The pruned space is ordinary .nas text, each edge listing its own candidates with
`edge s -> d: ...`, so the file a run writes is the space it searches, and a masked candidate
is never instantiated: the edge simply does not have it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import attrs

from nasdsl.dsl import syntax as S
from nasdsl.dsl.elaborate.layers import split_layers
from nasdsl.dsl.printer import print_program
from nasdsl.dsl.space import Cell, CellKind, Space
from nasdsl.errors import NasError

# cell kind -> per edge (in the kind's edge order) -> the names of the candidates kept
Mask = Mapping[str, tuple[tuple[str, ...], ...]]


def full_mask(space: Space) -> dict[str, tuple[tuple[str, ...], ...]]:
    """The mask that keeps every candidate: the space unpruned."""
    return {kind.name: tuple(names for _, _, names in kind.edges) for kind in space.cell_kinds}


def candidate_count(mask: Mask) -> int:
    """sum_i |E_i|: candidates left over all mixing-operation sets."""
    return sum(len(names) for sets in mask.values() for names in sets)


def architecture_count(mask: Mask) -> int:
    """prod_i |E_i|: the architectures the hypergraph holds, as Alg. 1's line 1 counts them."""
    return math.prod(len(names) for sets in mask.values() for names in sets)


def derivable(kind: CellKind, names: Sequence[str]) -> tuple[str, ...]:
    """The candidates of a set that derivation may choose (not `derive ... exclude`d)."""
    return tuple(name for name in names if kind.derivable(name))


# Pruning leaves every set at least this many candidates: an edge of one candidate is fixed
# (no longer searched, always kept), which would change the cell the search derives.
MIN_KEPT = 2


def removable(kind: CellKind, names: Sequence[str]) -> tuple[str, ...]:
    """The candidates of a set that pruning may remove: any, as long as the set keeps
    MIN_KEPT candidates, one of which derivation may choose (an edge left with only `none`
    could not be derived)."""
    if len(names) <= MIN_KEPT:
        return ()
    spare = len(derivable(kind, names)) > 1
    return tuple(name for name in names if spare or not kind.derivable(name))


def check_mask(space: Space, mask: Mask) -> None:
    """Raise NasError unless `mask` keeps, on every edge of every cell kind, a non-empty
    subset of that edge's candidates in their order, one of them derivable."""
    for kind in space.cell_kinds:
        sets = mask.get(kind.name)
        if sets is None or len(sets) != len(kind.edges):
            raise NasError(f"the pruning mask does not cover the edges of cell '{kind.name}'")
        for (src, dst, names), kept in zip(kind.edges, sets):
            if tuple(name for name in names if name in kept) != tuple(kept):
                raise NasError(f"the pruning mask keeps {', '.join(kept)} on edge {src} -> {dst} "
                               f"of cell '{kind.name}', which has {', '.join(names)}")
            if not derivable(kind, kept):
                raise NasError(f"the pruning mask leaves edge {src} -> {dst} of cell "
                               f"'{kind.name}' no candidate that derivation may choose")


def pruned_program(programs: Sequence[S.Program], space: Space, mask: Mask) -> S.Program:
    """A stand-alone .nas program of the pruned space: every definition the space's files
    hold (imports inlined), each searched cell listing every edge's kept candidates."""
    check_mask(space, mask)
    kinds = {kind.name: kind for kind in space.cell_kinds}
    left = {name for sets in mask.values() for names in sets for name in names}
    pruned_away = {name for sets in full_mask(space).values() for names in sets
                   for name in names} - left
    items = []
    for program in programs:
        for item in program.items:
            if isinstance(item, S.Import):
                continue
            if isinstance(item, S.OpDef) and item.name in pruned_away:
                continue  # an op no edge keeps: defining it would only warn "never used"
            if isinstance(item, S.CellDef) and item.name in kinds:
                item = _pruned_cell_def(item, kinds[item.name], mask[item.name])
            if isinstance(item, S.NetworkDef):
                item = split_layers(item, space.cell_kinds, _layer_candidates(space, mask))
            items.append(item)
    return S.Program(tuple(items))


def pruned_text(programs: Sequence[S.Program], space: Space, mask: Mask) -> str:
    return print_program(pruned_program(programs, space, mask))


def _pruned_cell_def(cell: S.CellDef, kind: CellKind,
                     kept: tuple[tuple[str, ...], ...]) -> S.CellDef:
    """The cell with its candidate statements replaced by one `edge s -> d: ...` per edge
    (`node v: ...` per vertex op of a node_ops cell), where the first of them was (its
    `candidates` statement, if it has one, keeping the ops left); every other statement
    stays where it was."""
    left = {name for names in kept for name in names}
    union = tuple(name for name in dict.fromkeys(n for _, _, names in kind.edges for n in names)
                  if name in left)  # in the order the cell lists them
    edges = [_candidates_stmt(kind, src, dst, names)
             for (src, dst, _), names in zip(kind.edges, kept)]
    edges += [_candidates_stmt(kind, src, dst, names) for src, dst, names in kind.fixed]
    body: list = []
    for stmt in cell.body:
        if isinstance(stmt, (S.Candidates, S.EdgeOverride, S.NodeOps, S.NodeOverride)):
            if isinstance(stmt, S.Candidates):
                body.append(S.Candidates(_refs(union)))
            body += edges
            edges = []
        elif isinstance(stmt, S.Derive):
            # An excluded op pruned from every edge is no longer a candidate of the cell.
            body.append(attrs.evolve(stmt, exclude=tuple(ref for ref in stmt.exclude
                                                         if ref.name in union)))
        else:
            body.append(stmt)
    return S.CellDef(cell.name, tuple(body))


def _candidates_stmt(kind: CellKind, src: int, dst: int, names: Sequence[str]):
    """An edge's candidates as the cell's text writes them: `edge s -> d:`, or `node v:`
    for a vertex's op."""
    if not kind.is_wire(src, dst):
        return S.NodeOverride(kind.vertex_of(dst), _refs(names))
    return S.EdgeOverride(S.EdgeRef(kind.vertex_of(src), kind.vertex_of(dst)), _refs(names))


def _layer_candidates(space: Space, mask: Mask) -> dict[str, tuple[str, ...]]:
    """Each layer's candidates the mask keeps (a fixed layer keeps its one)."""
    return {kind.name: mask[kind.name][0] if kind.edges else kind.layer_candidates
            for kind in space.cell_kinds if kind.layer}


def _refs(names: Sequence[str]) -> tuple[S.Ref, ...]:
    return tuple(S.Ref(name) for name in names)


def restricted(space: Space, mask: Mask) -> Space:
    """The space the mask leaves, in the IR: every searchable edge of every cell keeps the
    candidates the mask keeps on it (what `pruned_text` writes, without writing it)."""
    kinds = {kind.name: attrs.evolve(kind, edges=tuple(
        (src, dst, kept) for (src, dst, _), kept in zip(kind.edges, mask[kind.name])))
        for kind in space.cell_kinds}
    stages = []
    for stage in space.network.stages:
        if isinstance(stage, Cell):
            kept = mask[stage.kind.name]
            stage = attrs.evolve(stage, kind=kinds[stage.kind.name], edges=tuple(
                attrs.evolve(edge, candidates=tuple(op for op in edge.candidates
                                                    if op.name in names))
                for edge, names in zip(stage.edges, kept)))
        stages.append(stage)
    return attrs.evolve(space, cell_kinds=tuple(kinds[kind.name] for kind in space.cell_kinds),
                        network=attrs.evolve(space.network, stages=tuple(stages)))
