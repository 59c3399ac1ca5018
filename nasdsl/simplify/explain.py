"""What `nasdsl simplify` prints: per distinct edge, the rewrites, the plan, the counts."""

from __future__ import annotations

import attrs

from nasdsl.dsl.space import Cell, Edge, Space
from nasdsl.simplify.compiler import (Site, alternatives, compile_network, count_modules, edge_site,
                                      simplify)
from nasdsl.simplify.cost import Setting, plan_cost
from nasdsl.simplify.plan import Plan, format_plan, naive_plan
from nasdsl.simplify.rewrites import Options

# The stages of seed 000 Table 2, each adding one kind of rewrite.
TABLE_STAGES = (("original", ()), ("+ partial module sharing", ("pms",)),
                ("+ floating module sharing", ("pms", "fms")),
                ("+ reparameterization", ("pms", "fms", "reparam")))


@attrs.frozen
class EdgeKind:
    """Edges of one cell kind with the same candidates and stride (and width), seen at
    their first cell."""

    cell: Cell
    edges: tuple[Edge, ...]

    @property
    def site(self) -> Site:
        return edge_site(self.cell, self.edges[0])

    @property
    def title(self) -> str:
        first, site, kind = self.edges[0], self.site, self.cell.kind
        where = f"{site.channels} channels, {site.size}x{site.size} in"
        if kind.layer:
            return f"layer {kind.name}, stride {first.stride} ({where}, {self.cell.channels} out)"
        places = kind.places([(e.src, e.dst) for e in self.edges])
        return f"cell {kind.name}, stride {first.stride}, {places} ({where})"


def edge_kinds(space: Space) -> list[EdgeKind]:
    kinds: dict[tuple, list] = {}
    for cell in space.network.cells if space.network else ():
        for edge in cell.edges:
            # An input's edge to an output vertex runs its candidates at other channels.
            key = (cell.kind.name, edge.stride, tuple(op.name for op in edge.candidates),
                   cell.kind.projects_to_output(edge.src, edge.dst))
            if key not in kinds:
                kinds[key] = [cell, []]
            if kinds[key][0] is cell:
                kinds[key][1].append(edge)
    return [EdgeKind(cell, tuple(edges)) for cell, edges in kinds.values()]


def explain(space: Space, setting: Setting, rewrites: frozenset[str] | None = None,
            tie_params: bool = False, show_plan: bool = False) -> str:
    lines: list[str] = []
    plans = compile_network(space.network, setting, rewrites, tie_params) \
        if space.network else {}
    for kind in edge_kinds(space):
        edge, site = kind.edges[0], kind.site
        local = attrs.evolve(setting, size=site.size)
        plan = plans[site]
        lines += [kind.title, *_rewrites(plan, edge, rewrites, tie_params)]
        lines.append("  " + _costs(plan, edge, site.channels, local))
        if show_plan:
            lines += ["  plan:", *("    " + line for line in format_plan(plan).splitlines())]
        lines += _table(edge, tie_params)
        lines.append("")
    return "\n".join(lines)


def _rewrites(plan: Plan, edge: Edge, forced: frozenset[str] | None,
              tie_params: bool) -> list[str]:
    """What simplified the edge, or why nothing did: no rule asked for applies, no rule
    applies at all, or the cost model found the naive mix cheapest."""
    if not plan.rewrites and forced is not None:
        asked = ", ".join(sorted(forced)) or "none"
        return [f"  none of the rewrites asked for ({asked}) applies to these candidates: the "
                "naive mix"]
    if not plan.rewrites:
        compared = len(alternatives(edge.candidates, tie_params))
        if compared == 1:
            return ["  no rewrite applies to these candidates: the naive mix"]
        return [f"  no rewrite pays: the naive mix, the cheapest of the {compared} plans compared"]
    lines = []
    for rewrite in plan.rewrites:
        modules = ", ".join(str(m) for m in rewrite.modules[:4]) + \
            (", ..." if len(rewrite.modules) > 4 else "")
        who = ", ".join(plan.names[i] for i in rewrite.candidates)
        note = f"; {rewrite.note}" if rewrite.note else ""
        lines.append(f"  {rewrite.rule:<10} {modules}  [{who}]  {rewrite.label}{note}")
    if plan.tied:
        lines.append("  parametric modules are shared (--tie-params): a different supernet, "
                     "outside the exactness guarantees")
    return lines


def _costs(plan: Plan, edge: Edge, channels: int, setting: Setting) -> str:
    naive = plan_cost(naive_plan(edge.candidates), channels, setting)
    cost = plan_cost(plan, channels, setting)
    return (f"model at batch {setting.batch} on {setting.target}: saved for backward "
            f"{naive.saved_bytes / 2**20:.1f} -> {cost.saved_bytes / 2**20:.1f} MiB, "
            f"GFLOP {naive.flops / 1e9:.2f} -> {cost.flops / 1e9:.2f}, "
            f"time x{cost.seconds / naive.seconds:.2f}")


def _table(edge: Edge, tie_params: bool) -> list[str]:
    lines = [f"  {'module computations (Table 2)':<30} {'conv':>5} {'non-conv':>9} {'total':>6}"]
    for label, rules in TABLE_STAGES:
        count = count_modules(simplify(edge.candidates, rules, Options(tie_params)).root)
        lines.append(f"  {label:<30} {count.conv:>5} {count.other:>9} {count.total:>6}")
    return lines
