"""Hypothesis strategies for the property tests; the project keeps every strategy here.

Sections, from small to large:
  names and expressions     identifiers(), any_exprs(), exprs(value, env)
  any syntax tree           any_programs(): grammatical, meaningless (print/parse round trip)
  valid definitions         chains(), ops(chains), cell_kinds(ops): each with the facts a
                            user of it needs, so that larger strategies stay valid
  valid programs            programs(): print, then `load`, succeeds
  text                      grammar_texts(), mutations(text): inputs for "only NasError" tests

A valid definition is drawn together with its facts (a `Drawn...` record) rather than checked
after the fact: filtering random trees for validity would reject nearly all of them. Helpers
`_name(draw, ...)` are plain functions that composite strategies call with their `draw`:
building a strategy object for every part of every example costs more than the drawing.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs
from hypothesis import strategies as st
from hypothesis.extra.lark import from_lark

from nasdsl.dsl import syntax as S
from nasdsl.dsl.elaborate.layers import layer_names
from nasdsl.dsl.modules import KINDS
from nasdsl.grammar import lark_parser

# --- names and expressions -------------------------------------------------------------------

KEYWORDS = tuple(sorted(t.pattern.value for t in lark_parser().terminals
                        if t.pattern.type == "str" and t.pattern.value.isidentifier()))
# The lexer is contextual, and these two are the only keywords the grammar accepts where it
# also accepts a name (in an expression, where they are booleans). Any other keyword used as a
# name reads back as that name.
_BOOLEANS = ("true", "false")

_IDENTIFIERS = st.one_of(
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,7}", fullmatch=True),
    st.sampled_from(KEYWORDS),
).filter(lambda name: name not in _BOOLEANS)


def identifiers() -> st.SearchStrategy[str]:
    """Names the grammar reads back as names anywhere, keywords included."""
    return _IDENTIFIERS


def _fresh(draw, taken) -> str:
    """A name not in `taken` (lengthened until it is not: rejecting it would waste the draw)."""
    name = draw(_IDENTIFIERS)
    while name in taken:
        name += "_"
    return name


def any_exprs() -> st.SearchStrategy[S.Expr]:
    """Expressions of any shape: numbers, kernel sizes, booleans, names, + - * / nested."""
    leaves = st.one_of(st.builds(S.Number, st.integers(0, 10**6)),
                       st.builds(S.Number, st.floats(0, 1e6, allow_nan=False)),
                       st.builds(S.Size, st.integers(0, 99), st.integers(0, 99)),
                       st.builds(S.Bool, st.booleans()),
                       st.builds(S.Var, identifiers()))
    return st.recursive(leaves, lambda inner: st.builds(S.BinOp, st.sampled_from("+-*/"),
                                                        inner, inner), max_leaves=8)


@st.composite
def exprs(draw, value: int, env: Mapping[str, int] | None = None, depth: int = 2) -> S.Expr:
    """An expression worth `value` (at least 0): numbers, the names of `env` and + - * / with
    exact division, up to `depth` operators deep. Every part is worth at least 0 too."""
    return _expr(draw, value, env or {}, depth)


def _expr(draw, value: int, env: Mapping[str, int], depth: int) -> S.Expr:
    equal = sorted(name for name, worth in env.items() if worth == value)
    shapes = ["number"] + ["name"] * bool(equal)
    if depth > 0:
        shapes += ["+", "-", "*", "/"] + ["name +- number"] * bool(env)
    shape = draw(st.sampled_from(shapes))

    def part(worth: int) -> S.Expr:
        return _expr(draw, worth, env, depth - 1)

    if shape == "number":
        return S.Number(value)
    if shape == "name":
        return S.Var(draw(st.sampled_from(equal)))
    if shape == "+":
        left = draw(st.integers(0, value))
        return S.BinOp("+", part(left), part(value - left))
    if shape == "-":
        right = draw(st.integers(0, 3))
        return S.BinOp("-", part(value + right), part(right))
    if shape == "*":
        if value == 0:
            factors = [0, draw(st.integers(0, 3))]
            left, right = draw(st.permutations(factors))
        else:
            left = draw(st.sampled_from([d for d in range(1, value + 1) if value % d == 0]))
            right = value // left
        return S.BinOp("*", part(left), part(right))
    if shape == "/":
        right = draw(st.integers(1, 3))
        return S.BinOp("/", part(value * right), part(right))
    name = draw(st.sampled_from(sorted(env)))
    if value >= env[name]:
        return S.BinOp("+", S.Var(name), part(value - env[name]))
    return S.BinOp("-", S.Var(name), part(env[name] - value))


# --- any syntax tree ---------------------------------------------------------------------------

def _small_lists(elements, min_size=0, max_size=3) -> st.SearchStrategy[tuple]:
    return st.lists(elements, min_size=min_size, max_size=max_size).map(tuple)


def any_calls() -> st.SearchStrategy[S.Call]:
    """A call of any name with any keyword arguments."""
    return st.builds(S.Call, identifiers(), _small_lists(st.builds(S.Arg, identifiers(),
                                                                   any_exprs())))


def any_chains() -> st.SearchStrategy[tuple[S.Step, ...]]:
    """One to three calls or groups joined by '->'; a group holds two or three such chains
    (nested at most twice), summed, multiplied or concatenated."""
    groups = st.recursive(
        any_calls(), lambda steps: st.builds(
            S.Group, st.sampled_from(sorted(S.COMBINE_SIGNS)),
            st.lists(st.lists(steps, min_size=1, max_size=2).map(tuple), min_size=2,
                     max_size=3).map(tuple)), max_leaves=6)
    return _small_lists(st.one_of(any_calls(), groups), min_size=1)


def _any_refs() -> st.SearchStrategy[tuple[S.Ref, ...]]:
    return _small_lists(st.builds(S.Ref, identifiers()), min_size=1)


def _any_edge() -> st.SearchStrategy[S.EdgeRef]:
    return st.builds(S.EdgeRef, st.integers(0, 20), st.integers(0, 20))


def _any_cell_statements() -> st.SearchStrategy[S.CellStmt]:
    counts = st.integers(0, 20)
    return st.one_of(
        st.builds(S.Inputs, counts),
        st.builds(S.Nodes, counts),
        st.builds(S.Preprocess, any_chains(), st.booleans()),
        st.builds(S.Reduction),
        st.builds(S.Edges, st.none() | _small_lists(_any_edge(), min_size=1)),
        st.builds(S.Candidates, _any_refs()),
        st.builds(S.EdgeOverride, _any_edge(), _any_refs()),
        st.builds(S.NodeOps, _any_refs()),
        st.builds(S.NodeOverride, counts, _any_refs()),
        st.builds(S.MaxEdges, counts),
        st.builds(S.Combine, st.builds(S.Ref, identifiers())),
        st.builds(S.Output, st.builds(S.Ref, identifiers()),
                  _small_lists(st.builds(S.Number, counts))),
        st.builds(S.Derive, st.none() | counts | st.tuples(counts, counts) | st.tuples(
            counts, counts, counts), _small_lists(st.builds(S.Ref, identifiers()))),
    )


def _any_network_statements() -> st.SearchStrategy[S.NetStmt]:
    return st.one_of(
        st.builds(S.Let, identifiers(), any_exprs()),
        st.builds(S.Input, _small_lists(st.builds(S.Arg, identifiers(), any_exprs()))),
        st.builds(S.Search, any_calls()),
        st.builds(S.Stem, any_chains()),
        st.builds(S.Cells, st.builds(S.Ref, identifiers()), any_exprs(), any_exprs()),
        st.builds(S.Layers, identifiers(), any_exprs(), any_exprs(),
                  st.none() | st.integers(0, 9), st.booleans(), _any_refs(),
                  st.none() | st.builds(S.Ref, identifiers())),
        st.builds(S.Layer, any_chains()),
        st.builds(S.Head, any_chains()),
    )


def _any_op_forms() -> st.SearchStrategy[tuple[S.StrideForm, ...]]:
    # `op x = chain` is the one form for any stride; a block lists forms by stride.
    anywhere = st.builds(S.StrideForm, st.none(), any_chains()).map(lambda form: (form,))
    by_stride = _small_lists(st.builds(S.StrideForm, st.integers(0, 9), any_chains()),
                             min_size=1)
    return anywhere | by_stride


def any_definitions() -> st.SearchStrategy[S.Definition]:
    """Any top-level definition; statements in any number and order."""
    paths = st.text(st.characters(exclude_characters='"\n'), max_size=12)
    return st.one_of(
        st.builds(S.Import, paths),
        st.builds(S.ChainDef, identifiers(),
                  _small_lists(st.builds(S.Param, identifiers(), st.none() | any_exprs())),
                  any_chains()),
        st.builds(S.OpDef, identifiers(), _any_op_forms()),
        st.builds(S.CellDef, identifiers(), _small_lists(_any_cell_statements(), max_size=6)),
        st.builds(S.NetworkDef, identifiers(),
                  _small_lists(_any_network_statements(), max_size=6)),
    )


def any_programs() -> st.SearchStrategy[S.Program]:
    """Syntax trees the grammar can write, meaning anything or nothing."""
    return st.builds(S.Program, _small_lists(any_definitions(), max_size=6))


# --- valid definitions -------------------------------------------------------------------------

# The values an attribute may take, by domain. A `half` h stands for the kernel 2 * h + 1, so
# that chain bodies also compute with their parameters.
DOMAINS = {"kernel": (1, 3, 5), "pool_kernel": (1, 2, 3, 4), "half": (0, 1, 2),
           "dilation": (1, 2), "flag": (False, True),
           "probability": (0.0, 0.25, 0.5, 1e-3), "real": (0.0, 0.5, 2.0, 1),
           # Noise without spread: its output is known (the mean, or the input plus it), so
           # that supernets with it can be compared; its random draws are tested apart.
           "spread": (0.0, 0)}

# The basic modules an op may use, with (attribute, domain, required). None of them sets a
# stride or an out: an op keeps its cell's channels and takes the stride of its edge.
OP_MODULES = {
    "relu": (),
    "relu6": (),
    "hswish": (),
    "swish": (),
    "silu": (),
    "sigmoid": (),
    "gelu": (),
    "hsigmoid": (),
    "dropout": (("p", "probability", True),),
    "noise": (("std", "spread", True), ("mean", "real", False), ("additive", "flag", False)),
    "identity": (),
    "zero": (),
    "conv": (("kernel", "kernel", True), ("dilation", "dilation", False),
             ("depthwise", "flag", False)),
    "bn": (("affine", "flag", False), ("track_running_stats", "flag", False),
           ("search_only", "flag", False)),
    "avg_pool": (("kernel", "pool_kernel", True), ("count_include_pad", "flag", False)),
    "max_pool": (("kernel", "pool_kernel", True),),
}
# Modules that take the stride of a stride-2 edge (factorized_reduce strides by itself).
STRIDE_CAPABLE = frozenset({"conv", "avg_pool", "max_pool", "zero"})


@attrs.define
class _Scope:
    """Where a value is written: `env` holds the names it may use (a network's lets); in a
    chain body `params` holds the parameters so far, name -> (domain, default), and a value
    may become a new one. Elsewhere (ops, preprocessing) `params` is None."""

    env: dict[str, int] = attrs.Factory(dict)
    params: dict[str, tuple[str, S.Expr | None]] | None = None


@attrs.frozen
class DrawnChain:
    """A chain definition and what a call of it needs: its parameters, name -> (domain,
    default or None), and whether it can take an edge's stride. Its modules keep channels."""

    definition: S.ChainDef
    params: dict[str, tuple[str, S.Expr | None]]
    stride_capable: bool


@attrs.frozen
class DrawnOp:
    """An op definition; valid at stride 1, and at stride 2 when `stride2`. `factorized`
    when its stride-2 form is a factorized_reduce (which needs even channels)."""

    definition: S.OpDef
    stride2: bool
    factorized: bool


@attrs.frozen
class DrawnKind:
    """A cell kind without its preprocess statements, which depend on where the network
    places it (see `_cell_def`)."""

    name: str
    inputs: int
    reduction: bool
    widening: int  # the cell's output channels over its channels
    needs_even_channels: bool
    statements: tuple[S.CellStmt, ...]


def _constant(draw, domain: str, env: Mapping[str, int]) -> S.Expr:
    value = draw(st.sampled_from(DOMAINS[domain]))
    if domain == "kernel" and draw(st.integers(0, 3)) == 0:  # now and then a non-square one
        return S.Size(*draw(st.sampled_from([(1, 3), (3, 1), (1, 5), (5, 3)])))
    if isinstance(value, bool):
        return S.Bool(value)
    if isinstance(value, float):
        return S.Number(value)
    return _expr(draw, value, env, 2)


def _param_use(draw, domain: str, params: dict) -> S.Expr:
    """A use of a chain parameter of `domain`: an existing one, or a new one recorded."""
    if domain == "kernel" and draw(st.booleans()):
        half = _param_use(draw, "half", params)
        return S.BinOp("+", S.BinOp("*", S.Number(2), half), S.Number(1))
    same = sorted(name for name, (kind, _) in params.items() if kind == domain)
    if same and draw(st.booleans()):
        return S.Var(draw(st.sampled_from(same)))
    name = _fresh(draw, params)
    default = _constant(draw, domain, {}) if draw(st.booleans()) else None
    params[name] = (domain, default)
    return S.Var(name)


def _value(draw, domain: str, scope: _Scope) -> S.Expr:
    if scope.params is not None and draw(st.booleans()):
        return _param_use(draw, domain, scope.params)
    return _constant(draw, domain, scope.env)


def _shuffled(draw, items) -> tuple:
    return tuple(draw(st.permutations(items))) if len(items) > 1 else tuple(items)


def _module_call(draw, kind: str, scope: _Scope, stride: S.Expr | None = None) -> S.Call:
    args = [S.Arg(attribute, _value(draw, domain, scope))
            for attribute, domain, required in OP_MODULES[kind] if required or draw(st.booleans())]
    if stride is not None:
        args.append(S.Arg("stride", stride))
    return S.Call(kind, _shuffled(draw, args))


def _chain_call(draw, chain: DrawnChain, scope: _Scope) -> S.Call:
    args = [S.Arg(name, _value(draw, domain, scope))
            for name, (domain, default) in chain.params.items()
            if default is None or draw(st.booleans())]
    return S.Call(chain.definition.name, _shuffled(draw, args))


# An inverted bottleneck: a 1x1 conv to E times the place's input channels (`in`), perhaps a
# depthwise conv there, and a 1x1 conv back to the channels the place must produce.
EXPANSION = "expansion"


def _expansion(draw) -> tuple[S.Call, ...]:
    wide = S.BinOp("*", S.Number(draw(st.sampled_from([2, 3]))), S.Var("in"))
    calls = [S.Call("conv", (S.Arg("kernel", S.Number(1)), S.Arg("out", wide)))]
    if draw(st.booleans()):
        calls.append(S.Call("conv", (S.Arg("kernel", S.Number(draw(st.sampled_from([3, 5])))),
                                     S.Arg("depthwise", S.Bool(True)))))
    return (*calls, S.Call("conv", (S.Arg("kernel", S.Number(1)),)))


# A sum or product of two branches, each beginning with a module that can take the place's
# stride (a group passes it into every branch).
GROUP = "group"


def _group_of_calls(draw, scope: _Scope) -> S.Group:
    branches = tuple(
        (_module_call(draw, draw(st.sampled_from(sorted(STRIDE_CAPABLE))), scope),
         *[_module_call(draw, kind, scope) for kind in draw(st.lists(
             st.sampled_from(sorted(OP_MODULES)), max_size=1))])
        for _ in range(2))
    return S.Group(draw(st.sampled_from(["sum", "product"])), branches)


def _capable(part) -> bool:
    if part in (EXPANSION, GROUP):
        return True
    return part.stride_capable if isinstance(part, DrawnChain) else part in STRIDE_CAPABLE


def _body(draw, chains: list[DrawnChain], scope: _Scope, max_size: int = 3,
          stride_capable: bool = False) -> tuple[tuple[S.Call, ...], bool]:
    """A channel-keeping chain of basic modules and chain calls, and whether it can take a
    stride. With `stride_capable` it can, and sometimes says so: its first module gets an
    explicit stride=2 (for a `stride 2:` form)."""
    parts = draw(st.lists(st.sampled_from([*OP_MODULES, *chains, EXPANSION, GROUP]),
                          min_size=1, max_size=max_size))
    if stride_capable and not any(_capable(part) for part in parts):
        parts.insert(draw(st.integers(0, len(parts))),
                     draw(st.sampled_from(sorted(STRIDE_CAPABLE))))
    calls = []
    for index, part in enumerate(parts):
        if part == EXPANSION:
            calls.extend(_expansion(draw))
        elif part == GROUP:
            calls.append(_group_of_calls(draw, scope))
        elif isinstance(part, DrawnChain):
            calls.append(_chain_call(draw, part, scope))
        else:
            explicit = (stride_capable and index == 0 and part in STRIDE_CAPABLE
                        and draw(st.booleans()))
            calls.append(_module_call(draw, part, scope,
                                      _expr(draw, 2, {}, 1) if explicit else None))
    return tuple(calls), any(_capable(part) for part in parts)


@st.composite
def chains(draw, max_size: int = 3) -> list[DrawnChain]:
    """Chain definitions with parameters (some with defaults), each calling only chains
    drawn before it, so that no chain calls itself."""
    drawn: list[DrawnChain] = []
    for _ in range(draw(st.integers(0, max_size))):
        name = _fresh(draw, {*KINDS, *(chain.definition.name for chain in drawn)})
        params: dict[str, tuple[str, S.Expr | None]] = {}
        body, capable = _body(draw, drawn, _Scope(params=params), max_size=4)
        order = _shuffled(draw, sorted(params))
        definition = S.ChainDef(name, tuple(S.Param(p, params[p][1]) for p in order), body)
        drawn.append(DrawnChain(definition, params, capable))
    return drawn


def _factorized_form(draw, chains: list[DrawnChain]) -> tuple[S.Call, ...]:
    """factorized_reduce, perhaps followed by more: once it has strided, nothing else does."""
    flags = [S.Arg(attribute, S.Bool(draw(st.booleans())))
             for attribute in ("affine", "track_running_stats") if draw(st.booleans())]
    rest = _body(draw, chains, _Scope())[0] if draw(st.booleans()) else ()
    return (S.Call("factorized_reduce", tuple(flags)), *rest)


@st.composite
def ops(draw, chains: list[DrawnChain], min_size: int = 1, max_size: int = 4) -> list[DrawnOp]:
    """Op definitions: one chain for any stride, or `stride 1:` / `stride 2:` forms."""
    names = draw(st.lists(identifiers(), min_size=min_size, max_size=max_size, unique=True))
    drawn = []
    for name in names:
        body, capable = _body(draw, chains, _Scope())
        shape = draw(st.sampled_from(["any stride", "stride 1 only", "both strides"]))
        if shape == "any stride":
            drawn.append(DrawnOp(S.OpDef(name, (S.StrideForm(None, body),)), capable, False))
        elif shape == "stride 1 only":
            drawn.append(DrawnOp(S.OpDef(name, (S.StrideForm(1, body),)), False, False))
        else:
            factorized = draw(st.booleans())
            strided = (_factorized_form(draw, chains) if factorized else
                       _body(draw, chains, _Scope(), stride_capable=True)[0])
            forms = _shuffled(draw, [S.StrideForm(1, body), S.StrideForm(2, strided)])
            drawn.append(DrawnOp(S.OpDef(name, forms), True, factorized))
    return drawn


@st.composite
def projecting_ops(draw, taken: set[str]) -> list[DrawnOp]:
    """Ops that give the channels of their place whatever they take in (an activation or BN,
    then an inverted bottleneck ending in a 1x1 conv to `out`): the candidates of layers that
    change the channels. They stride in their first conv."""
    drawn = []
    for _ in range(draw(st.integers(1, 2))):
        name = _fresh(draw, taken)
        taken.add(name)
        before = draw(st.lists(st.sampled_from(["relu", "bn", "relu6"]), max_size=1))
        body = (*(S.Call(kind) for kind in before), *_expansion(draw))
        drawn.append(DrawnOp(S.OpDef(name, (S.StrideForm(None, body),)), True, False))
    return drawn


def _refs(names) -> tuple[S.Ref, ...]:
    return tuple(S.Ref(name) for name in names)


def _op_names(draw, usable: list[DrawnOp]) -> tuple[str, ...]:
    chosen = draw(st.lists(st.sampled_from([op.definition.name for op in usable]), min_size=1,
                           max_size=len(usable), unique=True))
    return tuple(chosen)


def _edge_pairs(draw, inputs: int, nodes: int) -> list[tuple[int, int]] | None:
    """None for `edges all`, else a list in which every intermediate node has an input."""
    if draw(st.booleans()):
        return None
    pairs = [(src, dst) for dst in range(inputs, inputs + nodes)
             for src in sorted(draw(st.sets(st.integers(0, dst - 1), min_size=1)))]
    return list(_shuffled(draw, pairs))


def _derive(draw, pairs, sets, inputs: int, nodes: int, node_sets=()) -> S.Derive:
    """`derive all`, `top k` with k at most the fewest searchable inputs of a node (fixed
    edges, of one candidate, are kept besides) or a k per node at most its own, excluding
    ops so that every edge (and every vertex of `node_sets`) keeps a candidate."""
    searchable = [sum(1 for pair in pairs if pair[1] == node and len(sets[pair]) > 1)
                  for node in range(inputs, inputs + nodes)]
    fewest = min((count for count in searchable if count), default=0)
    per_node = st.tuples(*(st.integers(1, max(count, 1)) for count in searchable))
    top = draw(st.none() | st.integers(1, fewest) | per_node) if fewest else None
    if isinstance(top, tuple) and len(top) == 1:
        top = top[0]  # `top k` of one node reads back as k
    choices = [*sets.values(), *(names for names in node_sets if len(names) > 1)]
    names = sorted({name for names in choices for name in names})
    exclude = draw(st.lists(st.sampled_from(names), unique=True, max_size=2))
    for names in choices:
        if all(name in exclude for name in names):
            exclude.remove(names[0])
    return S.Derive(top, _refs(exclude))


def _most_kept(pairs, sets, inputs: int, nodes: int, top) -> int:
    """The most edges the derivation rule `top` keeps (what `max_edges` is checked against)."""
    kept = 0
    for position, node in enumerate(range(inputs, inputs + nodes)):
        into = [pair for pair in pairs if pair[1] == node]
        searched = sum(1 for pair in into if len(sets[pair]) > 1)
        k = top if top is None or isinstance(top, int) else top[position]
        kept += len(into) - searched + (searched if k is None else min(k, searched))
    return kept


@st.composite
def node_op_kinds(draw, ops: list[DrawnOp], name: str) -> DrawnKind:
    """A cell whose vertices carry the ops (NAS-Bench-101's): one input, 1 to 3 vertices with
    `node_ops` and perhaps `node v:` candidates, wires of any ops, the last vertex or an
    output vertex (fed by at least one vertex, not by the input, whose wire would need an
    op that widens), per-node tops and perhaps `max_edges`."""
    vertices = draw(st.integers(1, 3))
    output = draw(st.sampled_from(["last", "vertex"]))
    nodes = vertices + (output == "vertex")
    last = nodes  # the input is node 0
    pairs = [(src, dst) for dst in range(1, last + 1)
             for src in sorted(draw(st.sets(st.integers(0, dst - 1), min_size=1)))]
    if output == "vertex":
        pairs = [pair for pair in pairs if pair != (0, last)]
        if not any(dst == last for _, dst in pairs):
            pairs.append((last - 1, last))
    pairs = list(_shuffled(draw, pairs))
    wires = _op_names(draw, ops)
    sets = {pair: wires for pair in pairs}
    statements: list[S.CellStmt] = [S.Nodes(vertices), S.Candidates(_refs(wires)),
                                    S.Edges(tuple(S.EdgeRef(src, dst) for src, dst in pairs))]
    for src, dst in draw(st.lists(st.sampled_from(pairs), max_size=2, unique=True)):
        sets[(src, dst)] = _op_names(draw, ops)
        statements.append(S.EdgeOverride(S.EdgeRef(src, dst), _refs(sets[(src, dst)])))
    default = _op_names(draw, ops)
    node_sets = [default] * vertices
    statements.append(S.NodeOps(_refs(default)))
    for vertex in draw(st.lists(st.integers(1, vertices), max_size=2, unique=True)):
        node_sets[vertex - 1] = _op_names(draw, ops)
        statements.append(S.NodeOverride(vertex, _refs(node_sets[vertex - 1])))
    if output == "vertex" or draw(st.booleans()):
        statements.append(S.Output(S.Ref(output)))
    derive = _derive(draw, pairs, sets, 1, nodes, node_sets) if draw(st.booleans()) else None
    if derive is not None:
        statements.append(derive)
    if draw(st.booleans()):
        kept = _most_kept(pairs, sets, 1, nodes, None if derive is None else derive.top)
        statements.append(S.MaxEdges(kept + draw(st.integers(0, 2))))
    widening = sum(1 for src, dst in pairs if dst == last and src > 0) \
        if output == "vertex" else 1
    return DrawnKind(name, 1, False, widening, False, tuple(statements))


@st.composite
def cell_kinds(draw, ops: list[DrawnOp], name: str, reduction: bool) -> DrawnKind:
    """A cell kind using `ops`: 1 or 2 inputs, 1 to 4 nodes, all edges or a list, per-edge
    candidate sets, any output and derivation rule. A reduction cell puts only stride-2
    capable ops on the edges that leave its inputs."""
    inputs = draw(st.integers(1, 2))
    nodes = draw(st.integers(1, 4))
    listed = _edge_pairs(draw, inputs, nodes)
    pairs = listed if listed is not None else [(src, dst) for dst in range(inputs, inputs + nodes)
                                              for src in range(dst)]
    strided = [op for op in ops if op.stride2] if reduction else ops
    candidates = _op_names(draw, strided)
    statements: list[S.CellStmt] = [S.Nodes(nodes), S.Candidates(_refs(candidates))]
    if inputs != 1 or draw(st.booleans()):
        statements.append(S.Inputs(inputs))
    if reduction:
        statements.append(S.Reduction())
    if listed is not None:
        statements.append(S.Edges(tuple(S.EdgeRef(src, dst) for src, dst in listed)))
    elif draw(st.booleans()):
        statements.append(S.Edges(None))
    sets = {pair: candidates for pair in pairs}
    for src, dst in draw(st.lists(st.sampled_from(pairs), max_size=3, unique=True)):
        sets[(src, dst)] = _op_names(draw, strided if src < inputs else ops)
        statements.append(S.EdgeOverride(S.EdgeRef(src, dst), _refs(sets[(src, dst)])))
    if draw(st.booleans()):
        statements.append(S.Combine(S.Ref("sum")))
    output = draw(st.sampled_from([None, "last", "concat"]))
    # `output concat` may list the nodes it joins, in any order (NASNet's cells join those no
    # other node reads).
    joined = draw(st.permutations(range(inputs, inputs + nodes)).flatmap(
        lambda order: st.integers(1, nodes).map(lambda count: order[:count]))) \
        if output == "concat" and draw(st.booleans()) else []
    if output is not None:
        statements.append(S.Output(S.Ref(output), tuple(S.Number(node) for node in joined)))
    if draw(st.booleans()):
        statements.append(_derive(draw, pairs, sets, inputs, nodes))
    strided_names = {name for (src, _), names in sets.items() if src < inputs for name in names}
    factorized = reduction and any(op.factorized and op.definition.name in strided_names
                                   for op in ops)
    widening = (len(joined) or nodes) if output == "concat" else 1
    return DrawnKind(name, inputs, reduction, widening, inputs == 2 or factorized,
                     tuple(statements))


# --- valid programs ----------------------------------------------------------------------------

_PREPROCESS = (S.Call("relu"), S.Call("conv", (S.Arg("kernel", S.Number(1)),)), S.Call("bn"))
_PREPROCESS_REDUCED = (S.Call("factorized_reduce"),)
_EVEN_CHANNELS = (2, 4, 6, 8, 12, 16)
_IMAGE = {"channels": (1, 3), "size": (8, 16, 32)}


# A `layers` statement among a network's stages.
LAYERS = "layers"


def _layers(draw, ops: list[DrawnOp], projecting: list[DrawnOp], taken: set[str],
            env: dict[str, int], arriving: tuple[int, int]
            ) -> tuple[S.Layers, list[tuple[int, int]]]:
    """A `layers` statement of 1 to 3 layers on what `arriving` (channels, size) gives: at
    other channels with projecting candidates, or at the same with any op able to take its
    first layer's stride; perhaps residual, perhaps an `or` op. Returns it and the (channels,
    size) after each of its layers."""
    channels, size = arriving
    count = draw(st.integers(1, 3))
    name = _fresh(draw, taken)
    taken.update([name, *(f"{name}_{i}" for i in range(1, count + 1))])
    if draw(st.booleans()):
        channels, usable = draw(st.integers(1, 16)), projecting
    else:
        usable = ops
    stride = draw(st.sampled_from([None, 1, 2]))
    # factorized_reduce halves its output channels into two: only at even widths.
    strided = [op for op in usable if op.stride2 and (channels % 2 == 0 or not op.factorized)]
    if stride == 2 and not strided:
        stride = 1
    first = strided if stride == 2 else usable
    candidates = _op_names(draw, first)
    # An `or` op only where a layer keeps its shape: one that joins none is a warning.
    keeps = count > 1 or (stride != 2 and channels == arriving[0])
    rest = [op.definition.name for op in ops if op.definition.name not in candidates]
    optional = S.Ref(draw(st.sampled_from(rest))) if keeps and rest and draw(st.booleans()) \
        else None
    stmt = S.Layers(name, _expr(draw, count, env, 2), _expr(draw, channels, env, 2), stride,
                    draw(st.booleans()), _refs(candidates), optional)
    return stmt, [(channels, -(-size // (stride or 1)))] * count


def _network(draw, kinds: list[DrawnKind], chains: list[DrawnChain], ops: list[DrawnOp] = (),
             projecting: list[DrawnOp] = ()) -> tuple[S.NetworkDef, set[str]]:
    """A network using every kind, perhaps `layers` of `ops` and `projecting` ones, and the
    names of the kinds whose inputs arrive at other channels than their own, so that they
    need a `preprocess`.

    It follows (channels, size) stage by stage as the elaborator does. Sizes are powers of two
    and every stage halves at most once, so a cell's inputs differ at most twofold in size.
    """
    body: list[S.NetStmt] = []
    env: dict[str, int] = {}
    for _ in range(draw(st.integers(0, 3))):
        name = _fresh(draw, {"classes", *env})
        value = draw(st.integers(1, 16))
        body.append(S.Let(name, _expr(draw, value, env, 2)))
        env[name] = value
    classes = draw(st.integers(1, 10))
    body.append(S.Let("classes", _expr(draw, classes, env, 2)))
    env["classes"] = classes

    image = {"channels": 3, "size": 32}
    if draw(st.booleans()):
        given = draw(st.lists(st.sampled_from(sorted(_IMAGE)), min_size=1, unique=True))
        args = []
        for name in given:
            image[name] = draw(st.sampled_from(_IMAGE[name]))
            args.append(S.Arg(name, _expr(draw, image[name], env, 2)))
        body.append(S.Input(tuple(args)))
    if draw(st.booleans()):
        flags = draw(st.lists(st.sampled_from(["affine", "track_running_stats"]), unique=True))
        body.append(S.Search(S.Call("bn", tuple(S.Arg(flag, S.Bool(draw(st.booleans())))
                                                for flag in flags))))

    stem_channels = draw(st.integers(1, 16))
    conv = S.Call("conv", _shuffled(draw, [
        S.Arg("kernel", _expr(draw, draw(st.sampled_from(DOMAINS["kernel"])), env, 2)),
        S.Arg("out", _expr(draw, stem_channels, env, 2))]))
    after = draw(st.lists(st.sampled_from([S.Call("bn"), S.Call("relu")]), max_size=2))
    body.append(S.Stem((conv, *after)))
    history = [(stem_channels, image["size"])]  # (channels, size) after each stage

    needs_preprocess: set[str] = set()
    extra = draw(st.lists(st.sampled_from([*kinds, "resnet_block", *chains,
                                           *([LAYERS] if ops else [])]), max_size=3))
    taken = {kind.name for kind in kinds}
    for stage in _shuffled(draw, [*kinds, *extra]):
        channels, size = history[-1]
        if stage == LAYERS:
            stmt, after = _layers(draw, ops, projecting, taken, env, history[-1])
            body.append(stmt)
            history += after
        elif stage == "resnet_block":
            out, stride = draw(st.integers(1, 16)), draw(st.sampled_from([1, 2]))
            args = [S.Arg("out", _expr(draw, out, env, 2)),
                    S.Arg("stride", _expr(draw, stride, env, 2))]
            body.append(S.Layer((S.Call("resnet_block", _shuffled(draw, args)),)))
            history.append((out, -(-size // stride)))
        elif isinstance(stage, DrawnChain):
            body.append(S.Layer((_chain_call(draw, stage, _Scope(env)),)))
            history.append((channels, size))
        else:
            count = draw(st.integers(1, 2))
            channels = draw(st.sampled_from(_EVEN_CHANNELS) if stage.needs_even_channels
                            else st.integers(1, 16))
            body.append(S.Cells(S.Ref(stage.name), _expr(draw, count, env, 2),
                                _expr(draw, channels, env, 2)))
            for _ in range(count):
                arriving = ([history[0]] * stage.inputs + history)[-stage.inputs:]
                size = arriving[-1][1]
                if any(c_in != channels for c_in, s_in in arriving if s_in == size):
                    needs_preprocess.add(stage.name)
                history.append((channels * stage.widening,
                                -(-size // 2) if stage.reduction else size))

    before = draw(st.lists(st.sampled_from([S.Call("bn"), S.Call("relu")]), max_size=2))
    body.append(S.Head((*before, S.Call("global_avg_pool"),
                        S.Call("linear", (S.Arg("out", S.Var("classes")),)))))
    return S.NetworkDef(draw(identifiers()), tuple(body)), needs_preprocess


def _cell_def(draw, kind: DrawnKind, needs_preprocess: bool) -> S.CellDef:
    statements = list(kind.statements)
    # Two inputs may arrive at other channels or twice the size (after a reduction).
    if kind.inputs == 2 or needs_preprocess or draw(st.booleans()):
        statements.append(S.Preprocess(_PREPROCESS))
    if kind.inputs == 2:
        statements.append(S.Preprocess(_PREPROCESS_REDUCED, reduced=True))
    return S.CellDef(kind.name, _shuffled(draw, statements))


@st.composite
def programs(draw, max_kinds: int = 2) -> S.Program:
    """Whole spaces that `load` accepts: chains with parameters, ops, one to `max_kinds` cell
    kinds (some perhaps reduction cells), and a network placing them, in any order in the
    file."""
    drawn_chains = draw(chains())
    drawn_ops = draw(ops(drawn_chains))
    can_reduce = any(op.stride2 for op in drawn_ops)
    names = draw(st.lists(identifiers(), min_size=1, max_size=max_kinds, unique=True))
    kinds = [draw(node_op_kinds(drawn_ops, name)) if draw(st.integers(0, 3)) == 0 else
             draw(cell_kinds(drawn_ops, name, can_reduce and draw(st.booleans())))
             for name in names]
    projecting = draw(projecting_ops({*names, *(op.definition.name for op in drawn_ops),
                                      *(chain.definition.name for chain in drawn_chains)}))
    network, needs_preprocess = _network(draw, kinds, drawn_chains, drawn_ops, projecting)
    used = {ref.name for stmt in network.body if isinstance(stmt, S.Layers)
            for ref in (*stmt.ops, stmt.optional) if ref is not None}
    projecting = [op for op in projecting if op.definition.name in used]  # else "never used"
    items = [*(chain.definition for chain in drawn_chains),
             *(op.definition for op in (*drawn_ops, *projecting)),
             *(_cell_def(draw, kind, kind.name in needs_preprocess) for kind in kinds), network]
    return S.Program(_shuffled(draw, items))


def used_cell_kinds(program: S.Program) -> set[str]:
    """The cell kinds the network of a program places: its cells' and its layers'."""
    (network,) = (item for item in program.items if isinstance(item, S.NetworkDef))
    env: dict[str, int] = {}
    used = set()
    for stmt in network.body:
        if isinstance(stmt, S.Let):
            env[stmt.name] = _evaluated(stmt.value, env)
        elif isinstance(stmt, S.Cells):
            used.add(stmt.cell.name)
        elif isinstance(stmt, S.Layers):
            used.update(layer_names(stmt.name, _evaluated(stmt.count, env)))
    return used


def _evaluated(expr: S.Expr, env: Mapping[str, int]) -> int:
    """The value of a whole-number expression the strategies wrote."""
    if isinstance(expr, S.Number):
        return expr.value
    if isinstance(expr, S.Var):
        return env[expr.name]
    left, right = _evaluated(expr.left, env), _evaluated(expr.right, env)
    return {"+": left + right, "-": left - right, "*": left * right,
            "/": left // right if right else 0}[expr.op]


# --- text --------------------------------------------------------------------------------------

# Names and numbers from_lark may write: short, and mostly ones the checker knows, so that many
# grammatical texts reach the checker and the elaborator instead of stopping at 'unknown name'.
_TEXT_NAMES = ("a", "b", "c", "x", "C", "classes", "sum", "last", "concat", "none", "all", "true",
               *KINDS, "kernel", "stride", "dilation", "groups", "depthwise", "out", "affine",
               "track_running_stats", "count_include_pad", "search_only", "channels", "size")
_TEXT_NUMBERS = ("1", "2", "0", "3", "5", "16")
# "space.nas" is the file the tests write the text to: importing it is a cycle.
_TEXT_PATHS = ('"darts_ops.nas"', '"space.nas"', '"missing.nas"', '""')


def _spaced(words) -> st.SearchStrategy[str]:
    # Mostly a space after each token; sometimes none, which glues words together.
    return st.builds(lambda word, gap: word + gap, st.sampled_from(words),
                     st.sampled_from([" ", " ", " ", "\n", ""]))


def grammar_texts() -> st.SearchStrategy[str]:
    """Texts the grammar generates (hypothesis.extra.lark), with short names, small numbers,
    comments and whitespace of every kind."""
    parser = lark_parser()
    explicit = {t.name: _spaced([t.pattern.value]) for t in parser.terminals
                if t.pattern.type == "str"}
    explicit.update(
        NAME=_spaced(_TEXT_NAMES),
        INT=_spaced(_TEXT_NUMBERS),
        STRING=_spaced(_TEXT_PATHS),
        WS=st.sampled_from([" ", "\n", "\t", "\r\n", "\f"]),
        COMMENT=st.from_regex(r"#[^\n]{0,8}", fullmatch=True).map(lambda text: text + "\n"),
    )
    return from_lark(parser, explicit=explicit)


@st.composite
def mutations(draw, text: str, max_slice: int = 40) -> str:
    """`text` after one to three edits, each deleting a random slice of characters,
    duplicating it, or swapping it with the slice that follows."""
    for _ in range(draw(st.integers(1, 3))):
        start = draw(st.integers(0, len(text)))
        end = draw(st.integers(start, min(len(text), start + max_slice)))
        piece = text[start:end]
        edit = draw(st.sampled_from(["delete", "duplicate", "swap"]))
        if edit == "delete":
            text = text[:start] + text[end:]
        elif edit == "duplicate":
            text = text[:end] + piece + text[end:]
        else:
            after = draw(st.integers(end, min(len(text), end + max_slice)))
            text = text[:start] + text[end:after] + piece + text[after:]
    return text


# --- candidate sets for the simplifier ----------------------------------------------------------
#
# Random edges built directly in the IR: 2 to 8 candidate ops of up to 8 modules at one
# channel count and stride, with planted shared prefixes, suffixes and middles, so that every
# rewrite rule has something to find.


@attrs.frozen
class CandidateSet:
    ops: tuple  # tuple[nasdsl.dsl.space.Op, ...]
    channels: int
    stride: int


def _activations():
    from nasdsl.dsl import modules as M
    return tuple(sorted({kind for kind in M.KINDS.values() if issubclass(kind, M.Activation)},
                        key=lambda kind: kind.kind))


ACTIVATIONS = _activations()


def _random_modules():
    """Modules that draw random numbers, each the identity in eval mode."""
    from nasdsl.dsl import modules as M
    return (M.Dropout(0.25), M.Noise(0.5, 0.0, True))


def _edge_module(draw, channels: int, random: bool = False):
    """One channel-preserving module at stride 1 (the edge's stride is placed later); with
    `random`, perhaps one that draws random numbers."""
    from nasdsl.dsl import modules as M
    kind = draw(st.sampled_from(["relu", "activation", "conv", "conv", "dwconv", "bn", "avg_pool",
                                 "max_pool", "identity", "group", "shuffle",
                                 *["random"] * random]))
    if kind == "shuffle":
        return M.ChannelShuffle(channels, draw(st.sampled_from(_divisors(channels))))
    if kind == "group":
        return _group(draw, channels, random)
    if kind == "random":
        return draw(st.sampled_from(_random_modules()))
    if kind == "relu":
        return M.ReLU()
    if kind == "activation":
        return draw(st.sampled_from(ACTIVATIONS))()
    if kind in ("conv", "dwconv"):
        kernel = draw(st.sampled_from([1, 3, 5, M.KernelSize(1, 3), M.KernelSize(3, 1)]))
        dilation = draw(st.sampled_from([1, 2])) if kernel != 1 else 1
        groups = channels if kind == "dwconv" else 1
        return M.Conv(channels, channels, kernel, 1, dilation, groups, draw(st.booleans()))
    if kind == "bn":
        return M.BatchNorm(channels, draw(st.booleans()), draw(st.booleans()))
    if kind == "avg_pool":
        return M.AvgPool(draw(st.sampled_from([1, 2, 3, 4])), 1, draw(st.booleans()))
    if kind == "max_pool":
        return M.MaxPool(draw(st.sampled_from([2, 3])), 1)
    return M.Identity()


def _group(draw, channels: int, random: bool):
    """Branches of channel-preserving modules, summed (a residual when one is the identity),
    multiplied (one perhaps pooled and gated: squeeze-and-excitation) or concatenated (of
    halves)."""
    from nasdsl.dsl import modules as M
    combine = draw(st.sampled_from(["sum", "sum", "product", "concat"]))
    if combine == "concat":
        half = channels // 2
        branches = ((M.Conv(channels, half, 1),),
                    (_edge_module(draw, channels, random), M.Conv(channels, channels - half, 1)))
        return M.Branches("concat", branches, channels, channels)
    first = M.Identity() if draw(st.booleans()) else _edge_module(draw, channels, random)
    second = [_edge_module(draw, channels, random) for _ in range(draw(st.integers(1, 2)))]
    if combine == "product" and draw(st.booleans()):
        second = [M.GlobalAvgPool(), M.Linear(channels, channels), M.Sigmoid()]
    return M.Branches(combine, ((first,), tuple(second)), channels, channels)


def _shareable_run(draw, channels: int, random: bool = False) -> list:
    """A short run of parameter-free modules, the kind the simplifier may share (with
    `random`, perhaps modules that draw random numbers, which it must not share)."""
    from nasdsl.dsl import modules as M
    choices = [M.ReLU(), draw(st.sampled_from(ACTIVATIONS))(),
               M.BatchNorm(channels, False, draw(st.booleans())), M.MaxPool(3, 1),
               M.AvgPool(3, 1, draw(st.booleans())), *(_random_modules() if random else ())]
    return draw(st.lists(st.sampled_from(choices), min_size=1, max_size=2))


def _place_stride(chain: list, stride: int):
    """Put the edge's stride on the chain's first stride-capable module, as the language does."""
    from nasdsl.dsl import modules as M
    if stride == 1:
        return chain
    for index, module in enumerate(chain):
        if module.stride_capable:
            chain = list(chain)
            chain[index] = attrs.evolve(module, stride=stride)
            return chain
    # A chain with nothing to stride gets a strided 1x1 conv in front.
    channels = next(m.channels for m in chain if hasattr(m, "channels")) if any(
        hasattr(m, "channels") for m in chain) else None
    return [M.AvgPool(1, stride, True) if channels is None else M.Conv(channels, channels, 1,
                                                                        stride), *chain]


def _divisors(channels: int) -> list[int]:
    return [d for d in range(1, channels + 1) if channels % d == 0]


def _linear_core(draw, channels: int) -> list:
    """A chain that is one kernel: what reparameterization merges once sharing exposes it."""
    from nasdsl.dsl import modules as M
    kernel = draw(st.sampled_from([1, 3, 5, M.KernelSize(1, 3), M.KernelSize(5, 1)]))
    dilation = draw(st.sampled_from([1, 2])) if kernel != 1 else 1
    bias = draw(st.booleans())
    form = draw(st.sampled_from(["conv", "separable", "expansion", "pool", "residual",
                                 "shuffled", "identity"]))
    if form == "shuffled":  # FBNet's grouped 1x1 convs around a channel shuffle
        groups = draw(st.sampled_from(_divisors(channels)))
        return [M.Conv(channels, channels, 1, groups=groups), M.ChannelShuffle(channels, groups),
                M.Conv(channels, channels, 1, groups=groups, bias=bias)]
    if form == "conv":
        return [M.Conv(channels, channels, kernel, 1, dilation, 1, bias)]
    if form == "expansion":  # MobileNetV2's inverted bottleneck without its activations
        wide = draw(st.integers(2, 3)) * channels
        return [M.Conv(channels, wide, 1), M.Conv(wide, wide, kernel, 1, dilation, wide),
                M.Conv(wide, channels, 1, bias=bias)]
    if form == "separable":
        return [M.Conv(channels, channels, kernel, 1, dilation, channels),
                M.Conv(channels, channels, 1, bias=bias)]
    if form == "pool":
        return [M.AvgPool(draw(st.sampled_from([2, 3])), 1, True)]
    if form == "residual":  # RepVGG: the identity plus a kernel, merged into one kernel
        inner = [attrs.evolve(m, bias=False) if isinstance(m, M.Conv) else m
                 for m in _linear_core(draw, channels)]
        return [M.Branches("sum", ((M.Identity(),), tuple(inner)), channels, channels)]
    return []


def _cuts(chain: list, channels: int) -> list[int]:
    """The places in a chain where the tensor has `channels` (not inside an expansion)."""
    cuts, width = [0], channels
    for index, module in enumerate(chain):
        width = module.out_channels(width)
        if width == channels:
            cuts.append(index + 1)
    return cuts


@st.composite
def candidate_sets(draw, max_candidates: int = 8, exact: bool = False,
                   random: bool = False) -> CandidateSet:
    """An edge's candidates: chains of up to 8 modules, many with a linear core, with shared
    prefixes, suffixes and middles planted among random subsets of them. With `exact`, only
    what exact rewrites share is planted (prefixes of parameter-free modules, suffixes of
    linear batch-independent ones), and the cores are linear: most of these edges simplify to
    exact plans. With `random`, modules that draw random numbers (dropout, additive noise)
    appear among the modules and the planted runs."""
    from nasdsl.dsl import modules as M
    from nasdsl.dsl.space import Op
    channels = draw(st.integers(2, 4))
    stride = draw(st.sampled_from([1, 1, 2]))
    count = draw(st.integers(2, max_candidates))
    chains = [_linear_core(draw, channels) if exact or draw(st.booleans()) else
              [_edge_module(draw, channels, random) for _ in range(draw(st.integers(0, 4)))]
              for _ in range(count)]
    for where in ("prefix", "suffix") if exact else ("prefix", "suffix", "middle"):
        if draw(st.integers(0, 9)) < 7:
            run = [M.AvgPool(3, 1, True)] if exact and where == "suffix" else \
                _shareable_run(draw, channels, random)
            members = draw(st.lists(st.integers(0, count - 1), min_size=2, max_size=count,
                                    unique=True))
            for member in members:
                chain = chains[member]
                if where == "prefix":
                    chains[member] = run + chain
                elif where == "suffix":
                    chains[member] = chain + run
                else:
                    cut = draw(st.sampled_from(_cuts(chain, channels)))
                    chains[member] = chain[:cut] + run + chain[cut:]
    ops = []
    for index, chain in enumerate(chains):
        chain = chain[:8]
        if draw(st.integers(0, 4)) == 0:
            # A `zero` alone, or anywhere in a chain: what follows it (a bias, an affine BN,
            # an identity, another zero) decides whether the chain still outputs zero.
            cut = draw(st.integers(0, len(chain)))
            chain = chain[:cut] + [M.Zero(1)] + chain[cut:] if draw(st.booleans()) \
                else [M.Zero(1)]
        ops.append(Op(f"op{index}", tuple(_place_stride(chain, stride))))
    return CandidateSet(tuple(ops), channels, stride)
