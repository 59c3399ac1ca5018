"""The human-readable summary of a space that `nasdsl show` prints."""

from __future__ import annotations

import math
from pathlib import Path

from nasdsl.dsl.space import Cell, CellKind, Layer, Space


def summarize(space: Space) -> str:
    lines = [f"space {space.name} ({Path(space.file).name})"]
    for kind in space.cell_kinds:
        if kind.layer:
            continue  # a searchable layer is shown in the network, where it is placed
        lines += ["", *_cell_kind(kind)]
        first = _first_cell(space, kind)
        if first is not None:
            lines += _candidate_chains(first)
    if space.network is not None:
        lines += ["", *_network(space)]
        lines += _layer_ops(space.network.cells)
    if space.cell_kinds:
        lines += ["", f"architectures: {_count(space.architecture_count())}"]
    else:
        lines += ["", "no cells: a library of definitions for other files to import"]
    return "\n".join(lines) + "\n"


def _count(number: int) -> str:
    """A count in full with its order of magnitude, or (past 10^100 digits would fill
    lines) the order alone; math.log10 takes ints of any size, where a float overflows."""
    if number < 10**6:
        return f"{number:,}"
    exponent = math.floor(math.log10(number))
    mantissa = 10 ** (math.log10(number) - exponent)
    scientific = f"~{mantissa:.2f}e+{exponent:02d}"
    return scientific if number >= 10**100 else f"{number:,} ({scientific})"


def _cell_kind(kind: CellKind) -> list[str]:
    """A cell kind in the numbering of its text (a node_ops kind's vertices, not the pairs
    of nodes it is lowered to)."""
    nodes = ", ".join(str(node) for node in kind.text_nodes)
    keeps = kind.text_keeps()
    if kind.derive.top is None:
        derive = "every edge"
    elif len(set(keeps)) == 1:
        derive = f"top {keeps[0]} inputs a node"
    else:
        derive = f"top {', '.join(map(str, keeps))} inputs of nodes {nodes}"
    if kind.derive.exclude:
        derive += f", never {', '.join(kind.derive.exclude)}"
    if kind.max_edges is not None:
        derive += f", at most {kind.max_edges} edges"
    shape = f"intermediate nodes {nodes}"
    if kind.node_ops:
        shape = f"ops on vertices {', '.join(map(str, kind.vertices))}" + (
            f", output vertex {kind.output_vertex}" if kind.output == "vertex" else "")
    lines = [f"cell {kind.name}{' (reduction)' if kind.reduction else ''}: "
             f"{kind.inputs} input{'s' if kind.inputs != 1 else ''}, {shape}, "
             f"{len(kind.edges)} {'choices' if kind.node_ops else 'edges'}{_fixed_count(kind)}, "
             f"combine {kind.combine}, "
             f"output {kind.output}{_listed(kind.concat)}",
             f"  derive: {derive}; {_count(kind.architecture_count())} architectures"]
    by_set: dict[tuple[str, ...], list[tuple[int, int]]] = {}
    for src, dst, names in kind.edges:
        by_set.setdefault(names, []).append((src, dst))
    for names, pairs in by_set.items():
        lines.append(f"  {kind.places(pairs)}: {len(names)} candidates: {', '.join(names)}")
    if kind.fixed:
        lines.append("  fixed: " + ", ".join(f"{kind.in_text(src, dst)} {names[0]}"
                                             for src, dst, names in kind.fixed))
    return lines


def _listed(nodes: tuple[int, ...]) -> str:
    return f" of nodes {', '.join(map(str, nodes))}" if nodes else ""


def _fixed_count(kind: CellKind) -> str:
    return f" and {len(kind.fixed)} fixed" if kind.fixed else ""


def _first_cell(space: Space, kind: CellKind) -> Cell | None:
    if space.network is None:
        return None
    return next(cell for cell in space.network.cells if cell.kind is kind)


def _candidate_chains(cell: Cell) -> list[str]:
    lines = []
    for index, modules in enumerate(cell.preprocess):
        if modules:
            lines.append(f"  input {index} preprocess: {' -> '.join(str(m) for m in modules)}")
    lines.append(f"  candidate ops at {cell.channels} channels:")
    shown = set()
    for edge in sorted((*cell.edges, *cell.fixed), key=lambda edge: edge.stride):
        for op in edge.candidates:
            if (op.name, edge.stride) in shown:
                continue
            shown.add((op.name, edge.stride))
            lines.append(f"    {op.name:<16} stride {edge.stride}: {_op_chain(op)}")
    return lines


def _op_chain(op) -> str:
    return " -> ".join(str(module) for module in op.modules) or "(nothing)"


def _network(space: Space) -> list[str]:
    net = space.network
    lines = [f"network {net.name}: input {net.input_channels}x{net.input_size}x{net.input_size}, "
             f"{net.classes} classes"]
    run: list = []
    for stage in (*net.stages, None):
        if isinstance(stage, Cell) and run and run[-1].kind is stage.kind \
                and run[-1].channels == stage.channels:
            run.append(stage)
            continue
        if run:
            cell = run[0]
            lines.append(f"  cells {cell.kind.name} x{len(run)}: {cell.channels} channels, "
                         f"{cell.size}x{cell.size} in, {run[-1].out_channels} channels out")
            run = []
        if isinstance(stage, Cell) and stage.kind.layer:
            lines.append(_layer(stage))
        elif isinstance(stage, Cell):
            run = [stage]
        elif isinstance(stage, Layer):
            lines.append(f"  {stage.role:<5} {' -> '.join(str(m) for m in stage.modules)}")
    return lines


def _layer_ops(cells) -> list[str]:
    """Each op of the macro layers as it runs at the first layer that places it."""
    shown: dict[str, tuple[Cell, str]] = {}
    for cell in cells:
        if cell.kind.layer:
            for edge in (*cell.edges, *cell.fixed):
                for op in edge.candidates:
                    shown.setdefault(op.name, (cell, _op_chain(op)))
    if not shown:
        return []
    lines = ["", "layer ops, each where it is first placed:"]
    for name, (cell, chain) in shown.items():
        lines.append(f"  {name:<16} {cell.kind.name}: {chain}")
    return lines


def _layer(cell: Cell) -> str:
    """One searchable (or, with one candidate, fixed) layer of a macro space."""
    kind = cell.kind
    names = kind.layer_candidates
    how = "".join((", stride 2" if kind.reduction else "", ", residual" if kind.residual else ""))
    choice = f"{len(names)} candidates: {', '.join(names)}" if len(names) > 1 else names[0]
    return (f"  layers {kind.name}: {cell.input_channels} -> {cell.channels} channels, "
            f"{cell.size}x{cell.size} in{how}; {choice}")
