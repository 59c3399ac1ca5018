"""Macro spaces' architectures as text: one choice per searchable layer,
`b1_1=k3_e6 b1_2=skip ...`, written and read back."""

from __future__ import annotations

from nasdsl.architecture.derive import Architecture, cell_of, check_architecture
from nasdsl.dsl.space import Space
from nasdsl.errors import NasError, did_you_mean


def layers_form(space: Space) -> bool:
    """Whether the space's searchable kinds are all layers of a macro space (and there are
    some): its architectures are then written one choice per layer."""
    searched = [kind for kind in space.cell_kinds if kind.edges]
    return bool(searched) and all(kind.layer for kind in searched)


def to_layers(arch: Architecture, space: Space) -> str:
    """`b1_1=k3_e6 b1_2=skip ...`: the op each searchable layer keeps, in network order."""
    searched = {kind.name for kind in space.cell_kinds if kind.edges}
    return " ".join(f"{cell.kind}={cell.edges[0][2]}" for cell in arch.cells
                    if cell.kind in searched)


def from_layers(text: str, space: Space) -> Architecture:
    """Read `to_layers` text back; the fixed layers (one candidate) keep theirs."""
    kinds = {kind.name: kind for kind in space.cell_kinds if kind.layer}
    chosen: dict[str, str] = {}
    for item in text.split():
        name, equals, op = item.partition("=")
        if not equals or not op:
            raise NasError(f"not a layers architecture: {item!r} in {text[:60]!r}",
                           hint="expected layer=op items, e.g. b1_1=k3_e6 b1_2=skip")
        if name not in kinds:
            raise NasError(f"the architecture names a layer '{name}' that {space.file} does not "
                           "have", hint=did_you_mean(name, kinds) or f"layers: {', '.join(kinds)}")
        if name in chosen:
            raise NasError(f"the architecture gives layer '{name}' two ops, {chosen[name]} and "
                           f"{op}")
        kind = kinds[name]
        if not kind.edges and op != kind.layer_candidates[0]:
            raise NasError(f"the architecture gives layer '{name}' the op {op}, but the layer "
                           f"is fixed: its one op is {kind.layer_candidates[0]}")
        chosen[name] = op
    cells = []
    for kind in space.cell_kinds:
        if kind.edges and kind.name not in chosen:
            raise NasError(f"the architecture gives layer '{kind.name}' no op",
                           hint=f"its candidates: {', '.join(kind.layer_candidates)}")
        # A searched layer keeps the op given; a fixed one (no searchable edge) its own.
        op = chosen.get(kind.name)
        cells.append(cell_of(kind, lambda index, names: (1.0, op), limit=False))
    arch = Architecture(tuple(cells))
    check_architecture(space, arch, "the architecture")
    return arch
