"""Recursive simplification of one edge (seed 000 Alg. 1).

At a mix, the structural rules (drop-zero, PMS, FMS) are tried in order and the first that
applies rewrites it; the result is simplified again, which recurses into the sub-mixes the
rewrite created. When no structural rule applies, the branches are simplified, and last the
mix's linear branches are merged by reparameterization.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Iterable

import attrs

from nasdsl.dsl.modules import Branches, Conv
from nasdsl.dsl.space import Cell, Edge, Network, Op
from nasdsl.errors import NasError
from nasdsl.simplify.cost import OBJECTIVES, Cost, Setting, plan_cost
from nasdsl.simplify.plan import (Apply, Branch, Merged, Mix, Node, Plan, PlanInterpreter,
                                  Rewrite, Seq, mix_branches, naive_plan, recomputable)
from nasdsl.simplify.rewrites import RULE_NAMES, RULES, Options, rule_of, seq


def parse_rewrites(text: str) -> frozenset[str]:
    """The rule names of a --rewrites value: 'pms,fms,reparam', 'none' or 'all'."""
    if text.strip() in ("all", ""):
        return frozenset(RULE_NAMES)
    if text.strip() == "none":
        return frozenset()
    names = frozenset(part.strip() for part in text.split(","))
    unknown = sorted(names - set(RULE_NAMES))
    if unknown:
        raise NasError(f"unknown rewrite '{unknown[0]}'",
                       hint=f"choose from {', '.join(RULE_NAMES)}, 'all' or 'none'")
    return names


def simplify(ops: Iterable[Op], rewrites: Collection[str] = RULE_NAMES,
             options: Options = Options()) -> Plan:
    """The plan of an edge whose candidates are `ops`, using the named rewrites only."""
    start = naive_plan(tuple(ops))
    if not rewrites:
        return start
    walk = _Walk(frozenset(rewrites), options)
    root = walk.node(start.root)
    if not walk.log:
        return start  # no rule applied: the naive mix as it is
    tied = any(m.has_params for r in walk.log if rule_of(r).shares for m in r.modules)
    # A rewritten plan runs its recomputable branches in backward (`alternatives` also
    # offers it keeping them).
    return attrs.evolve(start, root=root, rewrites=tuple(walk.log), tied=tied, recompute=True)


class _Walk:
    def __init__(self, rewrites: frozenset[str], options: Options):
        asked = [rule for rule in RULES if rule.name in rewrites]
        structural = any(rule.structural for rule in asked)
        self.rules = [rule for rule in RULES if rule.structural
                      and (rule in asked or (rule.rides_along and structural))]
        self.final = [rule for rule in asked if not rule.structural]
        self.options = options
        self.log: list[Rewrite] = []

    def node(self, node: Node) -> Node:
        if isinstance(node, Seq):
            return seq(*(self.node(step) for step in node.steps)) if node.steps else node
        if isinstance(node, Mix):
            return self.mix(node)
        return node  # Apply, Merged

    def mix(self, mix: Mix) -> Node:
        for rule in self.rules:
            result = rule.apply(mix, self.options)
            if result is not None:
                node, record = result
                self.log.append(record)
                return self.node(node)
        branches = tuple(Branch(b.weight, self.node(b.node)) for b in mix.branches)
        if branches != mix.branches:
            return self.mix(Mix(branches))  # simplified branches may share at this level now
        for rule in self.final:
            result = rule.apply(mix, self.options)
            if result is not None:
                node, record = result
                self.log.append(record)
                return node
        return mix


# --- counting modules (seed 000 Table 2) ------------------------------------------------------

@attrs.frozen
class ModuleCount:
    """Module computations in a plan, counted as Table 2 counts them: a maximal run of
    convolutions (depthwise then pointwise) is one conv; a merged convolution is one conv;
    factorized_reduce and resnet_block are one conv each; identity and zero count nothing;
    a group counts the modules of its branches; every other module is one non-conv."""

    conv: int
    other: int

    @property
    def total(self) -> int:
        return self.conv + self.other


_CONV_KINDS = ("conv", "factorized_reduce", "resnet_block")


def count_modules(node: Node) -> ModuleCount:
    conv, other, _ = _ModuleCounter().run(node, (0, 0, False))
    return ModuleCount(conv, other)


class _ModuleCounter(PlanInterpreter):
    """Counts as `ModuleCount` says; the value passed along is (convs, others, whether the
    step before was a plain convolution, which a following one joins)."""

    def apply(self, node: Apply, value):
        conv, other, after_conv = value
        module = node.module
        if isinstance(module, Branches):
            for branch in module.branches:
                inner = self.run(Seq(tuple(Apply(m, node.candidate, -1) for m in branch)),
                                 (0, 0, False))
                conv, other = conv + inner[0], other + inner[1]
            return conv, other, False
        if module.kind in _CONV_KINDS:
            joins = after_conv and module.kind == "conv"
            return conv + (not joins), other, module.kind == "conv"
        return conv, other + (not module.trivial), False

    def mix(self, node: Mix, value):
        conv, other, _ = value
        for branch in node.branches:
            inner = self.run(branch.node, (0, 0, False))
            conv, other = conv + inner[0], other + inner[1]
        return conv, other, False

    def merged(self, node: Merged, value):
        conv, other, _ = value
        return conv + 1, other, False


# --- choosing a plan by cost ------------------------------------------------------------------

# The rule sets the chooser compares; the naive mix (no rule) comes first, so that a tie
# keeps it and the chosen plan never costs more than naive under the model.
RULE_SETS = ((), ("pms",), ("fms",), ("pms", "fms"), ("reparam",), ("pms", "reparam"),
             ("pms", "fms", "reparam"))


def alternatives(ops: tuple[Op, ...], tie_params: bool = False,
                 rule_sets: Iterable[tuple[str, ...]] = RULE_SETS) -> list[Plan]:
    """Every distinct plan the rule sets give, merging kernels up to each extent present,
    with its recomputable branches recomputed in backward and, where it has any, kept."""
    extents = sorted({m.extent for op in ops for m in op.modules if isinstance(m, Conv)})
    plans: dict[Node, Plan] = {}
    for rules in rule_sets:
        limits = [*extents, None] if "reparam" in rules else [None]
        for limit in limits:
            plan = simplify(ops, rules, Options(tie_params=tie_params, max_extent=limit))
            plans.setdefault(plan.root, plan)
    kept = [attrs.evolve(plan, recompute=False) for plan in plans.values()
            if plan.recompute and any(recomputable(b) for b in mix_branches(plan.root))]
    return [*plans.values(), *kept]


@attrs.frozen
class Site:
    """Where an edge runs in the network: its candidates, input channels and input size."""

    ops: tuple[Op, ...]
    channels: int
    size: int


def edge_site(cell: Cell, edge: Edge) -> Site:
    """The site of a searched edge of a cell: its ops at the channels they take in (fewer than
    the cell's under partial channel connections), at the resolution of the node it leaves."""
    return Site(edge.candidates, cell.edge_input_channels(edge.src), cell.node_size(edge.src))


def network_sites(network: Network) -> list[Site]:
    """The site of every edge of every cell of a network, in network order."""
    return [edge_site(cell, edge) for cell in network.cells for edge in cell.edges]


def choose(ops: tuple[Op, ...], channels: int, setting: Setting,
           rewrites: frozenset[str] | None = None, tie_params: bool = False) -> Plan:
    """The plan of one edge at `channels` and the setting's size (see `choose_plans`)."""
    site = Site(ops, channels, setting.size)
    return choose_plans([site], setting, rewrites, tie_params)[site]


def compile_network(network: Network, setting: Setting,
                    rewrites: frozenset[str] | None = None,
                    tie_params: bool = False) -> dict[Site, Plan]:
    """The compile step: the plan of every edge site of `network` (`network_sites`), chosen
    once for the whole network. The supernet is built from these plans and `nasdsl simplify`
    prints them."""
    return choose_plans(network_sites(network), setting, rewrites, tie_params)


def choose_plans(sites: Iterable[Site], setting: Setting,
                 rewrites: frozenset[str] | None = None,
                 tie_params: bool = False) -> dict[Site, Plan]:
    """A plan for every edge site of a network: the plan of exactly `rewrites`, or the one the
    cost model prefers for the setting's objective.

    Objectives "time" and "memory" rank each edge's plans on that figure first. "cost" is seed
    000 Eq. 29 for the whole network, C = (M / M_min + T / T_min) / 2 with M and T summed over
    the edges (a site listed k times counts k times) and M_min, T_min the sums of each edge's
    least memory and least time: the sum is separable, so each edge takes the plan with the
    least M / M_min + T / T_min, and an edge with much memory to save weighs more than one
    with little."""
    sites = list(sites)
    if rewrites is not None:
        return {site: simplify(site.ops, rewrites, Options(tie_params=tie_params))
                for site in sites}
    costed = {site: [(plan, plan_cost(plan, site.channels, attrs.evolve(setting, size=site.size)))
                     for plan in alternatives(site.ops, tie_params)]
              for site in dict.fromkeys(sites)}
    rank = _ranking(setting.objective, costed, Counter(sites))
    return {site: min(options, key=lambda option: rank(option[1]))[0]
            for site, options in costed.items()}


def _ranking(objective: str, costed: dict[Site, list[tuple[Plan, Cost]]],
             counts: Counter) -> Callable[[Cost], tuple]:
    if objective in ("time", "memory"):
        return lambda cost: cost.key(objective)
    if objective not in OBJECTIVES:
        raise NasError(f"unknown objective '{objective}'", hint=f"choose {', '.join(OBJECTIVES)}")
    least_bytes = sum(counts[site] * min(cost.saved_bytes for _, cost in options)
                      for site, options in costed.items())
    least_seconds = sum(counts[site] * min(cost.seconds for _, cost in options)
                        for site, options in costed.items())
    return lambda cost: (cost.saved_bytes / max(least_bytes, 1)
                         + cost.seconds / max(least_seconds, 1e-12), cost.seconds)
