"""Macro spaces' architectures as text: one choice per searchable layer,
`b1_1=k3_e6 b1_2=skip ...`, written and read back."""

from __future__ import annotations

from nasdsl.architecture.derive import Architecture, DerivedCell, check_architecture
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
        fixed = kinds[name].fixed
        if fixed and op != fixed[0][2][0]:
            raise NasError(f"the architecture gives layer '{name}' the op {op}, but the layer "
                           f"is fixed: its one op is {fixed[0][2][0]}")
        chosen[name] = op
    cells = []
    for kind in space.cell_kinds:
        if not kind.edges:
            cells.append(DerivedCell(kind.name, tuple((src, dst, names[0])
                                                      for src, dst, names in kind.fixed)))
        elif kind.name not in chosen:
            raise NasError(f"the architecture gives layer '{kind.name}' no op",
                           hint=f"its candidates: {', '.join(kind.edges[0][2])}")
        else:
            cells.append(DerivedCell(kind.name, ((0, 1, chosen[kind.name]),)))
    arch = Architecture(tuple(cells))
    check_architecture(space, arch, "the architecture")
    return arch
