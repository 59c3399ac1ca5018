"""Check a parsed space and elaborate it into the IR (`nasdsl.dsl.space`).

Checking and elaboration are one walk: evaluating an expression is where an unknown name is
found, building a module is where a bad attribute is found, placing an op on an edge is where
a channel or stride mismatch is found. Every problem is recorded with its location and the
walk goes on, so that one run reports all of them; `load` raises them together at the end.

The walk is split by what it elaborates, around one `Scope` that all parts share: chains of
modules (`chains`), ops (`ops`), cells (`cells`), the network (`network`); `Elaborator` here
visits the definitions and puts the space together.
"""

from __future__ import annotations

from pathlib import Path

import attrs

from nasdsl.dsl import syntax as S
from nasdsl.dsl.elaborate.cells import CellBuilder
from nasdsl.dsl.elaborate.chains import PLACE_NAMES, ChainExpander
from nasdsl.dsl.elaborate.layers import LayersBuilder
from nasdsl.dsl.elaborate.network import NetworkBuilder
from nasdsl.dsl.elaborate.ops import OpPlacer
from nasdsl.dsl.elaborate.scope import Scope, names_hint
from nasdsl.dsl.modules import KINDS, load_plugins
from nasdsl.dsl.sources import read_sources, resolve
from nasdsl.dsl.space import CellKind, LoadSettings, Space
from nasdsl.errors import NasErrors, did_you_mean


def load(name_or_path: str | Path, *, phase: str = "search",
         overrides: dict[str, int | float] | None = None,
         image: tuple[int, int] | None = None, classes: int | None = None,
         text: str | None = None) -> Space:
    """Read, check and elaborate a space; raise `NasErrors` listing every error found.

    `phase` "search" applies the network's `search` settings inside cells; "eval" builds the
    modules as a stand-alone network uses them. `overrides` replace `let` values (C=8); a name
    the network does not `let` is an error. `image` (channels, size) replaces the network's
    `input(...)` and `classes` its `let classes`, for the data at hand: a head that gives
    another number of class scores is an error. `text`: the file's text, where it is not on
    disk (a derived architecture's space, named `name_or_path`).
    """
    load_plugins()
    path = resolve(str(name_or_path)) if text is None else Path(name_or_path)
    sources = read_sources(path, text)
    settings = LoadSettings(phase, tuple((overrides or {}).items()), image, classes)
    return _elaborate(settings, sources.root, sources.programs, sources.errors)


def narrowed(space: Space, divisor: int) -> Space:
    """`space` with its searched edges' ops placed at 1/`divisor` of their cells' channels,
    the fixed edges at full width (partial channel connections): elaborated again from the
    files it was read from, with the settings it was loaded with. A cell whose channels
    `divisor` does not divide is a `NasErrors`."""
    if divisor == space.settings.edge_divisor:
        return space
    settings = attrs.evolve(space.settings, edge_divisor=divisor)
    return _elaborate(settings, space.programs[-1], space.programs)


def _elaborate(settings: LoadSettings, root: S.Program, programs: tuple[S.Program, ...],
               found: tuple = ()) -> Space:
    elaborator = Elaborator(settings)
    for error in found:
        elaborator.scope.report(error)
    space = elaborator.space(root, programs)
    if elaborator.scope.errors:
        raise NasErrors(elaborator.scope.errors)
    return space


class Elaborator:
    """Visits a space's definitions and builds its IR through the parts that share `scope`."""

    def __init__(self, settings: LoadSettings = LoadSettings()):
        self.scope = Scope(settings)
        self.error, self.warning = self.scope.error, self.scope.warning
        self.expander = ChainExpander(self.scope)
        self.placer = OpPlacer(self.scope, self.expander)
        self.cell_builder = CellBuilder(self.scope, self.expander, self.placer)
        self.network_builder = NetworkBuilder(
            self.scope, self.expander, self.cell_builder,
            LayersBuilder(self.scope, self.placer, self.cell_builder))

    def space(self, root: S.Program, programs: tuple[S.Program, ...]) -> Space:
        for program in programs:
            for item in program.items:
                self.define(item)
        for op in self.scope.ops.values():
            self.placer.check_forms(op)
        network = None
        kinds: dict[str, CellKind] = {}
        networks = self.scope.networks
        if len(networks) > 1:
            for extra in networks[1:]:
                self.error(f"a space has one network; '{extra.name}' is a second one", extra.at,
                           f"the first is '{networks[0].name}' at {networks[0].at}")
        if self.scope.networks:
            network = self.network_builder.network(self.scope.networks[0], kinds)
            for cell in self.scope.cells.values():
                if cell.name not in kinds:
                    self.cell_builder.cell_kind(cell)  # checked, though not placed
        else:
            for cell in self.scope.cells.values():
                kinds[cell.name] = self.cell_builder.cell_kind(cell)
        for op in self.scope.ops.values():
            self.placer.check_unplaced(op)
        self.warn_unused(root)
        name = self.scope.networks[0].name if self.scope.networks else Path(root.file).stem
        return Space(name, root.file, tuple(kinds.values()), network, tuple(self.scope.warnings),
                     programs, self.scope.settings)

    def define(self, item) -> None:
        if isinstance(item, S.Import):
            return
        if isinstance(item, S.NetworkDef):
            self.scope.networks.append(item)
            return
        scope = self.scope
        table = {S.ChainDef: scope.chains, S.OpDef: scope.ops, S.CellDef: scope.cells}[type(item)]
        what = {S.ChainDef: "chain", S.OpDef: "op", S.CellDef: "cell"}[type(item)]
        if item.name in table:
            self.error(f"{what} '{item.name}' is defined twice", item.at,
                       f"the first definition is at {table[item.name].at}")
            return
        if isinstance(item, S.ChainDef) and item.name in KINDS:
            self.error(f"chain '{item.name}' has the name of a basic module", item.at,
                       "give the chain another name")
            return
        table[item.name] = item
        if isinstance(item, S.ChainDef):
            self.check_params(item)

    def check_params(self, chain: S.ChainDef) -> None:
        names = [param.name for param in chain.params]
        seen = set()
        for param in chain.params:
            if param.name in seen:
                self.error(f"parameter '{param.name}' of chain '{chain.name}' is listed twice",
                           param.at)
            seen.add(param.name)
            # A default is evaluated only where a call omits it: check its names here, so a
            # misspelling is found even when every call passes a value.
            for var in _variables(param.default):
                if var.name not in names and var.name not in PLACE_NAMES:
                    self.error(f"unknown name '{var.name}'", var.at,
                               did_you_mean(var.name, names) or names_hint(names, "parameters"))

    def warn_unused(self, root: S.Program) -> None:
        if not any(isinstance(item, S.NetworkDef) for item in root.items):
            return  # a library of definitions for other files to import
        for item in root.items:
            if isinstance(item, (S.ChainDef, S.OpDef, S.CellDef)) \
                    and item.name not in self.scope.used:
                what = type(item).__name__.removesuffix("Def").lower()
                self.warning(f"{what} '{item.name}' is never used", item.at)


def _variables(expr: S.Expr | None):
    if isinstance(expr, S.Var):
        yield expr
    elif isinstance(expr, S.BinOp):
        yield from _variables(expr.left)
        yield from _variables(expr.right)

