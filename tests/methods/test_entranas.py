"""EnTranNAS and EnTranNAS-DST (seed 004): Engine- and Transit-cells, feature sharing, the
sparsified weights of Eq. 7-9, learnable thresholds and the lambda regularizer of Eq. 11."""

import pytest
import torch
from torch import nn

from nasdsl.architecture.derive import derive, derived_text, from_genotype, to_genotype
from nasdsl.backends.torch.cells import CellBase
from nasdsl.backends.torch.contract import Run
from nasdsl.backends.torch.network import BuildOptions
from nasdsl.backends.torch.sharing import SharedSourceCell
from nasdsl.dsl.elaborate import load
from nasdsl.errors import NasError
from nasdsl.methods import get_method
from nasdsl.methods.entranas import engine_cells, sparsify, tempered_softmax
from nasdsl.search.config import SearchConfig
from nasdsl.search.loop import Search
from tests.paths import SPACES


def method(name="entranas", **options):
    config = SearchConfig(space="darts", method=name, method_options=tuple(options.items()))
    return get_method(name)(config)


def tiny(space, m, simplify=False, dtype=torch.float32):
    loaded = m.prepare_space(load(SPACES / f"{space}.nas", overrides={"C": 4, "N": 1}),
                             None, torch.device("cpu"), None)
    return loaded, m.supernet(loaded, BuildOptions(simplify=simplify, dtype=dtype))


def cells(net):
    return [(index, stage) for index, stage in enumerate(net.stages) if isinstance(stage, CellBase)]


def record_candidates(net):
    """Forward hooks on every candidate chain: the (stage, src, dst, op) of each run; in a
    shared cell on every layer of each chain: (stage, src, op, position)."""
    ran = []
    for index, cell in cells(net):
        kind = cell.kind
        if isinstance(cell, SharedSourceCell):
            for src, chains in cell.sources.items():
                for slot, chain in enumerate(chains):
                    op = cell._ops[int(src)][slot].name
                    for position, layer in enumerate(chain):
                        layer.register_forward_hook(
                            lambda *_, key=(index, int(src), op, position): ran.append(key))
            continue
        for (src, dst, names), edge in zip(kind.edges, cell.edges):
            for op, chain in zip(names, edge.ops):
                chain.register_forward_hook(
                    lambda *_, key=(index, src, dst, op): ran.append(key))
    return ran


X = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))


def test_transit_cells_run_only_the_derived_sub_graph():
    """Without feature sharing, the Engine-cells run every candidate of every edge and each
    Transit-cell exactly the edges and ops that derivation keeps from the current weights."""
    m = method(**{"feature-sharing": "off"})
    space, net = tiny("darts", m)
    torch.nn.init.normal_(net.views["normal"]["alpha"])
    ran = record_candidates(net)
    m.logits(net, X)
    arch = derive(space, {k: w.tolist() for k, w in tempered_softmax(net, m.tau).items()})
    engines = {index for index, _ in cells(net)[:2]}  # the first normal and reduce cells
    for index, cell in cells(net):
        here = {key[1:] for key in ran if key[0] == index}
        if index in engines:
            assert len(here) == sum(len(names) for _, _, names in cell.kind.edges)
        else:
            assert here == set(arch.cell(cell.kind.name).edges)
            assert len(here) == 2 * cell.kind.nodes  # DARTS's rule: two inputs per node


def test_transit_cells_follow_the_weights_at_every_forward():
    """The derived sub-graph is re-derived at each forward: changing alpha changes what the
    Transit-cells run."""
    m = method(**{"feature-sharing": "off"})
    _, net = tiny("darts", m)
    ran = record_candidates(net)
    transit = cells(net)[2][0]
    with torch.no_grad():
        net.views["normal"]["alpha"].zero_()
        net.views["normal"]["alpha"][:, 4] = 1.0  # sep_conv_3x3 everywhere
    m.logits(net, X)
    assert {key[3] for key in ran if key[0] == transit} == {"sep_conv_3x3"}
    ran.clear()
    with torch.no_grad():
        net.views["normal"]["alpha"][:, 1] = 2.0  # now max_pool_3x3
    m.logits(net, X)
    assert {key[3] for key in ran if key[0] == transit} == {"max_pool_3x3"}


def test_feature_sharing_holds_one_set_of_layers_per_source_and_candidate():
    """Eq. 6: a darts normal cell holds (n - 1) x K candidate chains instead of |E| x K, and
    each layer of them runs once per forward although every later node uses the output."""
    _, shared = tiny("darts", method())
    _, plain = tiny("darts", method(**{"feature-sharing": "off"}))
    cell, plain_cell = shared.stages[1], plain.stages[1]
    assert isinstance(cell, SharedSourceCell) and cell.kind.name == "normal"
    assert sorted(cell.sources) == ["0", "1", "2", "3", "4"]
    assert all(len(chains) == 8 for chains in cell.sources.values())
    edge_params = sum(p.numel() for p in plain_cell.edges.parameters())
    assert sum(p.numel() for p in cell.sources.parameters()) * 14 == edge_params * 5
    ran = record_candidates(shared)
    shared.train()
    method().logits(shared, X)
    engine = [key for key in ran if key[0] == 1]
    assert len(engine) == len(set(engine)) == sum(len(chain) for chains in cell.sources.values()
                                                  for chain in chains)


def test_shared_prefixes_are_exact_and_computed_once():
    """With simplification, candidates of one source that begin with the same
    parameter-free module (the ReLU of sep and dil convs) compute it once; the logits equal
    those of the unsimplified shared supernet, whose parameters have the same names."""
    m = method()
    _, simple = tiny("darts", m, simplify=True, dtype=torch.float64)
    _, naive = tiny("darts", m, simplify=False, dtype=torch.float64)
    simple.load_state_dict(naive.state_dict())
    counts = {}
    for name, net in (("simple", simple), ("naive", naive)):
        counts[name] = 0
        for module in net.modules():
            if isinstance(module, nn.ReLU):
                module.register_forward_hook(
                    lambda *_, key=name: counts.__setitem__(key, counts[key] + 1))
    x = X.double()
    torch.testing.assert_close(m.logits(simple, x), m.logits(naive, x), rtol=1e-10, atol=1e-10)
    assert counts["simple"] < counts["naive"]


def test_active_candidates_through_plans_equal_the_naive_supernet():
    """The supernet's `active` tables, keyed by stage index, run the same sub-graph through
    simplified and naive edges (plans are bypassed for sub-graphs)."""
    m = method(**{"feature-sharing": "off"})
    space, naive = tiny("darts", m, dtype=torch.float64)
    simple = m.supernet(space, BuildOptions(simplify=True, dtype=torch.float64,
                                            rewrites=frozenset({"pms", "fms", "reparam"})))
    simple.load_state_dict(naive.state_dict())
    torch.nn.init.normal_(naive.views["normal"]["alpha"])
    weights = tempered_softmax(naive, 1.0)
    kept = m.kept(naive, weights)
    tables = {index: kept[cell.kind.name] for index, cell in cells(naive)}
    ones = {**weights, **{i: mask.double() for i, mask in tables.items()}}
    x = X.double()
    run = Run(ones, active=tables)
    torch.testing.assert_close(simple(x, run), naive(x, run),
                               rtol=1e-9, atol=1e-9)


def test_engine_cells_carry_the_gradient_to_alpha():
    """The architecture loss reaches alpha of every cell kind through the Engine-cells; the
    Transit-cells' weights are constants."""
    m = method()
    _, net = tiny("darts", m)
    weights = m.run(net).weights
    transit = [key for key in weights if isinstance(key, int)]
    assert transit and not any(weights[key].requires_grad for key in transit)
    m.arch_loss(net, X, torch.tensor([0, 1])).backward()
    assert all(alpha.grad is not None and alpha.grad.abs().sum() > 0
               for alpha in (view["alpha"] for view in net.views.values()))


def test_temperature_anneals_by_0_923_from_5():
    """Eq. 5's temperature is 5.0 at the first epoch and shrinks by 0.923 every epoch."""
    m = method()
    assert m.tau == 5.0
    m.start_epoch(10)
    assert m.tau == pytest.approx(5.0 * 0.923 ** 10)


def test_engine_cells_option():
    """--engine-cells: first / last cell of each kind, all, or positions; every kind needs
    an Engine-cell."""
    cells_ = [(1, "normal"), (2, "reduce"), (3, "normal"), (4, "reduce"), (5, "normal")]
    assert engine_cells("first", cells_) == {1, 2}
    assert engine_cells("last", cells_) == {4, 5}
    assert engine_cells("all", cells_) == {1, 2, 3, 4, 5}
    assert engine_cells("2, 3", cells_) == {3, 4}
    with pytest.raises(NasError, match="without an Engine-cell"):
        engine_cells("0,2", cells_)
    with pytest.raises(NasError, match="takes first, last, all"):
        engine_cells("middle", cells_)
    with pytest.raises(NasError, match="cells 0..4"):
        engine_cells("0,7", cells_)


def test_sparsified_weights_by_hand():
    """Eq. 7-9 on a two-node cell: normalize by the node's strongest connection, cut at the
    node's threshold, renormalize each edge; an edge can drop out, a node keeps one."""
    p = torch.tensor([[0.6, 0.4], [0.5, 0.5], [0.9, 0.1]])
    q = sparsify(p, {1: [0], 2: [1, 2]}, torch.tensor([0.5, 0.6]))
    expected = torch.tensor([[0.75, 0.25], [0.0, 0.0], [1.0, 0.0]])
    torch.testing.assert_close(q, expected)


def test_dst_thresholds_are_learnable_architecture_parameters():
    """EnTranNAS-DST's thresholds beta are architecture parameters, saved in the state dict,
    and the architecture loss moves them."""
    m = method("entranas-dst")
    _, net = tiny("nb201", m)
    beta = net.views["cell"]["threshold"]
    assert beta.shape == (3,) and any(p is beta for p in net.arch_parameters())
    assert "architecture.threshold.kind_cell" in net.state_dict()
    assert all(p is not beta for p in net.weight_parameters())
    optimizer = torch.optim.Adam(net.arch_parameters(), lr=0.1)
    before = beta.detach().clone()
    m.arch_step(net, None, (X, torch.tensor([0, 1])), optimizer, None)
    assert not torch.equal(before, beta.detach())


def test_dst_lambda_prunes_connections():
    """A larger lambda raises the thresholds (Eq. 11) and so keeps fewer connections: with
    a strong one each node keeps only its strongest connection."""
    kept, thresholds = {}, {}
    for lam in (0.0, 5.0):
        torch.manual_seed(0)
        m = method("entranas-dst", **{"dst-lambda": lam})
        m.start_epoch(30)
        _, net = tiny("nb201", m)
        torch.nn.init.normal_(net.views["cell"]["alpha"])
        optimizer = torch.optim.Adam(net.arch_parameters(), lr=0.3)
        for _ in range(10):
            m.arch_step(net, None, (X, torch.tensor([0, 1])), optimizer, None)
        kept[lam] = int((m.mixing_weights(net)["cell"] > 0).sum())
        thresholds[lam] = torch.sigmoid(net.views["cell"]["threshold"]).mean().item()
    assert thresholds[5.0] > 0.9 > thresholds[0.0]
    assert kept[5.0] == 3 < kept[0.0], kept


def test_dst_derives_any_number_of_inputs_per_node(tmp_path):
    """Nodes keep the connections above their threshold: in-degrees 1, 3, 2, 4 here; the
    genotype lists them per node and reads back, the derived .nas loads as one
    architecture, and the Transit-cells run exactly those connections."""
    m = method("entranas-dst", **{"feature-sharing": "off"})
    m.start_epoch(60)  # tau ~ 0.04: each edge's softmax near one-hot
    space, net = tiny("darts", m)
    keep = {2: [0], 3: [0, 1, 2], 4: [1, 3], 5: [0, 1, 2, 4]}
    with torch.no_grad():
        for name in ("normal", "reduce"):
            net.views[name]["alpha"].zero_()
            for index, (src, dst, _) in enumerate(space.cell_kinds[0].edges):
                if src in keep[dst]:
                    net.views[name]["alpha"][index, 4] = 1.0
    arch = m.derive(net, space)
    degrees = [sum(1 for _, dst, _ in arch.cell("normal").edges if dst == node)
               for node in range(2, 6)]
    assert degrees == [1, 3, 2, 4]
    text = to_genotype(arch, space)
    assert "[[" in text and from_genotype(text, space) == arch
    path = tmp_path / "derived.nas"
    path.write_text(derived_text(space, arch))
    derived = load(path)
    assert derived.architecture_count() == 1
    assert [len(derived.cell_kinds[0].fixed_into(node)) for node in range(2, 6)] == degrees
    ran = record_candidates(net)
    m.logits(net, X)
    transit = cells(net)[2][0]
    assert {key[1:] for key in ran if key[0] == transit} == set(arch.cell("normal").edges)


@pytest.mark.parametrize("name", ["entranas", "entranas-dst"])
def test_tiny_search_without_feature_sharing(tmp_path, name):
    """Each method searches the darts space with feature sharing off, simplified, and
    writes a genotype that reads back and a derived .nas that loads."""
    config = SearchConfig(space=str(SPACES / "darts.nas"), method=name, dataset="digits",
                          subset=32, epochs=1, batch=16, overrides=(("C", 4), ("N", 1)),
                          method_options=(("feature-sharing", "off"),))
    result = Search(config, tmp_path / "run", progress=False).run()
    space = load(SPACES / "darts.nas")
    assert from_genotype(result.arch_text, space) == result.architecture
    assert load(tmp_path / "run" / "derived.nas").architecture_count() == 1
