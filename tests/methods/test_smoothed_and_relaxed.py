"""The methods other frameworks ship, each by the property that makes it that method: DrNAS's
Dirichlet samples, FairDARTS's sigmoids and zero-one loss, SDARTS's perturbations, SNAS's and
FBNet's resource terms."""

import pytest
import torch

from nasdsl.backends.torch.contract import Run, softmax_weights
from nasdsl.backends.torch.network import BuildOptions, Supernet
from nasdsl.dsl.elaborate import load
from nasdsl.methods import get_method
from nasdsl.methods.fair_darts import thresholded_cell
from nasdsl.methods.random_ws import sample_run
from nasdsl.methods.sdarts import clipped
from nasdsl.methods.snas import expected_cost
from tests.methods.test_methods import config, tiny_net
from tests.paths import SPACES


def method(name, **options):
    return get_method(name)(config(name, method_options=tuple(options.items())))


def test_drnas_samples_average_to_the_dirichlet_mean():
    """The mean of 4000 DrNAS mixing weights is the Dirichlet mean beta / sum(beta), within
    0.01 per candidate, on alphas away from zero; padding columns get nothing."""
    torch.manual_seed(0)
    net, drnas = tiny_net(), method("drnas")
    with torch.no_grad():
        for view in net.views.values():
            view["alpha"].copy_(torch.randn_like(view["alpha"]))
    with torch.no_grad():
        samples = torch.stack([drnas.mixing_weights(net)["cell"] for _ in range(4000)])
    mean = drnas.eval_weights(net)["cell"]
    assert (samples.mean(0) - mean).abs().max() < 0.01
    assert torch.allclose(samples.sum(-1), torch.ones(samples.shape[:2]))


def test_drnas_gradient_flows_through_the_sample_and_the_kl_term():
    """The pathwise sample and the KL regularizer both give alpha a gradient; the KL term is
    zero at the prior (alpha = 0: beta = 1)."""
    torch.manual_seed(1)
    net, drnas = tiny_net(), method("drnas")
    assert drnas.regularizer(net).item() == pytest.approx(0.0, abs=1e-4)
    drnas.mixing_weights(net)["cell"][:, 0].sum().backward()
    assert net.views["cell"]["alpha"].grad.abs().sum() > 0


def test_fair_darts_zero_one_loss_pushes_sigmoids_to_zero_or_one():
    """Minimizing FairDARTS's regularizer alone drives every sigmoid from about 1/2 to within
    0.1 of 0 or 1."""
    torch.manual_seed(2)
    net, fair = tiny_net(), method("fair-darts")
    alpha = net.views["cell"]["alpha"]
    optimizer = torch.optim.SGD([alpha], lr=1.0)
    for _ in range(300):
        optimizer.zero_grad()
        fair.regularizer(net).backward()
        optimizer.step()
    distance = (torch.sigmoid(alpha) - 0.5).abs()[net.views["cell"].mask]
    assert distance.min() > 0.4


def test_fair_darts_keeps_only_what_reaches_the_threshold():
    """In darts's cells, a node keeps its edges whose best sigmoid reaches 0.85 (at most 2),
    and a node with none keeps its single strongest edge."""
    space = load(SPACES / "darts.nas", overrides={"C": 4, "N": 1})
    kind = space.cell_kinds[0]
    sigmoids = torch.full((len(kind.edges), 8), 0.5)
    sigmoids[0, 4] = 0.9  # node 2: edge 0->2 above the threshold with sep_conv_3x3
    sigmoids[2, 5] = 0.6  # node 3: nothing reaches it; 0->3 is its strongest
    zero = torch.zeros(len(kind.edges), 8, dtype=torch.bool)
    cell = thresholded_cell(kind, sigmoids, zero, 0.85)
    into = {node: [(src, op) for src, dst, op in cell.edges if dst == node]
            for node in kind.intermediate}
    assert into[2] == [(0, "sep_conv_3x3")]
    assert into[3] == [(0, "sep_conv_5x5")]


def test_sdarts_rs_perturbations_stay_within_epsilon_and_are_redrawn():
    """Each weight step draws a new uniform delta within [-epsilon, epsilon], zero in the
    padding, and the perturbed weights stay on each edge's simplex."""
    torch.manual_seed(3)
    net, rs = tiny_net(), method("sdarts-rs", epsilon=0.2)
    weights = {k: w.detach() for k, w in softmax_weights(net.views).items()}
    first, second = (rs.perturbation(net, weights, None, None)["cell"] for _ in range(2))
    assert first.abs().max() <= 0.2 and second.abs().max() <= 0.2
    assert first.abs().max() > 0.1 and not torch.equal(first, second)
    moved = clipped(net, weights, {"cell": first})["cell"]
    assert torch.allclose(moved.sum(-1), torch.ones(moved.shape[0])) and (moved >= 0).all()


def test_sdarts_adv_perturbation_raises_the_training_loss_within_epsilon():
    """SDARTS-ADV's delta is within epsilon and the loss at the perturbed weights is at least
    the unperturbed one (the ascent is kept only where it raises it)."""
    torch.manual_seed(4)
    net, adv = tiny_net(), method("sdarts-adv", epsilon=0.3, steps=5)
    x, y = torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,))
    weights = {k: w.detach() for k, w in softmax_weights(net.views).items()}
    delta = adv.perturbation(net, weights, x, y)
    assert delta["cell"].abs().max() <= 0.3 + 1e-6 and net.training
    net.eval()
    with torch.no_grad():
        before = torch.nn.functional.cross_entropy(net(x, Run(weights)), y)
        after = torch.nn.functional.cross_entropy(net(x, Run(clipped(net, weights, delta))), y)
    assert after >= before


def _gradient_by_candidate(net, loss) -> tuple[torch.Tensor, tuple[str, ...]]:
    loss.backward()
    view = net.views["cell"]
    return view["alpha"].grad[0], view.edges[0][2]


def test_snas_resource_term_pushes_towards_cheaper_candidates():
    """The gradient of SNAS's expected-cost term raises the cheap candidates' alpha (none,
    skip, pool: no FLOPs) and lowers the 3x3 conv's, the costliest, on NB201's first edge;
    it is 1 at uniform weights."""
    net = tiny_net()
    with torch.no_grad():
        net.views["cell"]["alpha"].zero_()
    cost = expected_cost(net, "flops")
    assert cost.item() == pytest.approx(1.0)
    grad, names = _gradient_by_candidate(net, cost)
    assert grad[names.index("nor_conv_3x3")] > 0 > grad[names.index("none")]
    assert grad[names.index("nor_conv_3x3")] == grad.max()


def test_fbnet_latency_factor_pushes_towards_faster_candidates():
    """FBNet's latency factor alpha * log(LAT)^beta, at softmax weights, has its largest
    gradient on a conv of NB201's first edge and a negative one on `none`; it is at least
    alpha."""
    net, fbnet = tiny_net(), method("fbnet")
    weights = softmax_weights(net.views)
    factor = fbnet.latency_factor(net, weights)
    assert factor.item() >= 0.2
    grad, names = _gradient_by_candidate(net, factor)
    assert grad[names.index("none")] < 0 and grad.argmax() in (names.index("nor_conv_1x1"),
                                                               names.index("nor_conv_3x3"))


def test_darts_minus_skip_coefficient_decays_to_zero():
    """DARTS-'s beta starts at --skip-beta and falls every epoch, linearly as the reference
    code (beta * (1 - epoch / epochs)) or along a cosine, towards zero."""
    def betas(decay):
        minus = get_method("darts-minus")(config("darts-minus", epochs=10, method_options=(
            ("skip-beta", 0.5), ("skip-decay", decay))))
        found = []
        for epoch in range(10):
            minus.start_epoch(epoch)
            found.append(minus.beta)
        return found
    linear, cosine = betas("linear"), betas("cosine")
    assert linear == pytest.approx([0.5 * (1 - e / 10) for e in range(10)])
    assert cosine[0] == 0.5 and cosine[-1] < 0.02
    assert all(a > b for a, b in zip(linear, linear[1:])) and \
        all(a > b for a, b in zip(cosine, cosine[1:]))


def test_darts_minus_adds_beta_to_the_skip_of_every_edge():
    """The weights are softmax(alpha) plus beta on each edge's skip: NB201's skip_connect on
    every edge, and in the DARTS reduction cell skip_connect also on the stride-2 edges,
    where it is a factorized reduce; derivation still reads softmax(alpha)."""
    minus = method("darts-minus")
    for space in ("nb201", "darts"):
        net = tiny_net(space)
        added = {k: minus.mixing_weights(net)[k] - w for k, w in softmax_weights(net.views).items()}
        for name, extra in added.items():
            column = net.views[name].edges[0][2].index("skip_connect")
            expected = torch.zeros_like(extra)
            expected[:, column] = minus.beta
            torch.testing.assert_close(extra, expected)
        assert minus.eval_weights(net).keys() == added.keys()
        torch.testing.assert_close(minus.eval_weights(net)["cell" if space == "nb201" else
                                                           "normal"],
                                   softmax_weights(net.views)["cell" if space == "nb201" else
                                                              "normal"])


def test_darts_minus_skip_keeps_the_simplified_supernet_vertex_exact():
    """Simplification composes with DARTS-: at a vertex plus beta on the skip (weights that
    sum to 1 + beta), the simplified darts supernet (every rewrite) computes what the naive
    one does, for every candidate of the vertex."""
    torch.manual_seed(5)
    space = load(SPACES / "darts.nas", overrides={"C": 4, "N": 1})
    naive = Supernet(space, BuildOptions(simplify=False, dtype=torch.float64))
    simple = Supernet(space, BuildOptions(dtype=torch.float64,
                                          rewrites=frozenset({"pms", "fms", "reparam"})))
    simple.load_state_dict(naive.state_dict())
    minus = method("darts-minus", **{"skip-beta": 0.7})
    x = torch.randn(2, 3, 16, 16, dtype=torch.float64)
    for k in range(8):
        with torch.no_grad():
            for view in naive.views.values():
                view["alpha"].fill_(-1e4)[:, k] = 0.0
        weights = {name: w.double() for name, w in minus.mixing_weights(naive).items()}
        assert weights["normal"].sum(-1).sub(1.7).abs().max() < 1e-9
        torch.testing.assert_close(simple(x, Run(weights)), naive(x, Run(weights)),
                                   rtol=1e-9, atol=1e-9)


def test_random_ws_samples_uniformly():
    """random-ws draws NB201's candidates uniformly per edge, and in the DARTS cells two
    input edges a node, every pair of node 5's five alike, with a candidate other than `none`, each alike
    (3000 draws, within 4 standard errors)."""
    torch.manual_seed(6)
    n = 3000
    nb201 = tiny_net()
    drawn = torch.stack([sample_run(nb201).sampled["cell"] for _ in range(n)])
    frequency = torch.nn.functional.one_hot(drawn, 5).float().mean(0)
    assert (frequency - 0.2).abs().max() < 4 * (0.2 * 0.8 / n) ** 0.5
    darts = tiny_net("darts")
    view = darts.views["normal"]
    runs = [sample_run(darts).sampled["normal"] for _ in range(n)]
    node_5 = list(view.incoming[5])  # five inputs: ten pairs
    pairs = {}
    for sampled in runs:
        kept = tuple(e for e in node_5 if sampled[e] >= 0)
        pairs[kept] = pairs.get(kept, 0) + 1
        assert all(len([e for e in view.incoming[node] if sampled[e] >= 0]) == 2
                   for node in view.choosing)
    assert len(pairs) == 10
    assert max(abs(c / n - 0.1) for c in pairs.values()) < 4 * (0.1 * 0.9 / n) ** 0.5
    ops = torch.cat([sampled[sampled >= 0] for sampled in runs])
    counts = torch.bincount(ops, minlength=8).float() / len(ops)
    assert counts[view.edges[0][2].index("none")] == 0
    assert (counts[1:] - 1 / 7).abs().max() < 4 * (1 / 7 * 6 / 7 / len(ops)) ** 0.5


def test_random_ws_selects_the_best_scoring_sample():
    """random-ws scores --samples drawn architectures with the given score and derives the
    one that scores best; it declares no architecture parameters."""
    torch.manual_seed(7)
    ranked = method("random-ws", samples=20, **{"eval-batches": 3})
    net = ranked.supernet(net_space())
    assert net.arch_parameters() == []
    seen = []

    def score(run, batches):
        assert batches == 3
        sampled = run().sampled["cell"]
        seen.append(sampled.clone())
        return float((sampled == 3).sum()), 0.0  # the more nor_conv_3x3, the better

    arch = ranked.select(net, net_space(), score)
    best = max(seen, key=lambda s: (s == 3).sum().item())
    assert len(seen) == 20
    names = net.views["cell"].edges[0][2]
    assert [op for _, _, op in arch.cell("cell").edges] == [names[i] for i in best.tolist()]


def net_space():
    return load(SPACES / "nb201.nas", overrides={"C": 4, "N": 1})


def _count_candidate_calls(net):
    """Forward hooks counting, per edge of every cell, how many of its candidates run."""
    calls = []
    for stage in net.stages:
        for edge in getattr(stage, "edges", ()):
            for op in edge.ops:
                op.register_forward_hook(lambda *_, edge=edge: calls.append(id(edge)))
    return calls


def test_proxylessnas_runs_one_candidate_per_edge_then_two():
    """ProxylessNAS's weight step runs exactly one candidate on each edge, its architecture
    step exactly two, and the step gives every edge's drawn pair a gradient."""
    torch.manual_seed(8)
    proxyless = method("proxylessnas")
    net = proxyless.supernet(net_space())
    edges = sum(len(getattr(stage, "edges", ())) for stage in net.stages)
    calls = _count_candidate_calls(net)
    x, y = torch.randn(4, 3, 32, 32), torch.randint(0, 10, (4,))
    proxyless.weight_backward(net, x, y)
    assert len(calls) == edges and len(set(calls)) == edges
    calls.clear()
    optimizer = torch.optim.Adam(net.arch_parameters(), 0.1)
    proxyless.arch_step(net, (x, y), (x, y), optimizer, None)
    assert len(calls) == 2 * edges and all(calls.count(e) == 2 for e in set(calls))
    grad = net.views["cell"]["alpha"].grad
    assert ((grad != 0).sum(-1) <= 2).all() and (grad != 0).any()


def test_proxylessnas_rescaling_keeps_the_undrawn_path_weights():
    """After an architecture step with the search's Adam (momentum, weight decay) and a
    latency term, the candidates that were not drawn keep their path weights: only the
    pair's alphas move, by an update whose exp-sum is unchanged."""
    torch.manual_seed(9)
    proxyless = method("proxylessnas", **{"latency-weight": 1.0})
    net = proxyless.supernet(net_space())
    with torch.no_grad():
        net.views["cell"]["alpha"].copy_(torch.randn_like(net.views["cell"]["alpha"]))
    optimizer = torch.optim.Adam([{"params": net.arch_parameters()}], 0.1, betas=(0.5, 0.999),
                                 weight_decay=1e-3)
    x, y = torch.randn(4, 3, 32, 32), torch.randint(0, 10, (4,))
    for _ in range(3):
        alpha = net.views["cell"]["alpha"].detach().clone()
        before = torch.softmax(alpha, -1)
        proxyless.arch_step(net, (x, y), (x, y), optimizer, None)
        moved = net.views["cell"]["alpha"].detach()
        after = torch.softmax(moved, -1)
        changed = ~torch.isclose(after, before, rtol=0, atol=1e-7)
        assert changed.any() and (changed.sum(-1) <= 2).all()
        assert ((moved != alpha).sum(-1) <= 2).all()


def test_proxylessnas_evaluates_the_path_it_derives():
    """ProxylessNAS's evaluation runs the derived architecture: in the DARTS cells, the two
    edges each node keeps, with their strongest candidate other than `none`, even where
    `none` is the most probable."""
    torch.manual_seed(10)
    proxyless = method("proxylessnas")
    space = load(SPACES / "darts.nas", overrides={"C": 4, "N": 1})
    net = proxyless.supernet(space)
    with torch.no_grad():
        for view in net.views.values():
            view["alpha"].copy_(torch.randn_like(view["alpha"]))
            view["alpha"][:, view.edges[0][2].index("none")] = 5.0
    sampled = proxyless.eval_run(net).sampled
    arch = proxyless.derive(net, space)
    for name, view in net.views.items():
        ran = {(src, dst, names[column]) for (src, dst, names), column
               in zip(view.edges, sampled[name].tolist()) if column >= 0}
        assert ran == set(arch.cell(name).edges) and len(ran) == 8


def test_darts_minus_skips_only_through_identities_in_node_ops_cells():
    """In nb101's cells DARTS- adds beta to the identity wires only: no vertex op and no
    input projection gets it."""
    minus = method("darts-minus")
    net = tiny_net("nb101")
    for name, view in net.views.items():
        extra = minus.mixing_weights(net)[name] - softmax_weights(net.views)[name]
        added = extra.abs() > 1e-6
        assert (added <= view.identity).all() and added.any()
