"""Fitting a search step into a memory budget: which plan each edge site runs and which stages
of the network are recomputed in backward, at the least modelled time whose modelled
activation memory fits.

The network is a list of stages (the stem, each cell or layer, the head). A stage keeps, for
backward, what its edges' plans keep (the cost model's bytes) and a part of its own
(preprocessing, fixed edges, node sums, the partial channels' bypass), which the backend
measures. A recomputed stage (checkpointed) keeps only its inputs and runs its forward again
in its backward, about a third more of its time; while that backward runs its insides are
alive again, so the modelled peak adds the largest recomputed stage to what stays kept. Only
stages with searchable edges are recomputed: they are where the memory is.

The choice is a multiple-choice knapsack, searched through its Lagrangian relaxation: at a
price lambda on a byte, each edge site takes the plan of least seconds + lambda * bytes; with
those plans, the stages are recomputed one by one, those that free the most bytes per second
of recomputation first. Lambda from 0 (the fastest plans) to very large (the smallest plans)
traces the frontier of memory against time; a budget takes its fastest point that fits.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import attrs

from nasdsl.arguments import format_bytes
from nasdsl.errors import NasError
from nasdsl.simplify.compiler import RULE_SETS, Site, alternatives
from nasdsl.simplify.cost import Cost, Setting, plan_cost, target_device
from nasdsl.simplify.plan import Plan

# Prices per byte tried, relative to seconds / bytes of the fastest configuration: half
# powers of two over a range wide enough to reach both ends of the frontier.
_PRICES = (0.0, *(2 ** (k / 2) for k in range(-60, 61)))


@attrs.frozen
class Stage:
    """One stage of a network as the chooser sees it: its searchable edges' sites, the bytes
    it keeps besides its edges (may be negative: the measured correction of the cost model's
    edges), and what it keeps when recomputed (its inputs)."""

    sites: tuple[Site, ...]
    own_bytes: int
    input_bytes: int

    @property
    def recomputable(self) -> bool:
        return bool(self.sites)


@attrs.frozen(eq=False)
class Choice:
    """A supernet's plans and recomputed stages, with its modelled peak activation bytes and
    modelled step seconds."""

    plans: dict[Site, Plan]
    recomputed: frozenset[int]
    bytes: int
    seconds: float


@attrs.frozen(eq=False)
class Costed:
    """Every edge site's costed alternatives, at the setting's batch and precision."""

    stages: tuple[Stage, ...]
    plans: dict[Site, list[tuple[Plan, Cost]]]
    recompute_overhead: float


def costed(stages: Sequence[Stage], setting: Setting, rule_sets=RULE_SETS,
           tie_params: bool = False) -> Costed:
    """The chooser's inputs: each distinct site's plans under `rule_sets` (`alternatives`)
    with their modelled costs."""
    sites = dict.fromkeys(site for stage in stages for site in stage.sites)
    costs = {site: [(plan, plan_cost(plan, site.channels, attrs.evolve(setting, size=site.size)))
                    for plan in alternatives(site.ops, tie_params, rule_sets)]
             for site in sites}
    return Costed(tuple(stages), costs, target_device(setting.target).recompute_overhead)


def at_price(costs: Costed, price: float) -> list[Choice]:
    """The configurations of the plans that are best at `price` seconds per byte: nothing
    recomputed, then the recomputable stages added one by one, those that free the most
    bytes per second of recomputation first."""
    picked = {site: min(options, key=lambda option: option[1].seconds
                        + price * option[1].saved_bytes)
              for site, options in costs.plans.items()}
    plans = {site: option[0] for site, option in picked.items()}
    inside = [max(stage.own_bytes + sum(picked[s][1].saved_bytes for s in stage.sites), 0)
              for stage in costs.stages]
    seconds = [sum(picked[s][1].seconds for s in stage.sites) for stage in costs.stages]
    again = [t / 3 + costs.recompute_overhead for t in seconds]
    freed = {index: inside[index] - stage.input_bytes
             for index, stage in enumerate(costs.stages) if stage.recomputable}
    order = sorted((i for i in freed if freed[i] > 0), key=lambda i: -freed[i] / again[i])
    choices = []
    for count in range(len(order) + 1):
        chosen = frozenset(order[:count])
        kept = sum(costs.stages[i].input_bytes if i in chosen else inside[i]
                   for i in range(len(costs.stages)))
        transient = max((inside[i] for i in chosen), default=0)
        choices.append(Choice(plans, chosen, kept + transient,
                              sum(seconds) + sum(again[i] for i in chosen)))
    return choices


def frontier(costs: Costed) -> list[Choice]:
    """The configurations no other beats in both modelled bytes and seconds, from the
    fastest to the smallest."""
    fastest = at_price(costs, 0.0)[0]
    unit = fastest.seconds / max(fastest.bytes, 1)
    found = [choice for price in _PRICES for choice in at_price(costs, unit * price)]
    found.sort(key=lambda choice: (choice.bytes, choice.seconds))
    best: list[Choice] = []
    for choice in found:
        if not best or choice.seconds < best[-1].seconds:
            best.append(choice)
    return best[::-1]


# The part of a budget kept back for the cost model's error on the plans: measured against
# the model on every shipped space's frontier, the largest excess was 3.5% (rdarts_s4).
MARGIN = 0.05


def needed(modelled: int) -> int:
    """The budget that admits a configuration of `modelled` bytes."""
    return math.ceil(modelled / (1 - MARGIN))


def fit(costs: Costed, budget: int) -> Choice:
    """The fastest configuration whose modelled activation bytes stay within `budget` less
    the margin for the model's error, or a NasError that says the least budget that any
    configuration fits."""
    points = frontier(costs)
    fitting = [choice for choice in points if needed(choice.bytes) <= budget]
    if not fitting:
        least = points[-1]
        raise NasError(
            f"nothing fits a memory budget of {format_bytes(budget)}: the least the cost "
            f"model finds is {format_bytes(least.bytes)} of activations (the smallest plans, "
            f"{len(least.recomputed)} cells recomputed in backward), "
            f"{format_bytes(needed(least.bytes))} with the margin for its error",
            hint=f"raise --memory-budget to at least {format_bytes(needed(least.bytes))}, or "
                 "lower the batch or the network's channels (--set)")
    return min(fitting, key=lambda choice: choice.seconds)


def describe(choice: Choice, stages: Iterable[Stage], budget: int) -> str:
    """One line on what a budget chose, for the search's report."""
    searchable = sum(stage.recomputable for stage in stages)
    rewritten = sum(bool(plan.rewrites) for plan in choice.plans.values())
    return (f"memory budget {format_bytes(budget)}: modelled {format_bytes(choice.bytes)} of "
            f"activations, {len(choice.recomputed)} of {searchable} cells recomputed in "
            f"backward, {rewritten} of {len(choice.plans)} edge sites simplified")
