"""Cells whose vertices carry the ops (NAS-Bench-101's): `node_ops`, `node v:`, `output
vertex`, per-node `derive top` and `max_edges`, lowered to a plain cell of edges, derived and
written back in the numbering of their text."""

import pytest
import torch

from nasdsl.architecture.derive import Architecture, derive, derived_space, derived_text
from nasdsl.architecture.vertices import from_vertices, to_vertices, vertices_form
from nasdsl.dsl.elaborate import load, narrowed
from nasdsl.dsl.parse import parse
from nasdsl.dsl.printer import print_program
from nasdsl.errors import NasError, NasErrors
from nasdsl.methods.entranas import dst_cell
from tests.paths import SPACES

CELL = """\
chain cbr(k) = conv(kernel=k) -> bn -> relu
op c3 = cbr(k=3)
op c1 = cbr(k=1)
op pool = max_pool(kernel=3)
op link = identity
op project = cbr(k=1)
op none = zero(out=out)

cell v {
    inputs 1
    nodes 3
    edges all
    candidates link, none
    edge 0 -> 1: project
    edge 0 -> 2: project, none
    edge 0 -> 3: project, none
    edge 0 -> 4: project, none
    node_ops c3, c1, pool
    node 3: c3, pool
    output vertex
    derive top 1, 1, 2, 2 exclude none
    max_edges 6
}

network n {
    input(channels=3, size=8)
    stem conv(kernel=3, out=8) -> bn -> relu
    cells v * 2 channels 8
    head global_avg_pool -> linear(out=10)
}
"""


def cell_space(text: str = CELL):
    return load("<cell>", text=text)


def errors_of(text: str) -> list[NasError]:
    with pytest.raises(NasErrors) as caught:
        cell_space(text)
    return caught.value.errors


def graded(space) -> dict:
    return {kind.name: [[float((7 * e + 3 * c) % 11 + 1) for c in range(len(names))]
                        for e, (_, _, names) in enumerate(kind.edges)]
            for kind in space.cell_kinds}


def test_node_statements_print_and_parse_back():
    """`node_ops`, `node v:`, `max_edges`, `output vertex` and per-node tops print as written
    and parse to the same tree."""
    text = ("cell v {\n    node_ops c3, c1\n    node 3: pool\n    output vertex\n"
            "    derive top 1, 2, 2 exclude none\n    max_edges 9\n}\n")
    program = parse(text)
    assert print_program(program) == text and parse(print_program(program)) == program


def test_a_vertex_is_a_sum_node_and_an_op_edge():
    """Each vertex lowers to a node summing its wires and an edge carrying its ops; the
    output vertex is the last node; derivation keeps the text's tops on the sum nodes."""
    (kind,) = cell_space().cell_kinds
    assert kind.node_ops and kind.nodes == 7 and kind.output == "vertex"
    assert [kind.in_text(src, dst) for src, dst, _ in kind.edges] == [
        "node 1", "0->2", "1->2", "node 2", "0->3", "1->3", "2->3", "node 3",
        "0->4", "1->4", "2->4", "3->4"]
    assert kind.fixed == ((0, 1, ("project",)),)
    ops = {kind.in_text(src, dst): names for src, dst, names in kind.edges}
    assert ops["node 1"] == ("c3", "c1", "pool") and ops["node 3"] == ("c3", "pool")
    assert kind.text_keeps() == (1, 1, 2, 2)
    assert [kind.keeps(node) for node in kind.intermediate] == [1, 1, 1, 1, 2, 1, 2]


def test_architecture_count_multiplies_ops_and_wire_sets():
    """3 ops x 3 ops x 2 ops, one of two wires into vertex 2, two of three into vertex 3 and
    two of four into the output: 18 x 2 x 3 x 6."""
    assert cell_space().architecture_count() == 18 * 2 * 3 * 6


def test_nb101_counts_search_space_3():
    """nb101.nas: 3^5 ops times NAS-Bench-1Shot1 space 3's parent choices, 2 x 3 x 6 x 10 x
    15, with 9 edges in every derived cell."""
    space = load(SPACES / "nb101.nas")
    assert space.architecture_count() == 3**5 * 2 * 3 * 6 * 10 * 15
    (cell,) = derive(space, graded(space)).cells
    (kind,) = space.cell_kinds
    assert sum(kind.is_wire(src, dst) for src, dst, _ in cell.edges) == 9


def test_the_output_vertex_is_as_wide_as_its_vertex_wires():
    """The output concatenates its three vertex wires (24 channels); the next cell projects
    those 24 back to 8 on its input's edges."""
    space = cell_space()
    first, second = space.network.cells
    assert first.out_channels == 24 and second.input_channels == 24
    to_output = [edge for edge in first.edges if edge.src == 0 and edge.dst == 7]
    assert [op.modules[0].c_out for op in to_output[0].candidates[:1]] == [24]


def test_a_derived_node_ops_cell_is_written_in_text_numbering_and_loads():
    """The derived .nas gives each vertex its op with `node v:` and lists the kept wires;
    it loads as a space of fixed edges whose vertices text is the architecture's."""
    space = cell_space()
    arch = derive(space, graded(space))
    text = derived_text(space, arch)
    assert "    node 1: " in text and "    node 3: " in text and "max_edges" not in text
    fixed = derived_space(space, arch)
    (kind,) = fixed.cell_kinds
    assert kind.edges == () and len(kind.fixed) == len(arch.cells[0].edges)
    assert vertices_form(space) and from_vertices(to_vertices(arch, space), space) == arch


@pytest.mark.parametrize(("text", "message"), [
    ("v: 0->1:project 1=c3 0->2:nope", "'0->2:nope': 'nope' is not a candidate of edge 0->2 of "
     "cell 'v'"),
    ("w: 1=c3", "the architecture names a cell 'w' that <cell> does not have"),
    ("v: 1+c3", "not a wire or a vertex op: '1+c3' in cell 'v'"),
    ("v: 5=c3", "'5=c3': cell 'v' has no vertex 5 with an op (it has vertices 1..3)"),
    ("v: 2->5:link", "'2->5:link': cell 'v' has no edge 2->5"),
    ("v: 3=pool 1=c3 2=c1 1=c1", "the architecture gives vertex 1 of cell 'v' 2 ops, not one"),
    ("v: 3=c1", "'3=c1': 'c1' is not a candidate of node 3 of cell 'v'"),
])
def test_bad_vertices_text_is_a_clear_error(text, message):
    """A vertices text that does not fit the space says what is wrong."""
    with pytest.raises(NasError) as caught:
        from_vertices(text, cell_space())
    assert caught.value.message == message


@pytest.mark.parametrize(("replacements", "message"), [
    (("node 3: c3, pool", "node 7: c3, pool"),
     "node 7 of cell 'v' is not a node with an op (1..3)"),
    (("node 3: c3, pool", "node 3: c3, pool\n    node 3: c1"),
     "cell 'v' has two 'node 3:' statements"),
    (("output vertex", "output concat"), "cell 'v' has 'node_ops' and 'output concat'"),
    (("    node_ops c3, c1, pool\n    node 3: c3, pool\n", "", "edge 0 -> 4: project, none\n",
      "", "output vertex", "output vertex\n    edge 0 -> 4: project, none"),
     "'output vertex' is the output of a cell whose nodes carry the ops"),
    (("max_edges 6", "max_edges 5"), "cell 'v' may keep 6 edges (each node's fixed edges and "
     "its 'derive top' ones) but 'max_edges 5' allows 5"),
    (("derive top 1, 1, 2, 2", "derive top 1, 2, 2"),
     "'derive top' gives 3 counts but cell 'v' has 4 nodes with inputs (1..4)"),
    (("derive top 1, 1, 2, 2", "derive top 1, 1, 4, 2"),
     "'derive top 4' but node 3 of cell 'v' has 3 incoming edges"),
    (("node 3: c3, pool", "node 3: c3, c3"), "op 'c3' is listed twice"),
    (("node_ops c3, c1, pool", "node_ops c3, c1, pool, none", "exclude none",
      "exclude none, c3, c1, pool"), "node 1 of cell 'v' has no op left after 'exclude'"),
])
def test_bad_node_ops_cells_are_located_errors(replacements, message):
    """Each mistake in a node_ops cell is one error saying what is wrong, where."""
    text = CELL
    for old, new in zip(replacements[::2], replacements[1::2]):
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    errors = errors_of(text)
    assert errors[0].message == message and errors[0].location is not None


def test_a_plain_zero_keeps_its_input_channels():
    """`zero` without `out` gives its input's channels, so on an edge into the output vertex,
    which widens, it is a located error naming the edge."""
    (error,) = errors_of(CELL.replace("op none = zero(out=out)", "op none = zero"))
    assert error.message == "op 'none' turns 8 channels into 8; edge 0->4 needs 24"


def test_derivation_must_keep_a_vertex_wire_into_the_output():
    """An output vertex that may keep only its wire from the input (top 1 of wires that
    include one from the input) is a located error."""
    (error,) = errors_of(CELL.replace("derive top 1, 1, 2, 2", "derive top 1, 1, 2, 1")
                         .replace("max_edges 6", "max_edges 9"))
    assert error.message.startswith("'derive top' may leave the output vertex 4 of cell 'v' "
                                    "with only edges from the cell's inputs")


def test_plain_one_input_cells_still_need_their_inputs_channels():
    """A cell without node ops placed where its input arrives at other channels is one error
    at the placement saying to add a preprocess, even with a `preprocess_reduced`."""
    text = (SPACES / "nb201.nas").read_text().replace(
        "cells cell * N channels C\n    layer resnet_block(out=2 * C",
        "cells cell * N channels 2 * C\n    layer resnet_block(out=2 * C")
    (error,) = errors_of(text)
    assert error.message == "cell 'cell' at 32 channels receives 16 channels on input 0"
    (error,) = errors_of(text.replace("    output last\n",
                                      "    output last\n    preprocess_reduced factorized_reduce\n"))
    assert error.message == "cell 'cell' at 32 channels receives 16 channels on input 0"


def test_the_output_vertex_needs_a_vertex_wire():
    """An output vertex fed by the input alone has nothing to concatenate: a located error."""
    text = CELL.replace("edges all", "edges 0 -> 1, 0 -> 2, 1 -> 2, 0 -> 3, 2 -> 3, 0 -> 4")
    (error,) = errors_of(text.replace("derive top 1, 1, 2, 2", "derive top 1, 1, 1, 1")
                         .replace("max_edges 6", "max_edges 9"))
    assert error.message == ("the output vertex 4 of cell 'v' has no edge from a vertex: it "
                             "concatenates what vertices bring")


def test_partial_channels_need_edges_that_keep_their_channels():
    """Under PC-DARTS's partial channels an input's edge to the output vertex, which widens,
    is a located error naming the edge as the text writes it."""
    space = load(SPACES / "nb101.nas", overrides={"C": 4, "N": 1})
    with pytest.raises(NasErrors) as caught:
        narrowed(space, 4)
    (error,) = caught.value.errors
    assert error.message.startswith("edge 0->6 of cell 'cell' takes 4 channels to 20: partial "
                                    "channel connections")


def test_entranas_dst_keeps_a_vertex_wire_into_the_output():
    """Where EnTranNAS-DST's thresholds cut every wire from a vertex into the output vertex,
    its derived cell keeps the strongest of them (by p), so the derived .nas loads."""
    space = cell_space()
    (kind,) = space.cell_kinds
    width = max(len(names) for _, _, names in kind.edges)
    q = torch.ones(len(kind.edges), width)
    p = torch.full((len(kind.edges), width), 0.5)
    last = kind.intermediate[-1]
    into_output = [i for i, (src, dst, _) in enumerate(kind.edges) if dst == last]
    q[into_output] = 0.0
    strongest = next(i for i in into_output if kind.edges[i][0] == 4)  # the wire 2->4
    p[strongest, 0] = 0.9
    cell = dst_cell(kind, q, p, torch.zeros(len(kind.edges), width, dtype=torch.bool))
    assert [kind.in_text(src, dst) for src, dst, _ in cell.edges if dst == last] == ["2->4"]
    derived_space(space, Architecture((cell,)))
