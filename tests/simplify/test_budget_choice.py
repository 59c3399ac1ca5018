"""The memory budget's chooser: a frontier of modelled memory against time from the fastest
configuration to the smallest, the fastest point under a budget, a clear error below the
least."""

import pytest

from nasdsl.dsl import space as IR
from nasdsl.dsl.elaborate import load
from nasdsl.errors import NasError
from nasdsl.simplify.budget import MARGIN, Stage, costed, fit, frontier, needed
from nasdsl.simplify.compiler import edge_site
from nasdsl.simplify.cost import Setting
from tests.paths import SPACES

SETTING = Setting(batch=16)


def stages_of(name: str, **overrides) -> list[Stage]:
    """The stages of a shipped space, with nothing measured: each keeps only its edges, and
    a recomputed one its input, taken as 1 MiB."""
    network = load(SPACES / f"{name}.nas", overrides=overrides).network
    return [Stage(tuple(edge_site(stage, e) for e in stage.edges), 0, 2**20)
            if isinstance(stage, IR.Cell) else Stage((), 0, 0) for stage in network.stages]


@pytest.fixture(scope="module")
def darts_costs():
    return costed(stages_of("darts"), SETTING)


def test_frontier_trades_time_for_memory(darts_costs):
    """Along the frontier the modelled bytes fall strictly and the seconds rise strictly, and
    it spans from nothing recomputed to every cell recomputed."""
    points = frontier(darts_costs)
    assert len(points) > 5
    for faster, smaller in zip(points, points[1:]):
        assert smaller.bytes < faster.bytes and smaller.seconds > faster.seconds
    assert not points[0].recomputed
    cells = {i for i, stage in enumerate(darts_costs.stages) if stage.recomputable}
    assert points[-1].recomputed == cells


def test_fit_takes_the_fastest_point_under_the_budget(darts_costs):
    """For budgets at and between the frontier's points, the choice fits with the margin for
    the model's error, and no point that fits so is faster."""
    points = frontier(darts_costs)
    for point in points[:: max(1, len(points) // 6)]:
        for budget in (needed(point.bytes), needed(point.bytes) + 1):
            chosen = fit(darts_costs, budget)
            assert chosen.bytes <= budget * (1 - MARGIN)
            assert all(p.seconds >= chosen.seconds for p in points
                       if needed(p.bytes) <= budget)


def test_recomputing_lowers_memory_beyond_the_smallest_plans(darts_costs):
    """The smallest point keeps less than the smallest plans alone would (recomputation is a
    choice beside the plans)."""
    points = frontier(darts_costs)
    no_recompute = [p for p in points if not p.recomputed]
    assert points[-1].bytes < min(p.bytes for p in no_recompute)


def test_below_the_least_memory_is_an_error_naming_it(darts_costs):
    """A budget under what the least configuration needs is a NasError that says it."""
    least = needed(frontier(darts_costs)[-1].bytes)
    with pytest.raises(NasError, match="nothing fits a memory budget") as error:
        fit(darts_costs, least - 1)
    assert f"at least {least / 2**20:,.1f} MiB" in error.value.hint
    assert fit(darts_costs, least).bytes <= least


def test_naive_only_rule_sets_choose_recomputation_alone():
    """With the naive mix as the only plan (--no-simplify), the budget still trades time for
    memory by recomputing cells, and every plan stays naive."""
    costs = costed(stages_of("nb201", C=8, N=1), SETTING, rule_sets=((),))
    points = frontier(costs)
    assert len(points) > 2
    assert all(not plan.rewrites for p in points for plan in p.plans.values())
