"""What each method does to the supernet: weights, regularizers, partial channels."""

import torch

from nasdsl.backends.torch.cells import Cell, channel_shuffle
from nasdsl.backends.torch.contract import Run
from nasdsl.backends.torch.network import BuildOptions, Supernet
from nasdsl.dsl.elaborate import load
from nasdsl.methods import get_method, method_names
from nasdsl.search.config import SearchConfig
from tests.paths import SPACES


def config(method, **fields):
    return SearchConfig(space="nb201", method=method, **fields)


def tiny_net(space="nb201", simplify=True, **options):
    return Supernet(load(SPACES / f"{space}.nas", overrides={"C": 4, "N": 1}),
                    BuildOptions(simplify=simplify, **options))


def test_registry_holds_only_implemented_methods():
    """The registry names exactly the methods implemented so far."""
    assert method_names() == ["beta-darts", "darts", "darts-minus", "drnas", "entranas",
                              "entranas-dst", "fair-darts", "fbnet", "gdas", "pc-darts",
                              "proxylessnas", "random-ws", "rome", "sdarts-adv", "sdarts-rs", "snas",
                              "zero-one-shot", "zero-one-shot-rnd"]


def test_gdas_one_hot_weights_through_a_plan_equal_the_sampled_candidate():
    """GDAS's hard Gumbel weights through the simplified supernet compute what the naive
    supernet computes running only the sampled candidates (vertex exactness)."""
    torch.manual_seed(0)
    naive = tiny_net(simplify=False, dtype=torch.float64)
    simple = tiny_net(simplify=True, dtype=torch.float64,
                      rewrites=frozenset({"pms", "fms", "reparam"}))
    simple.load_state_dict(naive.state_dict())
    gdas = get_method("gdas")(config("gdas"))
    x = torch.randn(2, 3, 16, 16, dtype=torch.float64)
    for _ in range(3):
        run = gdas.run(naive)
        torch.testing.assert_close(simple(x, Run(run.weights)), naive(x, run),
                                   rtol=1e-9, atol=1e-9)
        assert all(((w == 0) | (w == 1)).all() for w in run.weights.values())


def test_gdas_temperature_anneals_from_10_to_0_1():
    """GDAS's temperature falls linearly from tau_max at the first epoch to tau_min at the
    last."""
    gdas = get_method("gdas")(config("gdas", epochs=5))
    taus = []
    for epoch in range(5):
        gdas.start_epoch(epoch)
        taus.append(gdas.tau)
    assert taus[0] == 10.0 and abs(taus[-1] - 0.1) < 1e-12 and taus == sorted(taus, reverse=True)


def test_beta_decay_regularizer():
    """beta-DARTS adds lambda_t * mean over edges of logsumexp(alpha), lambda_t = 50 t / 100."""
    net = tiny_net()
    beta = get_method("beta-darts")(config("beta-darts"))
    beta.start_epoch(10)
    expected = 50 * 10 / 100 * torch.logsumexp(net.views["cell"]["alpha"], dim=-1).mean()
    torch.testing.assert_close(beta.regularizer(net), expected)


def test_pc_darts_sends_a_quarter_of_the_channels_through_the_edges():
    """PC-DARTS places the edges' ops at C/4 channels and normalizes the edge weights over
    each node's inputs."""
    method = get_method("pc-darts")(config("pc-darts"))
    space = load(SPACES / "nb201.nas", overrides={"C": 8, "N": 1})
    net = method.supernet(space, BuildOptions())
    cell = next(stage for stage in net.stages if isinstance(stage, Cell))
    convs = [m for m in cell.edges[0].modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and {(m.in_channels, m.out_channels) for m in convs} == {(2, 2)}
    edges = method.edge_weights(net)["cell"]
    kind = space.cell_kinds[0]
    for node in kind.intermediate:
        total = sum(edges[i] for i, edge in enumerate(kind.edges) if edge[1] == node)
        torch.testing.assert_close(total, torch.tensor(1.0))
    assert method.logits(net, torch.randn(2, 3, 16, 16)).shape == (2, 10)
    assert method.warmup_epochs == 15


def test_channel_shuffle_interleaves_groups():
    """Channel shuffle with K groups interleaves them: channel j of group g goes to j*K+g."""
    x = torch.arange(8.0).view(1, 8, 1, 1)
    assert channel_shuffle(x, 4).flatten().tolist() == [0, 2, 4, 6, 1, 3, 5, 7]


def test_views_mark_the_identity_candidates_where_the_edge_keeps_its_shape():
    """`KindView.identity` marks skip_connect where it is the identity: every NB201 edge,
    and in the DARTS reduction cell only the edges that do not reduce (at stride 2 it is a
    factorized reduce)."""
    nb201 = tiny_net().views["cell"]
    names = nb201.edges[0][2]
    assert nb201.identity.any(0).tolist() == [name == "skip_connect" for name in names]
    assert nb201.identity[:, names.index("skip_connect")].all()
    darts = Supernet(load(SPACES / "darts.nas", overrides={"C": 4, "N": 1}), BuildOptions())
    reduce = darts.views["reduce"]
    column = reduce.edges[0][2].index("skip_connect")
    from_inputs = torch.tensor([src < 2 for src, _, _ in reduce.edges])
    assert reduce.identity[:, column].tolist() == (~from_inputs).tolist()
    assert reduce.identity.sum().item() == (~from_inputs).sum().item()
