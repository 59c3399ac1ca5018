"""Check a parsed space and elaborate it into the IR (`nasdsl.dsl.space`).

Checking and elaboration are one walk: evaluating an expression is where an unknown name is
found, building a module is where a bad attribute is found, placing an op on an edge is where
a channel or stride mismatch is found. Every problem is recorded with its location and the
walk goes on, so that one run reports all of them; `load` raises them together at the end.
"""

from __future__ import annotations

from pathlib import Path

import attrs

from nasdsl.dsl import syntax as S
from nasdsl.dsl.limits import (MAX_CANDIDATES, MAX_CHAIN_DEPTH, MAX_EDGES, MAX_INPUTS,
                               MAX_MODULES, MAX_NETWORK_EDGES, MAX_NODES, MAX_STAGES, MAX_VALUE)
from nasdsl.dsl.modules import KINDS, MAPS, REQUIRED, VECTORS, Attr, AttributeProblem, Placement
from nasdsl.dsl.space import Cell, CellKind, DeriveRule, Edge, Layer, Network, Op, Space
from nasdsl.dsl.sources import read_sources, resolve
from nasdsl.errors import Location, NasCheckError, NasError, NasErrors, did_you_mean

# Any module may be marked search_only=true: it exists in the supernet, not in a derived
# network (DARTS appends a BN to pools only while searching).
SEARCH_ONLY = Attr(bool, False)
NOMINAL_CHANNELS = 16  # channels at which an op no cell uses is checked
COMBINE_RULES = ("sum",)
OUTPUT_RULES = ("last", "concat")


def load(name_or_path: str | Path, *, phase: str = "search",
         overrides: dict[str, int] | None = None,
         image: tuple[int, int] | None = None, classes: int | None = None,
         partial: int = 1, text: str | None = None) -> Space:
    """Read, check and elaborate a space; raise `NasErrors` listing every error found.

    `phase` "search" applies the network's `search` settings inside cells; "eval" builds the
    modules as a stand-alone network uses them. `overrides` replace `let` values (C=8); a name
    the network does not `let` is an error. `image` (channels, size) replaces the network's
    `input(...)` and `classes` its `let classes`, for the data at hand: a head that gives
    another number of class scores is an error. `partial` K places the edges' ops at 1/K of
    the cell's channels (PC-DARTS). `text`: the file's text, where it is not on disk (a
    derived architecture's space, named `name_or_path`).
    """
    path = resolve(str(name_or_path)) if text is None else Path(name_or_path)
    sources = read_sources(path, text)
    elaborator = Elaborator(phase, overrides or {}, image, partial, classes)
    for error in sources.errors:
        elaborator.report(error)
    space = elaborator.space(sources.root, sources.programs)
    if elaborator.errors:
        raise NasErrors(elaborator.errors)
    return space


@attrs.define
class _ChainState:
    """What flows along a chain being expanded: channels, resolution factor, the form of the
    tensor (feature maps or vectors), modules so far."""

    placement: Placement
    searching: bool = False  # inside a cell while searching: `search` settings apply
    stride_wanted: int = 1
    stride_done: int = 1
    form: str = MAPS
    head: bool = False  # only the head may turn feature maps into vectors
    modules: list = attrs.Factory(list)
    written_strides: list = attrs.Factory(list)  # where the chain writes `stride=`


class Elaborator:
    """Walks the syntax tree; one method per kind of definition and statement."""

    def __init__(self, phase: str, overrides: dict[str, int],
                 image: tuple[int, int] | None = None, partial: int = 1,
                 classes: int | None = None):
        self.phase = phase
        self.overrides = overrides
        self.image = image
        self.partial = partial
        self.classes = classes
        self.errors: list[NasError] = []
        self.warnings: list[NasError] = []
        self._seen: set[tuple] = set()
        self.chains: dict[str, S.ChainDef] = {}
        self.ops: dict[str, S.OpDef] = {}
        self.cells: dict[str, S.CellDef] = {}
        self.networks: list[S.NetworkDef] = []
        self.used: set[str] = set()
        self.placed_ops: set[tuple[str, int]] = set()  # (op, stride of the edge)
        self.failed_forms: set[tuple[str, int | None]] = set()  # (op, stride of the form)
        self.built_ops: dict[tuple, Op | None] = {}  # (op, form, stride, channels) -> its Op
        self.broken_cells: set[str] = set()
        self.search_settings: dict[str, dict[str, object]] = {}  # kind -> attribute -> value

    # --- diagnostics ---------------------------------------------------------------------------

    def report(self, error: NasError) -> None:
        key = (error.location, error.message, error.severity)
        if key not in self._seen:  # an op placed in many cells reports its problem once
            self._seen.add(key)
            (self.warnings if error.severity == "warning" else self.errors).append(error)

    def error(self, message: str, at: Location | None, hint: str = "") -> None:
        self.report(NasCheckError(message, at, hint))

    def warning(self, message: str, at: Location | None, hint: str = "") -> None:
        self.report(NasCheckError(message, at, hint, severity="warning"))

    # --- the whole space -----------------------------------------------------------------------

    def space(self, root: S.Program, programs: tuple[S.Program, ...]) -> Space:
        for program in programs:
            for item in program.items:
                self.define(item)
        for op in self.ops.values():
            self.check_forms(op)
        network = None
        kinds: dict[str, CellKind] = {}
        if len(self.networks) > 1:
            for extra in self.networks[1:]:
                self.error(f"a space has one network; '{extra.name}' is a second one", extra.at,
                           f"the first is '{self.networks[0].name}' at {self.networks[0].at}")
        if self.networks:
            network = self.network(self.networks[0], kinds)
            for cell in self.cells.values():
                if cell.name not in kinds:
                    self.cell_kind(cell)  # checked, though the network does not place it
        else:
            for cell in self.cells.values():
                kinds[cell.name] = self.cell_kind(cell)
        for op in self.ops.values():
            self.check_unplaced(op)
        self.warn_unused(root)
        name = self.networks[0].name if self.networks else Path(root.file).stem
        return Space(name, root.file, tuple(kinds.values()), network, tuple(self.warnings),
                     programs)

    def define(self, item) -> None:
        if isinstance(item, S.Import):
            return
        if isinstance(item, S.NetworkDef):
            self.networks.append(item)
            return
        table = {S.ChainDef: self.chains, S.OpDef: self.ops, S.CellDef: self.cells}[type(item)]
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
                if var.name not in names:
                    self.error(f"unknown name '{var.name}'", var.at,
                               did_you_mean(var.name, names) or _names_hint(names, "parameters"))

    def warn_unused(self, root: S.Program) -> None:
        if not any(isinstance(item, S.NetworkDef) for item in root.items):
            return  # a library of definitions for other files to import
        for item in root.items:
            if isinstance(item, (S.ChainDef, S.OpDef, S.CellDef)) and item.name not in self.used:
                what = type(item).__name__.removesuffix("Def").lower()
                self.warning(f"{what} '{item.name}' is never used", item.at)

    # --- expressions -------------------------------------------------------------------------

    def evaluate(self, expr: S.Expr, env: dict[str, int | bool]):
        """The value of an expression, or None after reporting why it has none."""
        if isinstance(expr, S.Bool):
            return expr.value
        if isinstance(expr, S.Number):
            return self.bounded(expr.value, expr)
        if isinstance(expr, S.Var):
            if expr.name in env:
                return env[expr.name]
            self.error(f"unknown name '{expr.name}'", expr.at,
                       did_you_mean(expr.name, env) or _names_hint(env))
            return None
        left, right = self.evaluate(expr.left, env), self.evaluate(expr.right, env)
        if left is None or right is None:
            return None
        if isinstance(left, bool) or isinstance(right, bool):
            self.error(f"'{expr.op}' needs numbers, not true or false", expr.at)
            return None
        if expr.op == "/":
            if right == 0:
                self.error(f"{left} / 0: division by zero", expr.at)
                return None
            if left % right:
                self.error(f"{left} / {right} is not a whole number", expr.at)
                return None
            return left // right
        return self.bounded({"+": left + right, "-": left - right, "*": left * right}[expr.op],
                            expr)

    def bounded(self, value: int, expr: S.Expr) -> int | None:
        """No size, channel count or repeat in a network comes near 10^12; larger values are
        mistakes (and would be slow to print)."""
        if abs(value) > MAX_VALUE:
            self.error("value too large: numbers in a space stay below 10^12", expr.at)
            return None
        return value

    # --- chains of modules ---------------------------------------------------------------------

    def expand(self, body: tuple[S.Call, ...], env: dict, state: _ChainState,
               calling: tuple[str, ...] = ()) -> bool:
        """Append the modules of `body` to `state`; False if any call failed."""
        ok = True
        for call in body:
            if len(state.modules) >= MAX_MODULES:
                # Chains calling chains can double at every level: stop at the limit.
                self.error(f"this expands to more than {MAX_MODULES:,} modules, the limit of an "
                           "op, a preprocess or a stage", call.at,
                           "a chain that calls another twice doubles at every level")
                return False
            if call.name in KINDS:
                ok = self.build_module(call, env, state) and ok
            elif call.name in self.chains:
                ok = self.expand_chain(call, env, state, calling) and ok
            else:
                if call.name in self.ops:
                    hint = "ops are candidates of edges; to reuse modules, define a chain"
                else:
                    hint = did_you_mean(call.name, [*KINDS, *self.chains])
                self.error(f"unknown module or chain '{call.name}'", call.at, hint)
                ok = False
        return ok

    def expand_chain(self, call: S.Call, env: dict, state: _ChainState,
                     calling: tuple[str, ...]) -> bool:
        chain = self.chains[call.name]
        self.used.add(chain.name)
        if chain.name in calling:
            cycle = " -> ".join((*calling[calling.index(chain.name):], chain.name))
            self.error(f"chain '{chain.name}' calls itself: {cycle}", call.at)
            return False
        if len(calling) >= MAX_CHAIN_DEPTH:
            self.error(f"chain '{chain.name}' is nested more than {MAX_CHAIN_DEPTH} chains deep",
                       call.at)
            return False
        params = {param.name: param for param in chain.params}
        inner: dict[str, int | bool] = {}
        ok = True
        for arg in call.args:
            if arg.name not in params:
                self.error(f"chain '{chain.name}' has no parameter '{arg.name}'", arg.at,
                           did_you_mean(arg.name, params) or _names_hint(params, "parameters"))
                ok = False
                continue
            value = self.evaluate(arg.value, env)
            ok = ok and value is not None
            inner[arg.name] = value
        for param in chain.params:
            if param.name in inner:
                continue
            if param.default is None:
                self.error(f"chain '{chain.name}' needs a value for '{param.name}'", call.at,
                           f"write {chain.name}({param.name}=...)")
                ok = False
            else:
                value = self.evaluate(param.default, inner)
                ok = ok and value is not None
                inner[param.name] = value
        return ok and self.expand(chain.body, inner, state, (*calling, chain.name))

    def build_module(self, call: S.Call, env: dict, state: _ChainState) -> bool:
        kind = KINDS[call.name]
        if not self.shape_fits(kind, call, state):
            return False
        checked = self.given_attributes(kind, call, env)
        if checked is None:
            return False
        given, where = checked
        if "stride" in given:
            state.written_strides.append(where["stride"])
        if given.pop("search_only", False) and self.phase != "search":
            return True
        values = {name: given[name] if name in given else self.default(kind, name, state)
                  for name in kind.attributes}
        # The stride of an op's place goes to its first module that can take one.
        if (kind.stride_capable and "stride" not in given
                and state.stride_done < state.stride_wanted):
            values["stride"] = state.stride_wanted // state.stride_done
        try:
            module = kind.build(values, state.placement)
        except AttributeProblem as problem:
            self.error(f"{kind.kind}: {problem.message}",
                       where.get(problem.attribute, call.at))
            return False
        state.modules.append(module)
        state.stride_done *= module.stride
        state.placement = attrs.evolve(state.placement,
                                       channels=module.out_channels(state.placement.channels))
        return True

    def shape_fits(self, kind, call: S.Call, state: _ChainState) -> bool:
        """Whether the module takes the form of tensor that reaches it (feature maps or
        vectors), and may give the form it gives there: turning feature maps into vectors
        is the head's alone, since ops, preprocessing, the stem and layers feed cells."""
        if state.form not in kind.accepts:
            hint = "put global_avg_pool before it" if state.form == MAPS else \
                "global_avg_pool made vectors of the feature maps; after it come only " \
                f"modules that take vectors ({', '.join(_taking(VECTORS))})"
            self.error(f"{kind.kind} works on {' or '.join(kind.accepts)}, but here it gets "
                       f"{state.form}", call.at, hint)
            return False
        produced = kind.produces or state.form
        if produced != state.form and not state.head:
            self.error(f"{kind.kind} turns {state.form} into {produced}, which only the head "
                       "may do", call.at,
                       "an op, a preprocess, the stem and a layer keep feature maps for the "
                       "cells after them")
            return False
        state.form = produced
        return True

    def default(self, kind, name: str, state: _ChainState):
        attr = kind.attributes[name]
        if state.searching:
            for owner in (kind.kind, attr.follows):
                if name in self.search_settings.get(owner, {}):
                    return self.search_settings[owner][name]
        return attr.default(state.placement) if callable(attr.default) else attr.default

    def given_attributes(self, kind, call: S.Call, env: dict, required: bool = True):
        """The attributes a call gives, checked: (values, locations), or None after errors."""
        given: dict[str, object] = {}
        where: dict[str, Location | None] = {}
        ok = True
        for arg in call.args:
            attr = kind.attributes.get(arg.name, SEARCH_ONLY if arg.name == "search_only" else None)
            if attr is None:
                known = [*kind.attributes, "search_only"]
                self.error(f"{kind.kind} has no attribute '{arg.name}'", arg.at,
                           did_you_mean(arg.name, known) or _names_hint(known, "attributes"))
                ok = False
                continue
            if arg.name in given:
                self.error(f"attribute '{arg.name}' is given twice", arg.at)
                ok = False
                continue
            value = self.evaluate(arg.value, env)
            where[arg.name] = arg.at
            if value is None:
                ok = False
            elif (attr.type is bool) != isinstance(value, bool):
                wanted = "true or false" if attr.type is bool else "a number"
                self.error(f"{kind.kind} attribute '{arg.name}' must be {wanted}, not "
                           f"{_show(value)}", arg.at)
                ok = False
            elif attr.check and (problem := attr.check(value)):
                self.error(f"{kind.kind} attribute '{arg.name}' {problem}, not {value}", arg.at)
                ok = False
            given[arg.name] = value
        for name, attr in kind.attributes.items():
            if required and name not in given and attr.default is REQUIRED:
                self.error(f"{kind.kind} needs the attribute '{name}'", call.at,
                           f"write {kind.kind}({name}=...)")
                ok = False
        return (given, where) if ok else None

    def chain_state(self, channels: int, target: int, in_cell: bool, stride: int = 1
                    ) -> _ChainState:
        return _ChainState(Placement(channels, target), in_cell and self.phase == "search",
                           stride_wanted=stride)

    # --- ops -------------------------------------------------------------------------------

    def check_forms(self, op: S.OpDef) -> None:
        seen = set()
        for form in op.forms:
            if form.stride is not None and form.stride not in (1, 2):
                self.error(f"op '{op.name}' has a form for stride {form.stride}; strides are 1 "
                           "or 2", form.at)
            elif form.stride in seen:
                self.error(f"op '{op.name}' has two forms for stride {form.stride}", form.at)
            seen.add(form.stride)

    def check_unplaced(self, op: S.OpDef) -> None:
        # Checked at nominal channels only where no cell placed it: a channel count that suits
        # every cell using the op (groups=3 at 24 channels) need not suit the nominal one.
        for stride in {form.stride or 1 for form in op.forms if form.stride in (None, 1, 2)}:
            if (op.name, stride) not in self.placed_ops:
                self.place_op(op, stride, NOMINAL_CHANNELS, op.at)

    def place_op(self, op: S.OpDef, stride: int, channels: int, use_at) -> Op | None:
        """The op as it runs on an edge of this stride and channels, or None if it cannot."""
        forms: dict[int | None, S.StrideForm] = {}
        for form in op.forms:
            forms.setdefault(form.stride, form)  # the first counts; check_forms reports a second
        form = forms.get(stride, forms.get(None))
        if form is None:
            self.error(f"op '{op.name}' has no form for stride {stride}", use_at,
                       f"add 'stride {stride}: ...' to op '{op.name}' at {op.at}")
            return None
        self.placed_ops.add((op.name, stride))
        key = (op.name, form.stride)
        if key in self.failed_forms:
            return None  # reported where it first failed, not again at every channel count
        # An op placed again at the same stride and width is the same chain of (interned)
        # modules: built once, whatever the number of cells and edges.
        built = (op.name, form.stride, stride, channels)
        if built not in self.built_ops:
            self.built_ops[built] = self.build_op(op, form, stride, channels)
        placed = self.built_ops[built]
        if placed is None:
            self.failed_forms.add(key)
        return placed

    def build_op(self, op: S.OpDef, form: S.StrideForm, stride: int, channels: int) -> Op | None:
        """The op's chain at an edge of `stride`. The rule: an op whose chain writes no
        `stride=` gives the edge's stride to its first module that can stride (a conv, a pool,
        a zero); an op that writes one strides as written, and its strides must multiply to
        the edge's."""
        state = self.chain_state(channels, channels, in_cell=True)
        if not self.expand(form.body, {}, state):
            return None
        written = state.written_strides
        if stride > 1 and not written:
            state = self.chain_state(channels, channels, in_cell=True, stride=stride)
            self.expand(form.body, {}, state)
        if state.stride_done != stride and written:
            self.error(f"op '{op.name}' writes its strides and they make {state.stride_done}, but "
                       f"its edge has stride {stride}", written[0],
                       f"an op that writes `stride=` strides as written: make its strides "
                       f"multiply to {stride}, leave them out (the first conv, pool or zero then "
                       f"takes the edge's stride), or give the op a 'stride {stride}:' form")
            return None
        if state.stride_done != stride:
            self.error(f"op '{op.name}' has stride {state.stride_done} but its edge has stride "
                       f"{stride}", form.at,
                       "an edge's stride goes to the op's first conv, pool or zero; give the op "
                       f"a 'stride {stride}:' form")
            return None
        produced = state.placement.channels
        if produced != channels:
            self.error(f"op '{op.name}' turns {channels} channels into {produced}; an edge keeps "
                       "the channels of its cell", form.at)
            return None
        return Op(op.name, tuple(state.modules))

    # --- cells ------------------------------------------------------------------------------

    def cell_kind(self, cell: S.CellDef) -> CellKind:
        """Check a cell's statements and return its channel-free shape."""
        seen: dict[type, S.CellStmt] = {}
        for stmt in cell.body:
            key = (type(stmt), getattr(stmt, "reduced", None))
            if not isinstance(stmt, S.EdgeOverride) and key in seen:
                self.error(f"cell '{cell.name}' has two '{_keyword(stmt)}' statements", stmt.at,
                           f"the first is at {seen[key].at}")
            seen.setdefault(key, stmt)
        get = lambda cls, reduced=None: seen.get((cls, reduced))  # noqa: E731
        inputs = self.count_stmt(get(S.Inputs), 1, "inputs", MAX_INPUTS)
        nodes = self.count_stmt(get(S.Nodes), None, "nodes", MAX_NODES, cell)
        candidates_stmt = get(S.Candidates)
        candidates = self.candidate_names(candidates_stmt.ops) if candidates_stmt else ()
        if candidates_stmt is None:
            self.error(f"cell '{cell.name}' has no candidate set", cell.at,
                       "add 'candidates op1, op2, ...'")
        every = self.cell_edges(cell, get(S.Edges), inputs, nodes or 0, candidates)
        edges = tuple(edge for edge in every if len(edge[2]) != 1)
        fixed = tuple(edge for edge in every if len(edge[2]) == 1)
        combine = self.rule(get(S.Combine), COMBINE_RULES, "combine")
        output = self.rule(get(S.Output), OUTPUT_RULES, "output")
        derive = self.derive_rule(get(S.Derive), cell, edges, inputs, nodes or 0, fixed)
        return CellKind(cell.name, inputs, nodes or 0, edges, combine, output,
                        get(S.Reduction) is not None, derive, fixed)

    def count_stmt(self, stmt, default, keyword: str, limit: int,
                   cell: S.CellDef | None = None) -> int | None:
        if stmt is None:
            if default is None:
                self.error(f"cell '{cell.name}' needs a '{keyword}' statement", cell.at)
            return default
        if stmt.count < 1:
            self.error(f"'{keyword}' must be at least 1, not {stmt.count}", stmt.at)
            return default or 1
        if stmt.count > limit:
            self.error(f"'{keyword} {stmt.count}' is more than {limit}, the limit of a cell",
                       stmt.at)
            return default or 1
        return stmt.count

    def candidate_names(self, refs: tuple[S.Ref, ...]) -> tuple[str, ...]:
        names: dict[str, None] = {}
        if len(refs) > MAX_CANDIDATES:
            self.error(f"{len(refs)} candidates are more than {MAX_CANDIDATES}, the limit of an "
                       "edge", refs[MAX_CANDIDATES].at)
            refs = refs[:MAX_CANDIDATES]
        for ref in refs:
            if ref.name not in self.ops:
                self.error(f"unknown op '{ref.name}'", ref.at,
                           did_you_mean(ref.name, self.ops) or _names_hint(self.ops, "ops"))
            elif ref.name in names:
                self.error(f"op '{ref.name}' is listed twice", ref.at)
            else:
                self.used.add(ref.name)
                names[ref.name] = None
        return tuple(names)

    def cell_edges(self, cell, stmt, inputs, nodes, candidates):
        """Every edge of the cell with its candidate names, in the order of its `edges`
        statement. A pair listed k times there is k parallel edges (NASNet's cells take two
        ops from one input); its `edge s -> d:` statements give the copies their candidates
        in order, and each copy must end with one candidate: parallel edges are fixed."""
        last = inputs + nodes - 1
        refs: list[S.EdgeRef | None] = []
        if stmt is not None and stmt.edges is not None and len(stmt.edges) > MAX_EDGES:
            self.error(f"{len(stmt.edges)} edges are more than {MAX_EDGES}, the limit of a cell",
                       stmt.edges[MAX_EDGES].at)
            stmt = attrs.evolve(stmt, edges=stmt.edges[:MAX_EDGES])
        if stmt is None or stmt.edges is None:
            pairs = [(src, dst) for dst in range(inputs, last + 1) for src in range(dst)]
            if len(pairs) > MAX_EDGES:
                self.error(f"'edges all' makes {len(pairs):,} edges, more than {MAX_EDGES}, the "
                           "limit of a cell", stmt.at if stmt is not None else cell.at,
                           "list fewer edges, or give the cell fewer nodes")
                pairs = pairs[:MAX_EDGES]
            refs = [None] * len(pairs)
        else:
            pairs = []
            for ref in stmt.edges:
                if ref.dst < inputs or ref.dst > last:
                    self.error(f"edge {ref.src} -> {ref.dst} goes to node {ref.dst}, which is not "
                               f"an intermediate node ({inputs}..{last})", ref.at)
                elif ref.src >= ref.dst:
                    self.error(f"edge {ref.src} -> {ref.dst} goes backwards: a cell is acyclic, "
                               "so edges go from a lower node number to a higher one", ref.at)
                else:
                    pairs.append((ref.src, ref.dst))
                    refs.append(ref)
            for dst in range(inputs, last + 1):
                if not any(pair[1] == dst for pair in pairs):
                    self.error(f"node {dst} of cell '{cell.name}' has no incoming edge", stmt.at)
        sets = [candidates] * len(pairs)
        given: dict[tuple[int, int], int] = {}
        for override in cell.body:
            if not isinstance(override, S.EdgeOverride):
                continue
            pair = (override.edge.src, override.edge.dst)
            copies = [index for index, other in enumerate(pairs) if other == pair]
            count = given[pair] = given.get(pair, 0) + 1
            if not copies:
                self.error(f"edge {pair[0]} -> {pair[1]} is not an edge of cell "
                           f"'{cell.name}'", override.edge.at)
            elif count > len(copies):
                times = "once" if len(copies) == 1 else f"{len(copies)} times"
                self.error(f"edge {pair[0]} -> {pair[1]} is listed {times} in 'edges' but this is "
                           f"'edge {pair[0]} -> {pair[1]}:' statement {count}", override.edge.at,
                           "list the pair in 'edges' once for each parallel edge")
            else:
                sets[copies[count - 1]] = self.candidate_names(override.ops)
        for index, pair in enumerate(pairs):
            repeated = pairs.count(pair) > 1
            if repeated and len(sets[index]) != 1 and pairs.index(pair) == index:
                self.error(f"edge {pair[0]} -> {pair[1]} is listed {pairs.count(pair)} times: "
                           "parallel edges are fixed, with one op each", refs[index].at,
                           f"give each copy its op with an 'edge {pair[0]} -> {pair[1]}: op' "
                           "statement, or list the pair once")
        return tuple((src, dst, names) for (src, dst), names in zip(pairs, sets))

    def rule(self, stmt, known: tuple[str, ...], keyword: str) -> str:
        if stmt is None:
            return known[0]
        if stmt.rule.name not in known:
            self.error(f"unknown {keyword} rule '{stmt.rule.name}'", stmt.rule.at,
                       did_you_mean(stmt.rule.name, known) or _names_hint(known, "rules"))
            return known[0]
        return stmt.rule.name

    def derive_rule(self, stmt, cell, edges, inputs, nodes, fixed=()) -> DeriveRule:
        if stmt is None:
            return DeriveRule()
        exclude = tuple(ref.name for ref in stmt.exclude)
        names = {name for edge in edges for name in edge[2]}
        for ref in stmt.exclude:
            if names and ref.name not in names:  # no names: the missing candidates are reported
                self.error(f"excluded op '{ref.name}' is not a candidate of cell '{cell.name}'",
                           ref.at, did_you_mean(ref.name, names))
        for src, dst, ops in edges:
            if ops and all(name in exclude for name in ops):
                self.error(f"edge {src} -> {dst} of cell '{cell.name}' has no candidate left "
                           "after 'exclude'", stmt.at)
        if stmt.top is not None and stmt.top < 1:
            self.error(f"'derive top' must keep at least 1 input, not {stmt.top}", stmt.at)
        elif stmt.top is not None:
            for node in range(inputs, inputs + nodes):
                count = sum(1 for edge in edges if edge[1] == node)
                pinned = sum(1 for edge in fixed if edge[1] == node)
                if 0 < count < stmt.top:  # a node without edges is reported with the edges
                    what = "searchable incoming edge" if pinned else "incoming edge"
                    self.error(f"'derive top {stmt.top}' but node {node} of cell '{cell.name}' "
                               f"has {count} {what}{'s' if count != 1 else ''}", stmt.at,
                               f"its {pinned} fixed edge{'s' if pinned != 1 else ''} (one op "
                               f"each) {'are' if pinned != 1 else 'is'} kept besides the "
                               f"{stmt.top} derived" if pinned else "")
                    break
        return DeriveRule(stmt.top, exclude)

    def place_cell(self, kind: CellKind, definition: S.CellDef, channels: int,
                   arriving: list[tuple[int, int]], at) -> Cell | None:
        """A cell of `kind` at `channels`, fed by the (channels, size) of its inputs."""
        size = arriving[-1][1]
        preprocess = []
        stmts = {getattr(s, "reduced", None): s for s in definition.body
                 if isinstance(s, S.Preprocess)}
        for index, (c_in, s_in) in enumerate(arriving):
            if s_in not in (size, 2 * size):
                self.error(f"input {index} of cell '{kind.name}' arrives at resolution {s_in} but "
                           f"the cell works at {size}: a cell takes inputs at its resolution "
                           "or at twice it (which 'preprocess_reduced' halves), not others", at,
                           "give the cell fewer inputs: each may come from at most one "
                           "reduction back")
                return None
            stmt = stmts.get(s_in != size)
            if s_in != size and stmt is None:
                self.error(f"input {index} of cell '{kind.name}' arrives at resolution {s_in} but "
                           f"the cell works at {size}", at,
                           "add 'preprocess_reduced factorized_reduce' to the cell")
                return None
            if stmt is None:
                if c_in != channels:
                    self.error(f"cell '{kind.name}' at {channels} channels receives {c_in} "
                               f"channels on input {index}", at,
                               "add a 'preprocess' statement to the cell or a layer before it")
                    return None
                preprocess.append(())
                continue
            state = self.chain_state(c_in, channels, in_cell=True)
            if not self.expand(stmt.body, {}, state):
                return None
            if state.stride_done != s_in // size:
                self.error(f"'{_keyword(stmt)}' of cell '{kind.name}' brings input {index} from "
                           f"resolution {s_in} to {s_in // state.stride_done} where the cell "
                           f"works at {size}", stmt.at)
                return None
            if state.placement.channels != channels:
                self.error(f"'{_keyword(stmt)}' of cell '{kind.name}' turns {c_in} channels into "
                           f"{state.placement.channels} where the cell needs {channels}", stmt.at)
                return None
            preprocess.append(tuple(state.modules))
        if channels % self.partial and kind.edges:
            self.error(f"cell '{kind.name}' at {channels} channels cannot send 1/{self.partial} "
                       "of them through its edges", at,
                       "partial channel connections need channels divisible by K")
            return None
        # Partial channel connections belong to the search: fixed edges run at full width.
        placed: dict[bool, list[Edge]] = {True: [], False: []}
        for searched, listed in ((True, kind.edges), (False, kind.fixed)):
            width = channels // self.partial if searched else channels
            for src, dst, names in listed:
                stride = 2 if kind.reduction and src < kind.inputs else 1
                ops = [self.place_op(self.ops[name], stride, width, _ref_at(definition, name))
                       for name in names]
                if any(op is None for op in ops):
                    return None
                placed[searched].append(Edge(src, dst, stride, tuple(ops)))
        return Cell(kind, channels, size, tuple(preprocess), tuple(placed[True]),
                    tuple(placed[False]))

    # --- the network --------------------------------------------------------------------------

    def network(self, net: S.NetworkDef, kinds: dict[str, CellKind]) -> Network | None:
        env: dict[str, int | bool] = {}
        forced = self.image is not None
        image = dict(zip(("channels", "size"), self.image)) if forced else \
            {"channels": 3, "size": 32}
        stages: list[Layer | Cell] = []
        history: list[tuple[int, int]] = []  # (channels, size) of each stage's output
        # After a stage fails, the history is wrong: placing later cells on it would report
        # channel and resolution mismatches that fixing the first error removes.
        ok = flowing = self.stage_order(net)
        lets = {stmt.name for stmt in net.body if isinstance(stmt, S.Let)}
        for name in sorted(set(self.overrides) - lets):
            self.error(f"--set {name}=...: network '{net.name}' has no `let {name}`", net.at,
                       did_you_mean(name, lets) or _names_hint(lets, "lets") or
                       "the network has no `let` to set")
            ok = False
        given = dict(self.overrides)
        if self.classes is not None and "classes" in lets:
            given["classes"] = self.classes
        for stmt in net.body:
            if isinstance(stmt, S.Let):
                if stmt.name in env:
                    self.error(f"'{stmt.name}' is defined twice", stmt.at)
                value = given.get(stmt.name, self.evaluate(stmt.value, env))
                if value is None:
                    ok = False
                env[stmt.name] = value
            elif isinstance(stmt, S.Input):
                ok = self.input_stmt(stmt, env, dict(image) if forced else image) and ok
            elif isinstance(stmt, S.Search):
                if any(isinstance(earlier, S.Cells) for earlier in net.body[:net.body.index(stmt)]):
                    self.error("search settings must come before the first 'cells' statement",
                               stmt.at, "move this line up: it applies to every cell")
                    ok = False
                    continue
                ok = self.search_stmt(stmt, env) and ok
            elif isinstance(stmt, (S.Stem, S.Layer, S.Head)) and len(stages) >= MAX_STAGES:
                self.error(f"the network has more than {MAX_STAGES} stages (cells and layers), "
                           "the limit of a network", stmt.at)
                return None
            elif isinstance(stmt, (S.Stem, S.Layer, S.Head)):
                current = history[-1] if history else (image["channels"], image["size"])
                state = self.chain_state(current[0], current[0], in_cell=False)
                state.head = isinstance(stmt, S.Head)
                if self.expand(stmt.body, env, state) and self.head_output(stmt, state, lets):
                    modules = tuple(state.modules)
                    size = current[1]
                    for module in modules:
                        size = module.out_size(size)
                    stages.append(Layer(_keyword(stmt), modules))
                    history.append((state.placement.channels, size))
                else:
                    ok = flowing = False
            elif isinstance(stmt, S.Cells):
                placed = self.cells_stmt(stmt, env, kinds, stages, history, image, flowing)
                ok, flowing = ok and placed, flowing and placed
        classes = history[-1][0] if history else 0
        if not ok:
            return None
        return Network(net.name, image["channels"], image["size"], classes, tuple(stages))

    def stage_order(self, net: S.NetworkDef) -> bool:
        """A network has one stem, first among its stages, and one head, last: the cells and
        layers between them work on feature maps, the head makes the class scores."""
        ok = True
        stages = [stmt for stmt in net.body if isinstance(stmt, (S.Stem, S.Cells, S.Layer,
                                                                  S.Head))]
        for cls, keyword, place in ((S.Stem, "stem", 0), (S.Cells, "cells", None),
                                    (S.Head, "head", -1)):
            found = [stmt for stmt in stages if isinstance(stmt, cls)]
            if not found:
                self.error(f"network '{net.name}' has no '{keyword}' statement", net.at)
                ok = False
            elif place is not None and len(found) > 1:
                self.error(f"network '{net.name}' has two '{keyword}' statements", found[1].at,
                           f"the first is at {found[0].at}; use 'layer' for the stages "
                           "between the stem and the head")
                ok = False
            elif place is not None and stages[place] is not found[0]:
                where = "first" if place == 0 else "last"
                self.error(f"the {keyword} must be the network's {where} stage", found[0].at,
                           f"move the '{keyword}' statement {'above' if place == 0 else 'below'}"
                           " every 'cells' and 'layer' statement")
                ok = False
        return ok

    def head_output(self, stmt, state: _ChainState, lets: set[str]) -> bool:
        """The head ends in one vector of class scores per image, as many as the data has
        classes when that is known."""
        if not isinstance(stmt, S.Head):
            return True
        if state.form != VECTORS:
            self.error("the head ends in feature maps, not in a vector of class scores per "
                       "image", stmt.at, "end it with global_avg_pool -> linear(out=classes)")
            return False
        produced = state.placement.channels
        if self.classes is not None and produced != self.classes:
            self.error(f"the head gives {produced} class scores, but the data has "
                       f"{self.classes} classes", stmt.at,
                       "write `let classes = ...` in the network and `linear(out=classes)` in "
                       "the head: `classes` then follows the data" if "classes" not in lets
                       else "make the head's last layer give `classes` outputs")
            return False
        return True

    def input_stmt(self, stmt: S.Input, env, image: dict) -> bool:
        ok = True
        for arg in stmt.args:
            if arg.name not in image:
                self.error(f"input has no attribute '{arg.name}'", arg.at,
                           did_you_mean(arg.name, image) or _names_hint(image, "attributes"))
                ok = False
                continue
            value = self.evaluate(arg.value, env)
            if value is None or isinstance(value, bool) or value < 1:
                if value is not None:
                    self.error(f"input {arg.name} must be a number of at least 1, not "
                               f"{_show(value)}", arg.at)
                ok = False
            else:
                image[arg.name] = value
        return ok

    def search_stmt(self, stmt: S.Search, env) -> bool:
        """`search bn(affine=false)`: defaults of a module kind inside cells while searching."""
        kind = KINDS.get(stmt.call.name)
        if kind is None:
            self.error(f"unknown module '{stmt.call.name}'", stmt.call.at,
                       did_you_mean(stmt.call.name, KINDS) or _names_hint(KINDS, "modules"))
            return False
        checked = self.given_attributes(kind, stmt.call, env, required=False)
        if checked is None:
            return False
        given, where = checked
        if "search_only" in given:
            self.error("search_only belongs on a module in a chain, not in search settings",
                       where["search_only"])
            return False
        self.search_settings.setdefault(kind.kind, {}).update(given)
        return True

    def cells_stmt(self, stmt: S.Cells, env, kinds, stages, history, image, flowing) -> bool:
        definition = self.cells.get(stmt.cell.name)
        if definition is None:
            self.error(f"unknown cell '{stmt.cell.name}'", stmt.cell.at,
                       did_you_mean(stmt.cell.name, self.cells) or _names_hint(self.cells, "cells"))
            return False
        self.used.add(definition.name)
        count, channels = self.evaluate(stmt.count, env), self.evaluate(stmt.channels, env)
        if count is None or channels is None:
            return False
        for value, expr, what in ((count, stmt.count, "cell count"),
                                  (channels, stmt.channels, "channels")):
            if isinstance(value, bool) or value < 1:
                self.error(f"{what} must be a number of at least 1, not {_show(value)}", expr.at)
                return False
        if definition.name not in kinds:
            reported = len(self.errors)
            kinds[definition.name] = self.cell_kind(definition)
            if len(self.errors) > reported:  # placing it would report consequences of those
                self.broken_cells.add(definition.name)
        kind = kinds[definition.name]
        if not flowing or definition.name in self.broken_cells:
            return False
        if len(stages) + count > MAX_STAGES:
            self.error(f"the network would have {len(stages) + count:,} stages (cells and layers), "
                       f"more than {MAX_STAGES}, the limit of a network", stmt.count.at)
            return False
        edges = sum(len(stage.edges) + len(stage.fixed) for stage in stages
                    if isinstance(stage, Cell))
        if edges + count * (len(kind.edges) + len(kind.fixed)) > MAX_NETWORK_EDGES:
            self.error(f"the network would have more than {MAX_NETWORK_EDGES:,} edges, the limit "
                       "of a network", stmt.count.at)
            return False
        for _ in range(count):
            start = history or [(image["channels"], image["size"])]
            arriving = ([start[0]] * kind.inputs + start)[-kind.inputs:]
            cell = self.place_cell(kind, definition, channels, arriving, stmt.at)
            if cell is None:
                return False
            stages.append(cell)
            history.append((cell.out_channels, cell.out_size))
        return True


def _taking(form: str) -> list[str]:
    return sorted(name for name, kind in KINDS.items() if form in kind.accepts)


def _keyword(stmt) -> str:
    if isinstance(stmt, S.Preprocess):
        return "preprocess_reduced" if stmt.reduced else "preprocess"
    return type(stmt).__name__.lower()


def _ref_at(cell: S.CellDef, name: str) -> Location | None:
    for stmt in cell.body:
        for ref in getattr(stmt, "ops", ()):
            if ref.name == name:
                return ref.at
    return cell.at


def _variables(expr: S.Expr | None):
    if isinstance(expr, S.Var):
        yield expr
    elif isinstance(expr, S.BinOp):
        yield from _variables(expr.left)
        yield from _variables(expr.right)


def _show(value) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _names_hint(names, what: str = "names") -> str:
    listed = sorted(names)
    if not listed:
        return ""
    shown = ", ".join(listed[:12]) + (", ..." if len(listed) > 12 else "")
    return f"known {what}: {shown}"
