"""Fixed edges, those with one candidate: part of the network, not of the search. No
architecture parameter, no mixing, no partial channels, no pruning; always kept by
derivation, outside the architecture count."""

import pytest
import torch

from nasdsl.architecture.derive import derive, derived_text
from nasdsl.backends.torch.cells import CellBase, CellRun
from nasdsl.backends.torch.network import BuildOptions
from nasdsl.dsl.elaborate import load
from nasdsl.methods import get_method
from nasdsl.search.config import SearchConfig

# Node 2 sums a searchable edge from node 1 and a fixed identity from the input (a residual
# connection), node 1 a searchable edge from the input.
SPACE = """
op none = zero
op skip = identity
op conv = relu -> conv(kernel=3) -> bn
cell c {
    nodes 2
    edges 0 -> 1, 0 -> 2, 1 -> 2
    candidates none, skip, conv
    edge 0 -> 2: skip
    derive top 1 exclude none
}
network n {
    let classes = 10
    input(channels=3, size=8)
    search bn(affine=false)
    stem conv(kernel=3, out=8) -> bn
    cells c * 2 channels 8
    head global_avg_pool -> linear(out=classes)
}
"""


@pytest.fixture
def space_path(tmp_path):
    path = tmp_path / "fixed.nas"
    path.write_text(SPACE)
    return path


def method(name, **fields):
    return get_method(name)(SearchConfig(space="fixed", method=name, **fields))


def test_a_fixed_edge_is_no_choice(space_path):
    """The kind has two searchable edges and one fixed; only searchable edges count: two
    choices of op each (none excluded), the fixed edge always there."""
    (kind,) = load(space_path).cell_kinds
    assert [(s, d) for s, d, _ in kind.edges] == [(0, 1), (1, 2)]
    assert kind.fixed == ((0, 2, ("skip",)),)
    assert kind.architecture_count() == 2 * 2


@pytest.mark.parametrize("name", ["darts", "pc-darts", "gdas", "rome", "entranas-dst"])
def test_no_architecture_parameter_and_no_mixing_for_a_fixed_edge(space_path, name):
    """Every method's supernet has architecture parameters for the searchable edges only,
    and the fixed identity passes its input on unchanged: with every searchable edge on
    `none` (under PC-DARTS, whose edges pass 3/4 of their channels by, with every edge
    weight 0), a cell outputs its input: the fixed edge is neither weighted nor shuffled."""
    searcher = method(name)
    space = load(space_path)
    net = searcher.supernet(space, BuildOptions(simplify=False))
    view = net.views["c"]
    assert view["alpha"].shape == (2, 3) and view.edges == ((0, 1, ("none", "skip", "conv")),
                                                            (1, 2, ("none", "skip", "conv")))
    # Besides alpha: per searchable edge (2), per node (2), per edge set (one per edge).
    assert all(p.shape[0] == 2 for p in view.parameters.values())
    cell = next(stage for stage in net.stages if isinstance(stage, CellBase))
    x = torch.randn(2, 8, 8, 8)
    on_none = torch.zeros(2, 3)
    on_none[:, 0] = 1.0
    edges = {"edge_weights": torch.zeros(2)} if name == "pc-darts" else {}
    torch.testing.assert_close(cell([x], CellRun(on_none, **edges)), x)


def test_derivation_keeps_the_fixed_edge_besides_the_derived_ones(space_path):
    """`derive top 1` keeps one searchable input a node, and node 2 keeps its fixed residual
    besides it, in the derived architecture and in the derived .nas file."""
    space = load(space_path)
    arch = derive(space, {"c": [[0.0, 0.1, 0.9], [0.0, 0.8, 0.2]]})
    assert arch.cell("c").edges == ((0, 1, "conv"), (0, 2, "skip"), (1, 2, "skip"))
    path = space_path.parent / "derived.nas"
    path.write_text(derived_text(space, arch))
    (kind,) = load(path).cell_kinds
    assert kind.edges == () and len(kind.fixed) == 3


def test_dst_never_prunes_a_fixed_edge(space_path):
    """EnTranNAS-DST's thresholds cut only searchable connections: however high they are,
    the derived cell keeps the fixed edge."""
    searcher = method("entranas-dst")
    space = load(space_path)
    net = searcher.supernet(space, BuildOptions(simplify=False))
    with torch.no_grad():
        net.views["c"]["threshold"].fill_(20.0)
    arch = searcher.derive(net, space)
    assert (0, 2, "skip") in arch.cell("c").edges


@pytest.mark.parametrize("name", ["darts", "pc-darts", "gdas", "rome", "entranas-dst",
                                  "zero-one-shot-rnd"])
def test_a_search_of_a_space_with_a_fixed_edge(space_path, tmp_path, name):
    """A one-epoch search of every method family runs, and its derived architecture, which
    keeps the fixed edge, reads back from its genotype."""
    from nasdsl.architecture.derive import from_genotype
    from nasdsl.search.loop import Search
    config = SearchConfig(space=str(space_path), method=name, dataset="digits", subset=32,
                          epochs=1, batch=16, method_options=(("partial-k", 2), ("rome-k", 1)))
    result = Search(config, tmp_path / "run", progress=False).run()
    assert (0, 2, "skip") in result.architecture.cell("c").edges
    assert from_genotype(result.arch_text, load(space_path)) == result.architecture
