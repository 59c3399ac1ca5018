"""ROME (seed 001): sampled topologies of in-degree 2, Gumbel-Top2 marginals, single paths,
no `none`, gradient accumulation over K sub-models, derivation as argmax p(z)."""

import argparse
import math

import attrs
import pytest
import torch

from nasdsl.architecture.derive import from_genotype, to_genotype
from nasdsl.backends.torch.cells import Cell
from nasdsl.backends.torch.contract import candidate_masks
from nasdsl.backends.torch.network import BuildOptions
from nasdsl.dsl.elaborate import load
from nasdsl.errors import NasError
from nasdsl.methods import get_method
from nasdsl.methods import rome as rome_module
from nasdsl.search.config import SearchConfig
from nasdsl.search.loop import Search
from tests.paths import SPACES


def rome(version=2, k=7, **fields):
    options = (("rome-version", version), ("rome-k", k))
    return get_method("rome")(SearchConfig(space="darts", method="rome",
                                           method_options=options, **fields))


def tiny_space(name="darts"):
    return load(SPACES / f"{name}.nas", overrides={"C": 4, "N": 1})


def tiny_net(method, name="darts", **options):
    space = tiny_space(name)
    return space, method.supernet(space, BuildOptions(**options))


def none_column(space, kind):
    return space.cell_kinds[[k.name for k in space.cell_kinds].index(kind)].edges[0][2] \
        .index("none")


def incoming(kind):
    return {node: [i for i, edge in enumerate(kind.edges) if edge[1] == node]
            for node in kind.intermediate}


@pytest.mark.parametrize("version", [1, 2])
def test_every_sampled_topology_has_in_degree_two(version):
    """Each sampled sub-model keeps exactly 2 input edges of every node (Eq. 1), over many
    samples, and its gates are 1 on the kept edges and 0 elsewhere."""
    torch.manual_seed(0)
    method = rome(version)
    space, net = tiny_net(method)
    with torch.no_grad():
        for parameter in net.arch_parameters():
            parameter.normal_(0.0, 2.0)
    for _ in range(200):
        sub = method.sample(net)
        for kind in space.cell_kinds:
            kept = sub.sampled[kind.name] >= 0
            for node, edges in incoming(kind).items():
                assert int(kept[edges].sum()) == 2
            torch.testing.assert_close(sub.gates[kind.name].detach(), kept.float())


def test_gumbel_top2_marginals_match_sampling_without_replacement():
    """How often ROME-v2 keeps an edge matches p_1 + sum_i p_i p_1 / (1 - p_i) (Sec. 3.5),
    within 4.5 binomial standard errors, and so does `edge_probabilities`."""
    torch.manual_seed(1)
    method = rome(2)
    space, net = tiny_net(method)
    with torch.no_grad():
        for beta in (view["beta"] for view in net.views.values()):
            beta.normal_(0.0, 1.0)
    draws = 3000
    counts = {kind.name: torch.zeros(len(kind.edges)) for kind in space.cell_kinds}
    for _ in range(draws):
        for name, sampled in method.sample(net).sampled.items():
            counts[name] += (sampled >= 0).float()
    for kind in space.cell_kinds:
        beta = net.views[kind.name]["beta"].detach()
        marginals = method.edge_probabilities(net, kind.name).detach()
        for node, edges in incoming(kind).items():
            p = torch.softmax(beta[edges].double(), dim=0)
            for k, edge in enumerate(edges):
                expected = float(p[k] + sum(p[i] * p[k] / (1 - p[i])
                                            for i in range(len(p)) if i != k))
                error = math.sqrt(max(expected * (1 - expected), 0.0) / draws)
                assert abs(counts[kind.name][edge] / draws - expected) <= 4.5 * error + 1e-6
                torch.testing.assert_close(
                    float(marginals[edge]), expected,
                    rtol=1e-5, atol=1e-6)


def test_gumbel_top2_draws_two_without_replacement_on_an_uneven_categorical():
    """Gumbel-Top2 on p = (0.5, 0.25, 0.15, 0.1) keeps each entry as often as drawing two
    without replacement does (Sec. 3.5), within 4.5 standard errors of 200000 draws."""
    torch.manual_seed(2)
    p = torch.tensor([0.5, 0.25, 0.15, 0.1], dtype=torch.float64)
    draws = 200_000
    logits = p.log().expand(draws, 4).clone()
    kept = rome_module.gumbel_top_k(logits, torch.ones_like(logits, dtype=torch.bool), 2, 1.0)
    assert torch.equal(kept.sum(1), torch.full((draws,), 2.0, dtype=torch.float64))
    for k in range(4):
        expected = float(p[k] + sum(p[i] * p[k] / (1 - p[i]) for i in range(4) if i != k))
        error = math.sqrt(expected * (1 - expected) / draws)
        assert abs(kept[:, k].mean().item() - expected) <= 4.5 * error


def test_gumbel_top_k_keeps_each_rows_own_count_of_valid_entries():
    """With k given per row (nodes keeping different numbers of inputs, NAS-Bench-101's), each
    row keeps its k valid entries, or all of them where it has fewer; padding is never kept."""
    torch.manual_seed(4)
    logits = torch.randn(3, 4)
    valid = torch.tensor([[True, True, True, True], [True, True, False, False],
                          [True, True, True, False]])
    kept = rome_module.gumbel_top_k(logits, valid, torch.tensor([1, 3, 2]), 1.0)
    assert kept.sum(1).tolist() == [1.0, 2.0, 2.0]
    assert not kept[~valid].any()


def test_only_the_sampled_edges_and_candidates_are_computed():
    """A sub-model's forward calls exactly the sampled candidate of each kept edge, once, and
    no candidate of a left-out edge (forward hooks on every candidate)."""
    torch.manual_seed(3)
    method = rome(2)
    space, net = tiny_net(method)
    cells = [stage for stage in net.stages if isinstance(stage, Cell)]
    calls = []
    for position, cell in enumerate(cells):
        for index, edge in enumerate(cell.edges):
            for candidate, op in enumerate(edge.ops):
                op.register_forward_hook(
                    lambda *_, key=(position, index, candidate): calls.append(key))
    x = torch.randn(2, 3, 16, 16)
    for _ in range(5):
        calls.clear()
        sub = method.sample(net)
        net(x, method.sub_model_run(net, sub))
        expected = [(position, index, int(op))
                    for position, cell in enumerate(cells)
                    for index, op in enumerate(sub.sampled[cell.kind.name]) if op >= 0]
        assert sorted(calls) == sorted(expected)
        assert len(calls) == 8 * len(cells)


@pytest.mark.parametrize("space_name", ["darts", "nb201"])
def test_none_is_never_sampled_nor_derived(space_name):
    """Even when alpha strongly prefers `none`, no sub-model runs it, derivation never keeps
    it and its logged probability is 0 (seed 001 Sec. 4.1)."""
    torch.manual_seed(4)
    method = rome(2)
    space, net = tiny_net(method, space_name)
    for kind in space.cell_kinds:
        with torch.no_grad():
            net.views[kind.name]["alpha"][:, none_column(space, kind.name)] = 20.0
    column = {kind.name: none_column(space, kind.name) for kind in space.cell_kinds}
    for _ in range(100):
        sub = method.sample(net)
        for name, sampled in sub.sampled.items():
            assert not (sampled == column[name]).any()
            assert not sub.weights[name][:, column[name]].any()
    arch = method.derive(net, space)
    assert all(op != "none" for cell in arch.cells for _, _, op in cell.edges)
    for name, weights in method.eval_weights(net).items():
        assert not weights[:, column[name]].any()


@pytest.mark.parametrize("version", [1, 2])
def test_derive_keeps_the_two_likeliest_edges_of_each_node(version):
    """Where beta favours the edges from both cell inputs and alpha favours sep_conv_3x3 (and
    `none` more), each node derives exactly those 2 edges with sep_conv_3x3."""
    method = rome(version)
    space, net = tiny_net(method)
    with torch.no_grad():
        for kind in space.cell_kinds:
            names = kind.edges[0][2]
            net.views[kind.name]["alpha"].zero_()
            net.views[kind.name]["alpha"][:, names.index("none")] = 20.0
            net.views[kind.name]["alpha"][:, names.index("sep_conv_3x3")] = 3.0
            beta = net.views[kind.name]["beta"]
            beta.zero_()
            if version == 2:
                for index, (src, _, _) in enumerate(kind.edges):
                    beta[index] = 5.0 if src < 2 else 0.0
            else:
                for index, (_, chosen) in enumerate(net.views[kind.name].edge_sets):
                    sources = {kind.edges[edge][0] for edge in chosen}
                    beta[index] = 5.0 if sources == {0, 1} else 0.0
    arch = method.derive(net, space)
    for kind in space.cell_kinds:
        assert arch.cell(kind.name).edges == tuple(
            (src, node, "sep_conv_3x3") for node in kind.intermediate for src in (0, 1))
    assert from_genotype(to_genotype(arch, space), space) == arch


def test_derivation_is_the_joint_argmax_of_edges_and_operations():
    """With beta uniform, a node keeps the edge whose best operation is near certain (Eq. 9:
    p(z) multiplies p(e; beta) by p(o | e; alpha)), the tie broken by the earlier edge."""
    method = rome(2)
    space, net = tiny_net(method)
    kind = space.cell_kinds[0]
    edge = next(i for i, (src, dst, _) in enumerate(kind.edges) if (src, dst) == (2, 3))
    with torch.no_grad():
        for parameter in net.arch_parameters():
            parameter.zero_()
        net.views[kind.name]["alpha"][edge, kind.edges[edge][2].index("dil_conv_5x5")] = 10.0
    node3 = [e for e in method.derive(net, space).cell(kind.name).edges if e[1] == 3]
    assert node3 == [(0, 3, "max_pool_3x3"), (2, 3, "dil_conv_5x5")]


def test_gradient_accumulation_sums_weight_and_averages_architecture_gradients(monkeypatch):
    """With the Gumbel noise fixed at 0 every sub-model is the same: K = 3 gives 3 times the
    weight gradients of K = 1 (Eq. 12) and the same architecture gradients (Eq. 11)."""
    monkeypatch.setattr(rome_module, "gumbel_noise", torch.zeros_like)
    torch.manual_seed(5)
    one, three = rome(2, k=1), rome(2, k=3)
    space, net = tiny_net(one, dtype=torch.float64)
    x, y = torch.randn(4, 3, 16, 16, dtype=torch.float64), torch.tensor([0, 1, 2, 3])
    optimizer = torch.optim.SGD(net.arch_parameters(), lr=0.0)
    gradients = {}
    for method in (one, three):
        net.zero_grad(set_to_none=True)
        method.weight_backward(net, x, y)
        weights = [p.grad.clone() for p in net.weight_parameters() if p.grad is not None]
        method.arch_step(net, None, (x, y), optimizer, None)
        arch = [p.grad.clone() for p in net.arch_parameters() if p.grad is not None]
        gradients[method.samples] = (weights, arch)
    (w1, a1), (w3, a3) = gradients[1], gradients[3]
    assert len(w1) == len(w3) > 0 and len(a1) == len(a3) == 4
    for g1, g3 in zip(w1, w3):
        torch.testing.assert_close(g3, 3 * g1)
    for g1, g3 in zip(a1, a3):
        torch.testing.assert_close(g3, g1)
    assert any(g.abs().sum() > 0 for g in a1)


def test_left_out_edges_pass_straight_through_gradients_to_their_gates():
    """An edge left out of the sampled topology still gets a gradient on its gate (added as a
    zero-valued scalar), as unsampled candidates do on their weights."""
    torch.manual_seed(6)
    method = rome(2)
    space, net = tiny_net(method)
    sub = method.sample(net)
    gates = {name: gate.detach().clone().requires_grad_() for name, gate in sub.gates.items()}
    run = method.sub_model_run(net, attrs.evolve(sub, gates=gates))
    net(torch.randn(2, 3, 16, 16), run).square().sum().backward()
    left_out = sub.sampled["normal"] < 0
    assert left_out.any() and (gates["normal"].grad[left_out] != 0).all()


@pytest.mark.parametrize("version,rewrites", [(1, None), (2, "pms,fms,reparam")])
def test_tiny_search_moves_alpha_and_beta(tmp_path, version, rewrites):
    """A tiny darts search (v1 naive; v2 through forced rewrites, PlanEdge) changes alpha and
    beta and derives a genotype of in-degree 2 that reads back."""
    config = SearchConfig(space=str(SPACES / "darts.nas"), method="rome", dataset="digits",
                          overrides=(("C", 4), ("N", 1)), subset=32, epochs=1, batch=16,
                          rewrites=rewrites,
                          method_options=(("rome-version", version), ("rome-k", 2)))
    search = Search(config, tmp_path / "run", progress=False)
    views = search.net.views.values()
    before = [view[name].detach().clone() for view in views for name in ("alpha", "beta")]
    result = search.run()
    after = [view[name].detach() for view in views for name in ("alpha", "beta")]
    assert all(not torch.equal(b, a) for b, a in zip(before, after))
    assert from_genotype(result.arch_text, search.space) == result.architecture
    for cell in result.architecture.cells:
        assert sorted(dst for _, dst, _ in cell.edges) == [2, 2, 3, 3, 4, 4, 5, 5]


def test_temperature_anneals_and_options_are_checked():
    """tau falls linearly from tau_max to tau_min; K must be a positive integer; v1 builds a
    parameter per pair of input edges (1 + 3 + 6 + 10 per darts kind)."""
    method = rome(1, epochs=3)
    taus = []
    for epoch in range(3):
        method.start_epoch(epoch)
        taus.append(method.tau)
    assert taus[0] == 10.0 and abs(taus[-1] - 0.1) < 1e-12 and taus[1] < taus[0]
    with pytest.raises(argparse.ArgumentTypeError):
        next(o for o in rome_module.Rome.options if o.name == "rome-k").parse("0")
    with pytest.raises(NasError, match=r"--rome-k must be a whole number >= 1, not 0"):
        assert rome(k=0).samples
    _, net = tiny_net(method)
    assert {name: len(view["beta"]) for name, view in net.views.items()} == \
        {"normal": 20, "reduce": 20}
    assert all(any(view["beta"] is q for q in net.arch_parameters())
               for view in net.views.values())
    assert all(f"architecture.beta.kind_{name}" in net.state_dict() for name in net.views)


def test_an_edge_with_nothing_rome_may_sample_is_rejected(tmp_path):
    """A searchable edge whose candidates are `none` and ops the derivation excludes gets a
    clear error; an edge whose only op is `none` is fixed, not searched, and is accepted."""
    text = (SPACES / "nb201.nas").read_text().replace(
        "    derive all", "    edge 0 -> 1: none, avg_pool_3x3\n    edge 0 -> 2: none\n"
        "    derive all exclude avg_pool_3x3")
    path = tmp_path / "only_none.nas"
    path.write_text(text)
    space = load(path, overrides={"C": 4, "N": 1})
    with pytest.raises(NasError, match="edge 0->1 of cell 'cell'"):
        rome().prepare_space(space, lambda: iter(()), torch.device("cpu"), None)
    path.write_text(text.replace("edge 0 -> 1: none, avg_pool_3x3", "edge 0 -> 1: none"))
    space = load(path, overrides={"C": 4, "N": 1})
    assert rome().prepare_space(space, lambda: iter(()), torch.device("cpu"), None) is space


def test_a_zero_followed_by_a_bias_is_sampled_like_any_op(tmp_path):
    """`zero -> conv(kernel=1)` with the search's bias outputs the bias, not zero: ROME masks
    only ops that really output zeros (the test drop-zero uses)."""
    text = (SPACES / "nb201.nas").read_text().replace(
        "op none = zero\n", "op none = zero\nop biased = zero -> conv(kernel=1)\n").replace(
        "candidates none,", "candidates none, biased,")
    path = tmp_path / "biased.nas"
    path.write_text(text)
    space = load(path, overrides={"C": 4, "N": 1})
    (kind,) = space.cell_kinds
    masks = candidate_masks(kind, space)
    rows = rome_module.samplable(masks["derivable"], masks["zero"])
    assert all(row[:2].tolist() == [False, True] for row in rows)
