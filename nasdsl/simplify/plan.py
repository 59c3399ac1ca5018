"""The plan: what the simplifier makes of one searchable edge, and all a backend needs.

A plan is a small tree with symbolic weights:
  Apply(module, candidate, position)   run one module; its parameters live at
                                       (candidate, position) of the naive edge
  Seq(steps)                           run steps one after another (empty: identity)
  Mix(branches)                        sum of weight * branch
  Merged(terms)                        one convolution with kernel sum of weight * K_term
                                       (seed 000 Eq. 14-16), each K_term the kernel of a
                                       linear chain of modules

Weights are ratios of sums of the edge's weight vector beta: Weight({i}) is beta_i,
Weight(S) is p(I_S) (Eq. 8), Weight({i}, S) is beta_i / p(I_S) (Eq. 7). Nested sharing only
ever produces such ratios, so the algebra stays closed and a plan prints exactly.
"""

from __future__ import annotations

import attrs

from nasdsl.dsl.modules import Module


def _frozen_ints(values) -> frozenset[int]:
    return frozenset(values)


@attrs.frozen
class Weight:
    """sum(beta[num]) / sum(beta[den]); den None means 1."""

    num: frozenset[int] = attrs.field(converter=_frozen_ints)
    den: frozenset[int] | None = attrs.field(default=None, converter=attrs.converters.optional(
        _frozen_ints))

    @property
    def is_one(self) -> bool:
        return self.den is not None and self.num == self.den

    def conditional(self, group: frozenset[int]) -> Weight:
        """This weight seen inside a sub-mix over `group` (Eq. 7 / Eq. 9)."""
        return Weight(self.num, group)

    def times(self, inner: Weight) -> Weight:
        """The weight of a term of a sub-mix whose normalizer is this weight's numerator."""
        assert inner.den == self.num, "a sub-mix is normalized by its own weight"
        return Weight(inner.num, self.den)

    def __str__(self) -> str:
        return _sum(self.num) if self.den is None else f"{_sum(self.num)}/{_sum(self.den)}"


def _sum(indices: frozenset[int]) -> str:
    ordered = sorted(indices)
    return f"b{ordered[0]}" if len(ordered) == 1 else "p(" + ",".join(map(str, ordered)) + ")"


@attrs.frozen
class Apply:
    module: Module
    candidate: int
    position: int
    shared_by: tuple[int, ...] = ()  # other candidates whose copy of this module it replaces


@attrs.frozen
class Seq:
    steps: tuple[Node, ...] = ()


@attrs.frozen
class Branch:
    """weight * node; weight None when the node applies its weights itself (a merged conv
    carries them in its kernel, so its output needs no multiplication)."""

    weight: Weight | None
    node: Node


@attrs.frozen
class Mix:
    branches: tuple[Branch, ...]


def recomputable(branch: Branch) -> bool:
    """A weighted branch of stateless, non-trivial modules (pools, ReLU): its output, which
    the weight's gradient needs, is cheaper to recompute in backward from the mix's input
    than to keep (max pooling would also keep int64 indices)."""
    steps = branch.node.steps if isinstance(branch.node, Seq) else (branch.node,)
    return (branch.weight is not None and bool(steps)
            and all(isinstance(step, Apply) and step.module.stateless
                    and not step.module.trivial for step in steps))


@attrs.frozen
class Term:
    """One kernel of a merged convolution: the weight and the linear chain it comes from."""

    weight: Weight
    steps: tuple[Apply, ...]
    candidate: int | None  # None for an identity left over after sharing


@attrs.frozen
class Merged:
    """One convolution whose kernel is the weighted sum of its terms' kernels, computed from
    the original parameters at every call."""

    terms: tuple[Term, ...]
    c_in: int
    c_out: int
    stride: int
    extent: int


Node = Apply | Seq | Mix | Merged


@attrs.frozen
class Rewrite:
    """One step of the simplification, for `--explain` and for the exactness label."""

    rule: str
    modules: tuple[Module, ...]
    candidates: tuple[int, ...]
    exact: bool
    note: str = ""

    @property
    def label(self) -> str:
        return "exact" if self.exact else "vertex-exact"


@attrs.frozen
class Plan:
    """The simplified edge: its tree, the rewrites that made it, and the candidates' names."""

    root: Node
    names: tuple[str, ...]
    rewrites: tuple[Rewrite, ...] = ()
    tied: bool = False  # parametric modules were shared: outside the guarantees
    # Recomputable branches (see `recomputable`) run again in backward instead of keeping
    # their outputs: less memory for a second forward of each.
    recompute: bool = False

    @property
    def exact(self) -> bool:
        return all(rewrite.exact for rewrite in self.rewrites) and not self.tied

    def mixes_running_stats(self) -> bool:
        """True when a module that keeps running statistics runs on a mixture: a shared
        suffix, or a unique part after FMS's first mix. While the weights are soft it
        accumulates statistics of mixtures, which the naive edge's modules never see, so in
        eval mode such a plan matches the naive edge only at the vertex it was trained on."""
        return _StatsAfterMix().run(self.root, (False, False))[1]


class PlanInterpreter:
    """Runs a plan with a value flowing through it, one method per node kind (`apply`,
    `seq`, `mix`, `merged`), as torch.fx's Interpreter runs a graph: subclasses say what a
    value is (a torch tensor, the cost model's symbolic tensor, a printer's depth) and what
    each node does to it. A sequence passes the value through its steps in order."""

    def run(self, node: Node, value):
        return getattr(self, type(node).__name__.lower())(node, value)

    def seq(self, node: Seq, value):
        for step in node.steps:
            value = self.run(step, value)
        return value

    def apply(self, node: Apply, value):
        raise NotImplementedError

    def mix(self, node: Mix, value):
        raise NotImplementedError

    def merged(self, node: Merged, value):
        raise NotImplementedError


def walk(node: Node):
    """Every node of the tree, each before the nodes inside it, in order."""
    yield node
    if isinstance(node, Seq):
        for step in node.steps:
            yield from walk(step)
    elif isinstance(node, Mix):
        for branch in node.branches:
            yield from walk(branch.node)


def mix_branches(node: Node) -> list[Branch]:
    """Every weighted or unweighted branch of every mix in the tree, outermost first."""
    return [branch for inner in walk(node) if isinstance(inner, Mix) for branch in inner.branches]


def weights_of(node: Node) -> list[Weight]:
    """The distinct weights the tree's mixes and merged kernels read, in order of first use."""
    found: dict[Weight, None] = {}
    for inner in walk(node):
        if isinstance(inner, Mix):
            found.update(dict.fromkeys(b.weight for b in inner.branches if b.weight is not None))
        elif isinstance(inner, Merged):
            found.update(dict.fromkeys(term.weight for term in inner.terms))
    return list(found)


class _StatsAfterMix(PlanInterpreter):
    """Whether a module that keeps running statistics runs on a mixture; the value passed
    along is (a mix or merged kernel came before, such a module was found)."""

    def apply(self, node: Apply, value):
        mixed, found = value
        return mixed, found or (mixed and node.module.keeps_running_stats)

    def mix(self, node: Mix, value):
        found = any(self.run(branch.node, value)[1] for branch in node.branches)
        return True, value[1] or found

    def merged(self, node: Merged, value):
        return True, value[1]


def naive_plan(ops) -> Plan:
    """The edge as the naive mix: every candidate's chain under its own weight."""
    branches = tuple(
        Branch(Weight({index}), Seq(tuple(Apply(module, index, position)
                                          for position, module in enumerate(op.modules))))
        for index, op in enumerate(ops))
    return Plan(Mix(branches), tuple(op.name for op in ops))


def format_plan(plan: Plan) -> str:
    """An indented text rendering: the form `--explain` prints and golden tests compare."""
    printer = _Printer(plan)
    printer.run(plan.root, 0)
    return "\n".join(printer.lines)


class _Printer(PlanInterpreter):
    """The plan as indented lines; the value passed along is the depth."""

    def __init__(self, plan: Plan):
        self.plan = plan
        self.lines: list[str] = []

    def emit(self, depth: int, text: str) -> None:
        self.lines.append("  " * depth + text)

    def apply(self, node: Apply, depth):
        names = self.plan.names
        shared = f"  [shared by {', '.join(names[i] for i in (node.candidate, *node.shared_by))}]" \
            if node.shared_by else ""
        self.emit(depth, f"{node.module}{shared}")
        return depth

    def seq(self, node: Seq, depth):
        if not node.steps:
            self.emit(depth, "identity")
        return super().seq(node, depth)

    def mix(self, node: Mix, depth):
        self.emit(depth, "mix")
        for branch in node.branches:
            again = "  (recomputed in backward)" if self.plan.recompute and \
                recomputable(branch) else ""
            self.emit(depth, f"  * {branch.weight or 'weighted inside'}{again}")
            self.run(branch.node, depth + 2)
        return depth

    def merged(self, node: Merged, depth):
        self.emit(depth, f"merged conv {node.extent}x{node.extent} stride {node.stride}")
        for term in node.terms:
            chain = " -> ".join(str(step.module) for step in term.steps) or "identity"
            name = "identity" if term.candidate is None else self.plan.names[term.candidate]
            self.emit(depth, f"  * {term.weight}: {name}: {chain}")
        return depth
