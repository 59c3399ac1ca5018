"""The syntax tree of a .nas file: what the text says, before names are resolved.

Frozen, slotted attrs classes. Every node remembers where it came from (`at`), but the
location takes no part in equality, so a tree printed back to text and parsed again
compares equal to the original (the round-trip invariant of tests/dsl/test_roundtrip.py).
"""

from __future__ import annotations

import attrs

from nasdsl.errors import Location

_located = attrs.field(default=None, eq=False, repr=False, kw_only=True)


# --- expressions ---------------------------------------------------------------------------

@attrs.frozen
class Number:
    """A literal: a whole number (channels, kernels, counts) or a real (a dropout rate)."""

    value: int | float
    at: Location | None = _located


@attrs.frozen
class Size:
    """A kernel size literal, `1x7`: height by width."""

    height: int
    width: int
    at: Location | None = _located


@attrs.frozen
class Bool:
    value: bool
    at: Location | None = _located


@attrs.frozen
class Var:
    name: str
    at: Location | None = _located


@attrs.frozen
class BinOp:
    op: str  # one of + - * /
    left: Expr
    right: Expr
    at: Location | None = _located


Expr = Number | Size | Bool | Var | BinOp


# --- module chains ----------------------------------------------------------------------------

@attrs.frozen
class Arg:
    name: str
    value: Expr
    at: Location | None = _located


@attrs.frozen
class Call:
    """A use of a basic module or of a named chain, with keyword arguments."""

    name: str
    args: tuple[Arg, ...] = ()
    at: Location | None = _located


@attrs.frozen
class Group:
    """Branches inside a chain, each a chain from the group's input, combined by `combine`:
    "sum" (written +), "product" (*, elementwise, vectors broadcast over feature maps) or
    "concat" (|, along channels)."""

    combine: str
    branches: tuple[tuple[Step, ...], ...]
    at: Location | None = _located


Step = Call | Group
# How each combination is written between a group's branches.
COMBINE_SIGNS = {"sum": "+", "product": "*", "concat": "|"}


def calls_of(body) -> list[Call]:
    """Every call of a chain body, inside its groups too, in text order."""
    found: list[Call] = []
    for step in body:
        if isinstance(step, Group):
            for branch in step.branches:
                found += calls_of(branch)
        else:
            found.append(step)
    return found


@attrs.frozen
class Param:
    name: str
    default: Expr | None = None
    at: Location | None = _located


@attrs.frozen
class Ref:
    """A name used where a definition is expected (a candidate, a cell kind, a rule)."""

    name: str
    at: Location | None = _located


# --- top-level definitions ---------------------------------------------------------------------

@attrs.frozen
class Import:
    path: str
    at: Location | None = _located


@attrs.frozen
class ChainDef:
    name: str
    params: tuple[Param, ...]
    body: tuple[Step, ...]
    at: Location | None = _located


@attrs.frozen
class StrideForm:
    """The chain an op becomes at one stride; stride None means 'at any stride'."""

    stride: int | None
    body: tuple[Step, ...]
    at: Location | None = _located


@attrs.frozen
class OpDef:
    name: str
    forms: tuple[StrideForm, ...]
    at: Location | None = _located


# --- cell statements ----------------------------------------------------------------------------

@attrs.frozen
class Inputs:
    count: int
    at: Location | None = _located


@attrs.frozen
class Nodes:
    count: int
    at: Location | None = _located


@attrs.frozen
class Preprocess:
    """How each cell input is brought to the cell's channels; `reduced` for an input
    that still has twice the cell's resolution (the previous cell was a reduction)."""

    body: tuple[Step, ...]
    reduced: bool = False
    at: Location | None = _located


@attrs.frozen
class Reduction:
    at: Location | None = _located


@attrs.frozen
class EdgeRef:
    src: int
    dst: int
    at: Location | None = _located


@attrs.frozen
class Edges:
    """Which edges exist: every earlier node into every intermediate node (None), or a list."""

    edges: tuple[EdgeRef, ...] | None
    at: Location | None = _located


@attrs.frozen
class Candidates:
    ops: tuple[Ref, ...]
    at: Location | None = _located


@attrs.frozen
class EdgeOverride:
    edge: EdgeRef
    ops: tuple[Ref, ...]
    at: Location | None = _located


@attrs.frozen
class NodeOps:
    """The candidates of every intermediate node's op, which runs on the sum of the node's
    inputs (NAS-Bench-101's cells); the edges then only say which inputs a node takes."""

    ops: tuple[Ref, ...]
    at: Location | None = _located


@attrs.frozen
class NodeOverride:
    """`node v: ops`: node v's op candidates, instead of `node_ops`'."""

    node: int
    ops: tuple[Ref, ...]
    at: Location | None = _located


@attrs.frozen
class MaxEdges:
    """The most edges a derived cell may keep (NAS-Bench-101: 9)."""

    count: int
    at: Location | None = _located


@attrs.frozen
class Combine:
    rule: Ref
    at: Location | None = _located


@attrs.frozen
class Output:
    """How a cell gives its output; `nodes`, the nodes `output concat` joins where it lists
    them (each a Number, for its location), in order."""

    rule: Ref
    nodes: tuple[Number, ...] = ()
    at: Location | None = _located


@attrs.frozen
class Derive:
    """How a discrete architecture is read off: keep every edge (top None) or the `top`
    strongest incoming edges of each node (one count for all, or one per node in order);
    `exclude` ops are never chosen."""

    top: int | tuple[int, ...] | None
    exclude: tuple[Ref, ...] = ()
    at: Location | None = _located


CellStmt = (Inputs | Nodes | Preprocess | Reduction | Edges | Candidates | EdgeOverride | NodeOps
            | NodeOverride | MaxEdges | Combine | Output | Derive)


@attrs.frozen
class CellDef:
    name: str
    body: tuple[CellStmt, ...]
    at: Location | None = _located


# --- network statements -------------------------------------------------------------------------

@attrs.frozen
class Let:
    name: str
    value: Expr
    at: Location | None = _located


@attrs.frozen
class Input:
    args: tuple[Arg, ...]
    at: Location | None = _located


@attrs.frozen
class Search:
    """Settings a basic module takes inside cells during search, e.g. bn(affine=false)."""

    call: Call
    at: Location | None = _located


@attrs.frozen
class Stem:
    body: tuple[Step, ...]
    at: Location | None = _located


@attrs.frozen
class Cells:
    cell: Ref
    count: Expr
    channels: Expr
    at: Location | None = _located


@attrs.frozen
class Layers:
    """`layers b3 * 4 channels 40 stride 2 residual: k3_e3, k5_e6 or skip`: `count` searchable
    layers, each a choice among `ops` with architecture parameters of its own, at `channels`;
    the first strides by `stride` (None: 1). `residual` adds each layer's input to its output
    where the two have one shape; the `optional` op joins the candidates of those layers
    (depth search: a layer that can be skipped)."""

    name: str
    count: Expr
    channels: Expr
    stride: int | None
    residual: bool
    ops: tuple[Ref, ...]
    optional: Ref | None = None
    at: Location | None = _located


@attrs.frozen
class Layer:
    body: tuple[Step, ...]
    at: Location | None = _located


@attrs.frozen
class Head:
    body: tuple[Step, ...]
    at: Location | None = _located


NetStmt = Let | Input | Search | Stem | Cells | Layers | Layer | Head


@attrs.frozen
class NetworkDef:
    name: str
    body: tuple[NetStmt, ...]
    at: Location | None = _located


Definition = Import | ChainDef | OpDef | CellDef | NetworkDef


@attrs.frozen
class Program:
    """One .nas file."""

    items: tuple[Definition, ...]
    file: str = attrs.field(default="<text>", eq=False)
