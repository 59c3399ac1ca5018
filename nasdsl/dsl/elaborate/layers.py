"""Searchable layers of a macro space: a `layers` statement placed as one single-edge cell
kind per layer, each with architecture parameters of its own, and written back one layer a
statement."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from nasdsl.dsl import syntax as S
from nasdsl.dsl.elaborate.cells import CellBuilder
from nasdsl.dsl.elaborate.ops import OpPlacer
from nasdsl.dsl.elaborate.scope import Scope
from nasdsl.dsl.space import Cell, CellKind, Edge


def layer_names(name: str, count: int) -> list[str]:
    """The kind names of a `layers` statement's layers: its name for one layer, else the name
    numbered from 1 (`b3_1`, `b3_2`, ...). A derived or pruned file writes each layer as a
    statement of one layer under its kind name, which reads back as the same kind."""
    return [name] if count == 1 else [f"{name}_{index}" for index in range(1, count + 1)]


def split_layers(network: S.NetworkDef, kinds: Sequence[CellKind],
                 candidates: Mapping[str, tuple[str, ...]]) -> S.NetworkDef:
    """The network with every `layers` statement written as one statement per layer of
    `kinds` it made, each under its kind's name with the candidates `candidates` gives that
    kind (a derived architecture's op, a pruned space's kept ones): what one statement of
    several layers cannot say. The first keeps the statement's stride; each keeps `residual`,
    which applies only where a layer keeps its shape, so that the file reads back as the
    same kinds."""
    body = []
    for stmt in network.body:
        if not isinstance(stmt, S.Layers):
            body.append(stmt)
            continue
        names = [kind.name for kind in kinds if kind.layer == stmt.name]
        for index, name in enumerate(names):
            body.append(S.Layers(name, S.Number(1), stmt.channels,
                                 stmt.stride if index == 0 else None, stmt.residual,
                                 tuple(S.Ref(op) for op in candidates[name])))
    return S.NetworkDef(network.name, tuple(body), at=network.at)


class LayersBuilder:
    """Places the layers of a `layers` statement on what arrives from the stage before."""

    def __init__(self, scope: Scope, placer: OpPlacer, cell_builder: CellBuilder):
        self.scope = scope
        self.error, self.warning = scope.error, scope.warning
        self.placer = placer
        self.cell_builder = cell_builder
        self.statements: dict[str, S.Layers] = {}

    def check(self, stmt: S.Layers) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
        """The statement's candidates and its `or` op (none or one), checked apart from
        where it is placed; None after reporting what is wrong."""
        if stmt.name in self.statements:
            self.error(f"two 'layers' statements are named '{stmt.name}'", stmt.at,
                       f"the first is at {self.statements[stmt.name].at}; the name is what its "
                       "layers are named after")
            return None
        self.statements[stmt.name] = stmt
        if stmt.stride is not None and stmt.stride not in (1, 2):
            self.error(f"layers '{stmt.name}' stride {stmt.stride}: strides are 1 or 2", stmt.at)
            return None
        ops = self.cell_builder.candidate_names(stmt.ops)
        optional = self.cell_builder.candidate_names((stmt.optional,)) if stmt.optional else ()
        if len(ops) != len(stmt.ops) or len(optional) != bool(stmt.optional):
            return None  # an unknown or repeated op, reported
        if optional and optional[0] in ops:
            self.error(f"op '{optional[0]}' is both a candidate and the `or` op of layers "
                       f"'{stmt.name}'", stmt.optional.at,
                       "list it once: after `or` it joins only the layers that keep their shape")
            return None
        return ops, optional

    def layers(self, stmt: S.Layers, checked: tuple[tuple[str, ...], tuple[str, ...]],
               count: int, channels: int, kinds: dict[str, CellKind],
               arriving: tuple[int, int]) -> list[Cell] | None:
        """The statement's `count` layers at `channels` choosing among the `checked` ops, fed
        by (channels, size) `arriving`; None after reporting why they cannot be placed. Their
        kinds join `kinds`."""
        ops, optional = checked
        names = layer_names(stmt.name, count)
        for name in names:
            if name in kinds or name in self.scope.cells:
                self.error(f"layers '{stmt.name}' would make a layer named '{name}', which is "
                           "already the name of a cell or layer", stmt.at,
                           "give the statement another name")
                return None
        cells, (c_in, size) = [], arriving
        divisor = self.scope.settings.edge_divisor
        for index, name in enumerate(names):
            stride = (stmt.stride or 1) if index == 0 else 1
            keeps_shape = stride == 1 and c_in == channels
            choice = ops + optional if keeps_shape else ops
            if divisor != 1 and len(choice) > 1 and (c_in != channels or channels % divisor):
                self.error(f"layer '{name}' takes {c_in} channels to {channels}: partial channel "
                           f"connections (1/{divisor} of the channels through the mix) need "
                           "layers that keep a number of channels K divides", stmt.at,
                           "search this space with every channel through the mix (K = 1)")
                return None
            # Partial channels narrow a searched layer that keeps its channels; a fixed one
            # runs at full width, as fixed edges do.
            width = channels // divisor if len(choice) > 1 else channels
            takes, gives = (width, width) if c_in == channels else (c_in, channels)
            placed = []
            for ref_name in choice:
                at = next((ref.at for ref in (*stmt.ops, stmt.optional)
                           if ref is not None and ref.name == ref_name), stmt.at)
                op = self.placer.place_op(self.scope.ops[ref_name], stride, takes, at, gives,
                                          f"layer '{name}'")
                if op is None or len(choice) > 1 and not self.cell_builder.searchable(
                        op, f"layer '{name}'", at):
                    return None
                placed.append(op)
            edge = ((0, 1, choice),)
            searched = len(choice) > 1
            kind = CellKind(name, 1, 1, edge if searched else (), reduction=stride == 2,
                            fixed=() if searched else edge, layer=stmt.name,
                            residual=stmt.residual and keeps_shape)
            kinds[name] = kind
            placed_edge = (Edge(0, 1, stride, tuple(placed)),)
            cells.append(Cell(kind, channels, size, ((),), placed_edge if searched else (),
                              () if searched else placed_edge, width, input_channels=c_in))
            c_in, size = channels, cells[-1].out_size
        if optional and not any(optional[0] in cell.kind.layer_candidates for cell in cells):
            self.warning(f"no layer of '{stmt.name}' keeps its shape, so `or {optional[0]}` "
                         "joins none of them", stmt.optional.at,
                         "an `or` op joins the layers of stride 1 whose input and output "
                         "channels agree")
        return cells
