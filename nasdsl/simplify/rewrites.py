"""The rewrite rules of topological simplification (seed 000 Sec. 3), kept as data.

Each rule looks at one mix and either finds nothing or returns the rewritten node and a
`Rewrite` record. Rules never look at names: what may be shared, and whether a rewrite is
exact, follows from the modules' facts (`nasdsl.dsl.modules`). The loop that applies them is in
`nasdsl.simplify.compiler`.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from nasdsl.dsl.modules import Branches, Conv, Module, Zero, is_zero_chain, one_kernel
from nasdsl.simplify.plan import (Apply, Branch, Merged, Mix, Node, PlanInterpreter, Rewrite, Seq,
                                  Term, Weight, walk)


@attrs.frozen
class Options:
    """What the rules may do: share parametric modules (ties weights), merge kernels of at
    most `max_extent` (None: any)."""

    tie_params: bool = False
    max_extent: int | None = None

    def shareable(self, module: Module) -> bool:
        """A trivial module (zero, identity) gains nothing from sharing; a random one cannot
        be shared (one draw for several candidates); parametric modules are shared only when
        tied."""
        if module.trivial or module.random:
            return False
        return self.tie_params or not module.has_params


Result = tuple[Node, Rewrite] | None


@attrs.frozen
class Rule:
    """A rewrite rule and where the driver (`nasdsl.simplify.compiler`) applies it.

    structural    tried at every mix, in registry order, before the mix's branches are
                  simplified; the first that applies rewrites the mix (else: last, once the
                  branches are simplified, on what the structural rules left)
    rides_along   exact and always paying: applied whenever any structural rule is asked
                  for, and not a rule a user names
    shares        the rule shares candidates' modules, so a plan it rewrote ties the
                  parameters of the modules it shared
    """

    name: str
    apply: Callable[[Mix, Options], Result]
    structural: bool = True
    rides_along: bool = False
    shares: bool = False


# --- helpers over the branches of a mix ----------------------------------------------------

def steps_of(node: Node) -> tuple[Node, ...]:
    return node.steps if isinstance(node, Seq) else (node,)


def seq(*parts: Node | tuple[Node, ...]) -> Node:
    """A flat sequence of steps; a single step stands alone."""
    flat: list[Node] = []
    for part in parts:
        for step in (part if isinstance(part, tuple) else steps_of(part)):
            flat.extend(steps_of(step))
    return flat[0] if len(flat) == 1 else Seq(tuple(flat))


def regroup(mix: Mix, members: list[int], build: Callable[[list[Branch]], Node]) -> Node:
    """Replace the `members` of a mix by one branch of weight p(I_S) whose node `build`
    makes from the members under conditional weights beta_i / p(I_S) (Eq. 7-10)."""
    den = mix.branches[members[0]].weight.den
    group = frozenset().union(*(mix.branches[i].weight.num for i in members))
    inner = [Branch(mix.branches[i].weight.conditional(group), mix.branches[i].node)
             for i in members]
    node = build(inner)
    weight = Weight(group, den)
    rest = [branch for index, branch in enumerate(mix.branches) if index not in members]
    if not rest and weight.is_one:
        return node
    rest.insert(min(members), Branch(weight, node))
    return Mix(tuple(rest))


def _shared(applies: list[Apply]) -> Apply:
    first = applies[0]
    return Apply(first.module, first.candidate, first.position,
                 tuple(sorted({a.candidate for a in applies[1:]} | set(first.shared_by))))


def _is_exact_to_share_after(modules) -> bool:
    """Sharing a module after the point where candidates differ commutes with the weighted
    sum only if the module is linear and does not look at the batch."""
    return all(module.linear and not module.batch_dependent for module in modules)


def _shape_after(steps) -> tuple[int, int | None, int | None]:
    """(stride so far, input channels, output channels) of a run of steps from the mix's
    input; channels are None where no module of the run names them (unchanged)."""
    return _Shape().run(Seq(tuple(steps)), (1, None, None))


class _Shape(PlanInterpreter):
    """The value passed along is `_shape_after`'s triple."""

    def apply(self, node: Apply, value):
        stride, c_in, c_out = value
        module = node.module
        if c_in is None and hasattr(module, "c_in"):
            c_in = module.c_in
        return stride * module.stride, c_in, getattr(module, "c_out", c_out)

    def mix(self, node: Mix, value):
        # All branches of a mix agree in shape: the first stands for them.
        return self.run(node.branches[0].node, value) if node.branches else value

    def merged(self, node: Merged, value):
        return self.apply(Apply(Conv(node.c_in, node.c_out, 1, node.stride), -1, -1), value)


def _agree(parts) -> bool:
    """Whether the parts, all starting at the mix's input, end in tensors of one shape."""
    shapes = [_shape_after(part) for part in parts]
    inputs = {c_in for _, c_in, _ in shapes if c_in is not None}
    known = next(iter(inputs)) if len(inputs) == 1 else None
    outputs = {known if c_out is None else c_out for _, _, c_out in shapes}
    return len(inputs) <= 1 and len(outputs) <= 1 and len({s for s, _, _ in shapes}) <= 1


def _weighted(mix: Mix) -> bool:
    return all(branch.weight is not None for branch in mix.branches)


# --- the rules ----------------------------------------------------------------------------

def drop_zero(mix: Mix, options: Options) -> Result:
    """A candidate that outputs zeros whatever its input adds nothing to the sum: leave it
    out (exact). A `zero` followed by a bias or an affine BN outputs that bias, not zero."""
    zeros = [i for i, b in enumerate(mix.branches) if _outputs_zero(b.node)]
    if not zeros:
        return None
    kept = tuple(b for i, b in enumerate(mix.branches) if i not in zeros)
    modules = tuple(s.module for i in zeros for s in steps_of(mix.branches[i].node))
    candidates = tuple(_candidates(mix.branches[i].node) for i in zeros)
    return Mix(kept), Rewrite("drop-zero", modules, tuple(c for cs in candidates for c in cs), True)


def _outputs_zero(node: Node) -> bool:
    steps = steps_of(node)
    return all(isinstance(s, Apply) for s in steps) and is_zero_chain([s.module for s in steps])


def partial_sharing(mix: Mix, options: Options) -> Result:
    """PMS (Eq. 3-10): candidates that begin (or end) with the same module compute it once
    around a nested mix of their unique parts. The largest group goes first; a prefix before
    a suffix on ties, then the earliest candidate."""
    if not _weighted(mix):
        return None
    groups: dict[tuple[str, Module], list[int]] = {}
    for index, branch in enumerate(mix.branches):
        steps = steps_of(branch.node)
        if not steps:
            continue  # an identity has nothing to share
        for side, step in (("prefix", steps[0]), ("suffix", steps[-1])):
            if isinstance(step, Apply) and options.shareable(step.module):
                groups.setdefault((side, step.module), []).append(index)
    candidates = [(key, members) for key, members in groups.items() if len(members) >= 2
                  and (key[0] == "prefix" or
                       _agree(steps_of(mix.branches[i].node)[:-1] for i in members))]
    if not candidates:
        return None
    (side, module), members = min(
        candidates, key=lambda kv: (-len(kv[1]), kv[0][0] != "prefix", kv[1][0]))
    ends = [steps_of(mix.branches[i].node)[0 if side == "prefix" else -1] for i in members]
    shared = _shared(ends)

    def build(inner: list[Branch]) -> Node:
        if side == "prefix":
            rests = [Branch(b.weight, seq(steps_of(b.node)[1:])) for b in inner]
            return seq(shared, Mix(tuple(rests)))
        rests = [Branch(b.weight, seq(steps_of(b.node)[:-1])) for b in inner]
        return seq(Mix(tuple(rests)), shared)

    exact = side == "prefix" or _is_exact_to_share_after([module])
    node = regroup(mix, members, build)
    return node, Rewrite(f"pms-{side}", (module,), tuple(a.candidate for a in ends), exact,
                         "tied parameters" if module.has_params else "")


def floating_sharing(mix: Mix, options: Options) -> Result:
    """FMS (Eq. 11-13): candidates with the same run of modules between unique parts become
    two chained mixes with the same weights around one copy of the run (vertex-exact)."""
    if not _weighted(mix):
        return None
    chains = {i: steps_of(b.node) for i, b in enumerate(mix.branches)
              if all(isinstance(s, Apply) for s in steps_of(b.node))}
    best = None
    for module in {s.module for steps in chains.values() for s in steps}:
        if not options.shareable(module):
            continue
        at = {i: [s.module for s in steps].index(module) for i, steps in chains.items()
              if any(s.module is module for s in steps)}
        if len(at) < 2:
            continue
        if all(p == 0 for p in at.values()) or all(p == len(chains[i]) - 1 for i, p in at.items()):
            continue  # a shared prefix or suffix: partial sharing's case
        length = 1
        while all(p + length < len(chains[i]) for i, p in at.items()):
            nxt = {chains[i][p + length].module for i, p in at.items()}
            if len(nxt) != 1 or not options.shareable(next(iter(nxt))):
                break
            length += 1
        members = sorted(at)
        if not _agree(chains[i][:at[i]] for i in members):
            continue  # the first mix would sum parts of different shapes
        key = (-len(members), -length, members[0])
        if best is None or key < best[0]:
            best = (key, members, at, length)
    if best is None:
        return None
    _, members, at, length = best
    runs = [chains[i][at[i]:at[i] + length] for i in members]
    middle = tuple(_shared([run[k] for run in runs]) for k in range(length))

    def build(inner: list[Branch]) -> Node:
        first = Mix(tuple(Branch(b.weight, seq(chains[i][:at[i]])) for b, i in zip(inner, members)))
        second = Mix(tuple(Branch(b.weight, seq(chains[i][at[i] + length:]))
                           for b, i in zip(inner, members)))
        return seq(first, middle, second)

    node = regroup(mix, members, build)
    return node, Rewrite("fms", tuple(a.module for a in middle),
                         tuple(chains[i][at[i]].candidate for i in members), False)


def reparameterize(mix: Mix, options: Options) -> Result:
    """Eq. 14-16: branches that are linear chains expressible as one kernel each merge into a
    single convolution with kernel sum_i w_i K_i (exact). Merged sub-mixes merge again."""
    by_stride: dict[int, list[tuple[int, _Kernel]]] = {}
    for index, branch in enumerate(mix.branches):
        kernel = _kernel_terms(branch)
        if kernel is not None and (options.max_extent is None
                                   or kernel.extent <= options.max_extent):
            by_stride.setdefault(kernel.stride, []).append((index, kernel))
    for stride, members in by_stride.items():
        channels = {k.channels for _, k in members if k.channels is not None}
        if len(channels) != 1:
            continue  # no convolution to merge into, or convolutions that disagree
        ((c_in, c_out),) = channels
        members = [(i, k) for i, k in members if k.channels is not None or c_in == c_out]
        if len(members) < 2:
            continue
        extent = max(k.extent for _, k in members)
        merged = Merged(tuple(t for _, k in members for t in k.terms), c_in, c_out, stride,
                        extent)
        indices = [i for i, _ in members]
        rest = [b for i, b in enumerate(mix.branches) if i not in indices]
        rest.insert(min(indices), Branch(None, merged))
        node = merged if len(rest) == 1 else Mix(tuple(rest))
        modules = tuple(s.module for t in merged.terms for s in t.steps)
        return node, Rewrite("reparam", modules,
                             tuple(t.candidate for t in merged.terms if t.candidate is not None),
                             True, f"one {extent}x{extent} kernel")
    return None


@attrs.frozen
class _Kernel:
    """A branch seen as kernels: their terms, stride, channels (None: keeps any), extent."""

    terms: tuple[Term, ...]
    stride: int
    channels: tuple[int, int] | None
    extent: int


def _kernel_terms(branch: Branch) -> _Kernel | None:
    node = branch.node
    if branch.weight is None:
        return None
    if isinstance(node, Merged):
        terms = tuple(Term(branch.weight.times(t.weight), t.steps, t.candidate)
                      for t in node.terms)
        return _Kernel(terms, node.stride, (node.c_in, node.c_out), node.extent)
    steps = steps_of(node)
    if not all(isinstance(s, Apply) and not isinstance(s.module, Zero) for s in steps):
        return None
    # Linear all along, but for a bias on the last conv: sum_i w_i b_i is the merged bias.
    if not one_kernel([s.module for s in steps], bias_last=True):
        return None
    extents = [s.module.extent for s in steps]
    stride = 1
    for s in steps:
        stride *= s.module.stride
    convs = [s.module for s in steps if isinstance(s.module, (Conv, Branches))]
    channels = (convs[0].c_in, convs[-1].c_out) if convs else None
    candidate = steps[0].candidate if steps else None
    return _Kernel((Term(branch.weight, tuple(steps), candidate),), stride, channels,
                   max(extents, default=1))


def _candidates(node: Node) -> tuple[int, ...]:
    """The candidates whose modules the tree runs, in order, once per module."""
    found: list[int] = []
    for inner in walk(node):
        if isinstance(inner, Apply):
            found.extend((inner.candidate, *inner.shared_by))
        elif isinstance(inner, Merged):
            found.extend(term.candidate for term in inner.terms)
    return tuple(found)


# The registry, in the order Alg. 1 tries them: the rules and the driver's policy for each.
RULES = (Rule("drop-zero", drop_zero, rides_along=True),
         Rule("pms", partial_sharing, shares=True),
         Rule("fms", floating_sharing, shares=True),
         Rule("reparam", reparameterize, structural=False))
RULE_NAMES = tuple(rule.name for rule in RULES if not rule.rides_along)  # what users name


def rule_of(record: Rewrite) -> Rule:
    """The rule a rewrite record comes from ("pms-prefix" from pms)."""
    return next(rule for rule in RULES
                if record.rule == rule.name or record.rule.startswith(f"{rule.name}-"))
