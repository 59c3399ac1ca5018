"""Simplification of the shipped spaces' edges: Table 2, golden plans, labels, plan choice."""

import os

import attrs
import pytest
import torch

from nasdsl.backends.torch.edge import NaiveEdge, PlanEdge
from nasdsl.dsl.elaborate import load
from nasdsl.dsl.modules import BatchNorm, Conv, ReLU, Zero
from nasdsl.dsl.space import Op
from nasdsl.errors import NasError
from nasdsl.simplify.compiler import (Site, alternatives, choose, choose_plans, count_modules,
                                      parse_rewrites, simplify)
from nasdsl.simplify.cost import Setting, plan_cost
from nasdsl.simplify.explain import edge_kinds
from nasdsl.simplify.plan import Plan, format_plan, naive_plan
from nasdsl.simplify.rewrites import Options
from tests.paths import GOLDEN, SPACES

STAGES = [(), ("pms",), ("pms", "fms"), ("pms", "fms", "reparam")]


def darts_edge(phase="search", reduction=False):
    cells = load(SPACES / "darts.nas", phase=phase).network.cells
    cell = next(c for c in cells if c.kind.reduction == reduction)
    return next(e for e in cell.edges if e.src == 0)


def counts(ops, rules, options=Options()):
    count = count_modules(simplify(ops, rules, options).root)
    return count.conv, count.other, count.total


def test_table2_with_the_reference_pool_bns():
    """DARTS edge as the reference code searches it (a BN after each pool): 6/16/22, then
    PMS shares one BN among pools and convs, and the rows of seed 000 Table 2 follow."""
    ops = darts_edge().candidates
    assert [counts(ops, rules) for rules in STAGES] == \
        [(6, 16, 22), (6, 8, 14), (6, 6, 12), (3, 6, 9)]


def test_table2_as_table1_composes_the_edge():
    """Without the pools' BN (seed 000 Table 1) the first row is 6/14/20 and the rest of
    Table 2 is unchanged."""
    ops = tuple(op if "pool" not in op.name else type(op)(op.name, op.modules[:1])
                for op in darts_edge().candidates)
    assert [counts(ops, rules) for rules in STAGES] == \
        [(6, 14, 20), (6, 8, 14), (6, 6, 12), (3, 6, 9)]


def test_affine_bn_is_not_shared_by_default():
    """In a derived (eval) network BN is affine: it has parameters, so PMS does not share it
    unless parameters are tied."""
    ops = darts_edge(phase="eval").candidates
    plan = simplify(ops, ("pms",))
    assert not any(BatchNorm in {type(m) for m in r.modules} for r in plan.rewrites)
    tied = simplify(ops, ("pms",), Options(tie_params=True))
    assert tied.tied and not tied.exact


def test_labels_follow_module_facts():
    """A shared ReLU prefix is exact; a shared BN suffix (training-mode statistics) and FMS
    are vertex-exact; reparameterization and dropping zero are exact."""
    plan = simplify(darts_edge().candidates, ("pms", "fms", "reparam"))
    labels = {(r.rule, type(r.modules[0]).__name__): r.exact for r in plan.rewrites}
    assert labels[("pms-prefix", "ReLU")] is True
    assert labels[("pms-suffix", "BatchNorm")] is False
    assert labels[("fms", "BatchNorm")] is False
    assert labels[("drop-zero", "Zero")] is True
    assert all(r.exact for r in plan.rewrites if r.rule == "reparam")
    assert not plan.exact


def test_fms_shares_the_floating_bn_relu_of_separable_convs():
    """FMS finds the BN-ReLU between the two halves of the separable convs (Fig. 4)."""
    plan = simplify(darts_edge().candidates, ("pms", "fms"))
    (fms,) = [r for r in plan.rewrites if r.rule == "fms"]
    assert [type(m) for m in fms.modules] == [BatchNorm, ReLU]
    assert [plan.names[i] for i in fms.candidates] == ["sep_conv_3x3", "sep_conv_5x5"]


def test_avg_pool_without_padding_count_is_not_merged():
    """count_include_pad=false average pooling is not a convolution at the borders, so
    reparameterization leaves it out: nb201's avg_pool_3x3 stays a pool."""
    cell = load(SPACES / "nb201.nas").network.cells[0]
    plan = simplify(cell.edges[0].candidates, ("pms", "fms", "reparam"))
    (merge,) = [r for r in plan.rewrites if r.rule == "reparam"]
    assert [plan.names[i] for i in merge.candidates] == ["nor_conv_1x1", "nor_conv_3x3"]


@pytest.mark.parametrize("name", ["nb201", "darts", "darts_large"])
def test_golden_plans(name):
    """Every distinct edge of a shipped space simplifies, with all rewrites, to the plan
    checked in under tests/golden/plans (NASDSL_UPDATE_GOLDEN=1 rewrites it)."""
    space = load(SPACES / f"{name}.nas")
    text = "\n\n".join(
        f"{kind.title}\n{format_plan(simplify(kind.edges[0].candidates))}"
        for kind in edge_kinds(space)) + "\n"
    golden = GOLDEN / "plans" / f"{name}.txt"
    if os.environ.get("NASDSL_UPDATE_GOLDEN"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(text)
    assert text == golden.read_text()


@pytest.mark.parametrize("name", ["nb201", "darts", "darts_large"])
@pytest.mark.parametrize("objective", ["cost", "time", "memory"])
def test_chosen_plan_never_costs_more_than_naive(name, objective):
    """The chooser compares the naive mix too, so under the model its plan is never worse
    for the objective: for `cost`, Eq. 29's M / M_min + T / T_min of the edge."""
    space = load(SPACES / f"{name}.nas")
    for kind in edge_kinds(space):
        site = kind.site
        setting = Setting(batch=64, size=site.size, objective=objective)
        costs = [plan_cost(plan, site.channels, setting) for plan in alternatives(site.ops)]
        least_bytes = min(cost.saved_bytes for cost in costs)
        least_seconds = min(cost.seconds for cost in costs)

        def figure(cost):
            if objective == "cost":
                return cost.saved_bytes / least_bytes + cost.seconds / least_seconds
            return cost.key(objective)

        chosen = plan_cost(choose(site.ops, site.channels, setting), site.channels, setting)
        naive = plan_cost(naive_plan(site.ops), site.channels, setting)
        assert figure(chosen) <= figure(naive)


def test_forced_rewrites_are_applied_exactly():
    """--rewrites forces a rule set: only the named rules appear in the plan."""
    ops = darts_edge().candidates
    plan = choose(ops, 16, Setting(), rewrites=frozenset({"fms"}))
    assert {r.rule for r in plan.rewrites} <= {"fms", "drop-zero"}
    assert simplify(ops, ()).root == naive_plan(ops).root


def test_alternatives_are_distinct_and_include_naive():
    """The chooser's candidates are distinct plans, the first the naive mix; a plan with
    pooling branches comes both with them recomputed in backward and with them kept."""
    plans = alternatives(darts_edge().candidates)
    assert plans[0].root == naive_plan(darts_edge().candidates).root
    assert len({(p.root, p.recompute) for p in plans}) == len(plans) >= 5
    recomputed = {p.root for p in plans if p.recompute}
    assert recomputed and recomputed <= {p.root for p in plans if not p.recompute}


def _network_cost(plans: dict[Site, Plan], sites: list[Site], setting: Setting) -> tuple:
    costs = [plan_cost(plans[site], site.channels, attrs.evolve(setting, size=site.size))
             for site in sites]
    return sum(c.saved_bytes for c in costs), sum(c.seconds for c in costs)


@pytest.mark.parametrize("name", ["nb201", "darts", "darts_large"])
def test_cost_objective_minimizes_eq29_over_the_network(name):
    """With objective "cost", the plans chosen for a whole network have the least normalized
    cost (seed 000 Eq. 29, normalized by the sums of each edge's least memory and least time)
    among the choices of every objective and the naive supernet, and no more memory than the
    time objective's nor more time than the memory one's."""
    space = load(SPACES / f"{name}.nas")
    sites = [Site(edge.candidates, cell.channels, cell.size)
             for cell in space.network.cells for edge in cell.edges]
    totals = {}
    for objective in ("cost", "time", "memory"):
        setting = Setting(batch=32, objective=objective)
        totals[objective] = _network_cost(choose_plans(sites, setting), sites, setting)
    totals["naive"] = _network_cost({site: naive_plan(site.ops) for site in sites}, sites,
                                    Setting(batch=32))
    every_plan = {site: [plan_cost(plan, site.channels, Setting(batch=32, size=site.size))
                         for plan in alternatives(site.ops)] for site in set(sites)}
    least_bytes = sum(min(c.saved_bytes for c in every_plan[site]) for site in sites)
    least_seconds = sum(min(c.seconds for c in every_plan[site]) for site in sites)
    eq29 = {key: bytes_ / least_bytes + seconds / least_seconds
            for key, (bytes_, seconds) in totals.items()}
    assert eq29["cost"] <= min(eq29.values()) + 1e-9
    assert totals["cost"][0] <= totals["time"][0]
    assert totals["cost"][1] <= totals["memory"][1] + 1e-12


def test_unknown_objective_is_a_clear_error():
    """An objective outside OBJECTIVES names the ones there are."""
    with pytest.raises(NasError, match="choose cost, time, memory"):
        choose(darts_edge().candidates, 16, Setting(objective="speed"))


def test_parse_rewrites():
    """--rewrites takes rule names, 'all' or 'none'; a misspelt rule is a located error."""
    assert parse_rewrites("pms, fms") == {"pms", "fms"}
    assert parse_rewrites("all") == {"pms", "fms", "reparam"}
    assert parse_rewrites("none") == frozenset()
    with pytest.raises(NasError, match="unknown rewrite 'fmss'"):
        parse_rewrites("pms,fmss")


def test_no_sharing_across_parts_of_different_shapes():
    """FMS does not share a module that one candidate reaches after its stride and another
    before it: the first mix would add tensors of different sizes (found by hypothesis)."""
    from nasdsl.dsl.modules import AvgPool, Conv
    from nasdsl.dsl.space import Op
    ops = (Op("a", (ReLU(), Conv(2, 2, 1, stride=2))),
           Op("b", (AvgPool(1, 2, True), ReLU())))
    plan = simplify(ops, ("pms", "fms"))
    assert plan.rewrites == ()


@pytest.mark.parametrize("after", [Conv(4, 4, 1, bias=True), BatchNorm(4, affine=True)],
                         ids=["conv-with-bias", "affine-bn"])
def test_a_zero_followed_by_a_bias_is_not_dropped(after):
    """`zero -> conv(bias=true)` outputs the bias and `zero -> bn` outputs beta: drop-zero
    keeps them, so every plan, the cost model's included, equals naive at every vertex."""
    ops = (Op("moved", (Zero(1), after)), Op("conv", (ReLU(), Conv(4, 4, 3))),
           Op("none", (Zero(1),)))
    assert not ops[0].is_zero and ops[2].is_zero
    torch.manual_seed(0)
    naive = NaiveEdge(ops).double()
    for module in naive.modules():
        if isinstance(module, torch.nn.BatchNorm2d) or isinstance(module, torch.nn.Conv2d):
            if getattr(module, "bias", None) is not None:
                torch.nn.init.uniform_(module.bias, 0.5, 1.0)
    x = torch.randn(2, 4, 6, 6, dtype=torch.float64)
    chosen = choose(ops, 4, Setting(batch=2, size=6))
    for plan in (*alternatives(ops), chosen):
        planned = PlanEdge(ops, plan).double()
        planned.load_state_dict(naive.state_dict())
        assert "moved" not in [plan.names[i] for r in plan.rewrites if r.rule == "drop-zero"
                               for i in r.candidates]
        for weights in torch.eye(3, dtype=torch.float64):
            torch.testing.assert_close(planned(x, weights), naive(x, weights))


def test_explain_says_why_an_edge_stays_naive(tmp_path):
    """`simplify --rewrites all` on candidates no rule applies to says so, instead of "no
    rewrite pays"; the cost model's answer says whether any plan was there to compare."""
    from nasdsl.simplify.explain import explain
    path = tmp_path / "plain.nas"
    path.write_text("op a = relu\nop b = identity\ncell c { nodes 1 candidates a, b }\n"
                    "network n { stem conv(kernel=3, out=8) cells c * 1 channels 8 "
                    "head global_avg_pool -> linear(out=10) }\n")
    space = load(path)
    forced = explain(space, Setting(), parse_rewrites("all"))
    assert "none of the rewrites asked for (fms, pms, reparam) applies" in forced
    assert "no rewrite applies to these candidates: the naive mix" in explain(space, Setting())
    assert "no rewrite pays" not in forced


def test_an_unknown_cost_target_is_a_clear_error():
    """The cost model asked for a target it has no figures for says which it has."""
    with pytest.raises(NasError, match="the cost model knows no target 'mps'"):
        plan_cost(naive_plan(darts_edge().candidates), 16, Setting(target="mps"))


def test_the_drivers_policy_comes_from_the_rule_registry():
    """drop-zero rides along with any structural rule but not with reparam alone, reparam
    runs last, and only module-sharing rules make a plan tied: as the registry states."""
    from nasdsl.simplify.rewrites import RULES
    assert [rule.name for rule in RULES if rule.rides_along] == ["drop-zero"]
    assert [rule.name for rule in RULES if not rule.structural] == ["reparam"]
    ops = load(SPACES / "nb201.nas").network.cells[0].edges[0].candidates
    assert "drop-zero" not in {r.rule for r in simplify(ops, ("reparam",)).rewrites}
    for rules in (("pms",), ("fms",)):
        assert "drop-zero" in {r.rule for r in simplify(ops, rules).rewrites}
    assert simplify(ops, ("pms", "fms", "reparam")).rewrites[-1].rule == "reparam"
    darts = load(SPACES / "darts.nas").network.cells[0].edges[0].candidates
    assert not simplify(darts).tied and simplify(darts, options=Options(tie_params=True)).tied
