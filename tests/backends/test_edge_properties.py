"""Property tests of simplification: a compiled plan against the naive mix
on random candidate sets, float64."""

import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from nasdsl.backends.torch.edge import NaiveEdge, PlanEdge
from nasdsl.simplify.compiler import simplify
from nasdsl.simplify.plan import Apply, walk
from nasdsl.simplify.rewrites import RULE_NAMES, Options
from tests.strategies import candidate_sets

EXAMPLES = settings(max_examples=200, deadline=None)
# Every rule half the time, any subset otherwise (the ablations force subsets).
rule_sets = st.one_of(st.just(frozenset(RULE_NAMES)), st.sets(st.sampled_from(RULE_NAMES)))
extents = st.sampled_from([None, 1, 3, 5])


def pair(candidates, rules, max_extent, seed):
    """A naive edge and the compiled plan, with the same parameters; every other seed with
    kernel normalization (Eq. 28) on both."""
    torch.manual_seed(seed)
    normalize = seed % 2 == 1
    plan = simplify(candidates.ops, rules, Options(max_extent=max_extent))
    naive = NaiveEdge(candidates.ops, normalize).double()
    planned = PlanEdge(candidates.ops, plan, normalize).double()
    planned.load_state_dict(naive.state_dict())
    for module in naive.modules():  # BN with non-trivial affine parameters and statistics
        if isinstance(module, torch.nn.BatchNorm2d) and module.affine:
            torch.nn.init.uniform_(module.weight, 0.5, 1.5)
            torch.nn.init.uniform_(module.bias, -0.5, 0.5)
    planned.load_state_dict(naive.state_dict())
    x = torch.randn(3, candidates.channels, 6, 6, dtype=torch.float64)
    return plan, naive, planned, x


def vertices(count: int):
    return torch.eye(count, dtype=torch.float64)


def simplex_point(count: int) -> torch.Tensor:
    return torch.distributions.Dirichlet(torch.ones(count, dtype=torch.float64)).sample()


@EXAMPLES
@given(candidate_sets(), rule_sets, extents, st.integers(0, 2**16))
def test_vertex_exactness_in_training_mode(candidates, rules, max_extent, seed):
    """At every one-hot weight vector the plan computes what the naive mix computes."""
    plan, naive, planned, x = pair(candidates, rules, max_extent, seed)
    for weights in vertices(len(candidates.ops)):
        torch.testing.assert_close(planned(x, weights), naive(x, weights), rtol=1e-9, atol=1e-9)


@EXAMPLES
@given(candidate_sets(random=True), rule_sets, extents)
def test_modules_that_draw_random_numbers_are_never_shared(candidates, rules, max_extent):
    """Every dropout or noise a plan runs serves one candidate, as in the naive mix: a
    shared one would give several candidates one draw."""
    plan = simplify(candidates.ops, rules, Options(max_extent=max_extent))
    runs = [node for node in walk(plan.root) if isinstance(node, Apply) and node.module.random]
    assert not any(node.shared_by for node in runs)
    assert len(runs) <= sum(m.random for op in candidates.ops for m in op.modules)


@EXAMPLES
@given(candidate_sets(random=True), rule_sets, extents, st.integers(0, 2**16))
def test_vertex_exactness_in_eval_mode_with_random_modules(candidates, rules, max_extent, seed):
    """In eval mode dropout and additive noise are the identity: every vertex agrees (BN
    at its initial statistics, since training steps would draw differently in the two)."""
    plan, naive, planned, x = pair(candidates, rules, max_extent, seed)
    naive.eval(), planned.eval()
    for weights in vertices(len(candidates.ops)):
        torch.testing.assert_close(planned(x, weights), naive(x, weights), rtol=1e-9, atol=1e-9)


@EXAMPLES
@given(candidate_sets(), rule_sets, extents, st.integers(0, 2**16))
def test_vertex_exactness_in_eval_mode(candidates, rules, max_extent, seed):
    """After training steps have moved the BN statistics, eval mode still agrees at every
    vertex, unless a module keeping running statistics runs on a mixture (its statistics
    then come from mixed inputs)."""
    plan, naive, planned, x = pair(candidates, rules, max_extent, seed)
    assume(not plan.mixes_running_stats())
    weights = torch.softmax(torch.randn(len(candidates.ops), dtype=torch.float64), 0)
    for _ in range(2):
        naive(x, weights), planned(x, weights)
    naive.eval(), planned.eval()
    for weights in vertices(len(candidates.ops)):
        torch.testing.assert_close(planned(x, weights), naive(x, weights), rtol=1e-9, atol=1e-9)


@EXAMPLES
@given(candidate_sets(exact=True), rule_sets, extents, st.integers(0, 2**16))
def test_exact_plans_agree_inside_the_simplex(candidates, rules, max_extent, seed):
    """A rewritten plan whose rewrites are all exact equals the naive mix at random simplex
    points."""
    plan, naive, planned, x = pair(candidates, rules, max_extent, seed)
    assume(plan.exact and plan.rewrites)
    for _ in range(3):
        weights = simplex_point(len(candidates.ops))
        torch.testing.assert_close(planned(x, weights), naive(x, weights), rtol=1e-8, atol=1e-9)


@EXAMPLES
@given(candidate_sets(exact=True), rule_sets, extents, st.integers(0, 2**16))
def test_gradients_of_exact_plans(candidates, rules, max_extent, seed):
    """For rewritten exact plans, gradients w.r.t. the weights and every parameter equal
    naive's."""
    plan, naive, planned, x = pair(candidates, rules, max_extent, seed)
    assume(plan.exact and plan.rewrites)
    weights = simplex_point(len(candidates.ops))
    grads = []
    for edge in (naive, planned):
        w = weights.clone().requires_grad_()
        x_in = x.clone().requires_grad_()  # as inside a network, where inputs carry gradients
        (edge(x_in, w) ** 2).sum().backward()
        # A weight the plan never uses (a dropped zero op) has no gradient: naive's is 0.
        w_grad = torch.zeros_like(w) if w.grad is None else w.grad
        grads.append((w_grad, {n: p.grad for n, p in edge.named_parameters()}))
    torch.testing.assert_close(grads[1][0], grads[0][0], rtol=1e-7, atol=1e-9)
    # A parameter the plan never runs (in a dropped zero op) has no gradient; the naive
    # edge's is None or zeros, for the same reason.
    for name, grad in grads[0][1].items():
        other = grads[1][1][name]
        if grad is None or other is None:
            assert not any(g is not None and g.any() for g in (grad, other)), name
        else:
            torch.testing.assert_close(other, grad, rtol=1e-7, atol=1e-9, msg=name)


@EXAMPLES
@given(candidate_sets(), rule_sets, extents)
def test_same_named_parameters(candidates, rules, max_extent):
    """The compiled plan owns exactly the naive edge's parameters: names and shapes."""
    plan = simplify(candidates.ops, rules, Options(max_extent=max_extent))
    naive, planned = NaiveEdge(candidates.ops), PlanEdge(candidates.ops, plan)
    assert [(n, p.shape) for n, p in naive.named_parameters()] == \
        [(n, p.shape) for n, p in planned.named_parameters()]
