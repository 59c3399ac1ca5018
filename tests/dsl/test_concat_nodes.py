"""`output concat 4, 5, 6`: a cell that concatenates the nodes it lists (NASNet's and
AmoebaNet's cells concatenate the nodes no other node reads)."""

import pytest

from nasdsl.dsl.elaborate import load
from nasdsl.dsl.parse import parse
from nasdsl.dsl.printer import print_program
from nasdsl.errors import NasErrors

# Nodes 2..4; node 2 feeds node 4, node 3 feeds nothing.
EDGES = ("edges 0 -> 2, 1 -> 2, 0 -> 3, 2 -> 4, 1 -> 4\n"
         "    candidates conv3\n")


def space(tmp_path, output: str):
    path = tmp_path / "space.nas"
    path.write_text(f"""
op conv3 = relu -> conv(kernel=3) -> bn

cell normal {{
    inputs 2
    preprocess relu -> conv(kernel=1) -> bn
    nodes 3
    {EDGES}    {output}
}}

network n {{
    input(channels=3, size=8)
    stem conv(kernel=3, out=4) -> bn
    cells normal * 2 channels 4
    head global_avg_pool -> linear(out=10)
}}
""")
    return load(path)


def test_a_node_list_prints_and_parses_back():
    """The listed nodes print in their order, comma separated, and read back equal."""
    text = "cell c {\n    nodes 3\n    output concat 4, 2\n}\n"
    assert print_program(parse(text)) == text and parse(print_program(parse(text))) == \
        parse(text)


def test_the_cell_gives_the_channels_of_the_nodes_it_lists(tmp_path):
    """`output concat 4, 3` joins two nodes of three: twice the cell's channels, in that
    order; `output concat` joins all three."""
    listed = space(tmp_path, "output concat 4, 3")
    (kind,) = listed.cell_kinds
    assert kind.concat == kind.concatenated == (4, 3)
    assert [cell.out_channels for cell in listed.network.cells] == [8, 8]
    (every,) = space(tmp_path, "output concat").cell_kinds
    assert every.concat == () and every.concatenated == (2, 3, 4)


def test_a_node_neither_joined_nor_read_is_a_warning(tmp_path):
    """Node 3, which no node reads, left out of the list computes for nothing: a warning at
    the output statement."""
    (warning,) = space(tmp_path, "output concat 4").warnings
    assert (warning.location.line, warning.location.column) == (10, 5)
    assert warning.message == ("node 3 of cell 'normal' is neither concatenated nor read by "
                               "another node: computed for nothing")


@pytest.mark.parametrize(("output", "column", "message"), [
    ("output concat 4, 1", 22,
     "'output concat' lists node 1, which is not an intermediate node of cell 'normal' (2..4)"),
    ("output concat 4, 5", 22,
     "'output concat' lists node 5, which is not an intermediate node of cell 'normal' (2..4)"),
    ("output concat 3, 4, 3", 25, "'output concat' lists node 3 twice"),
    ("output last 4", 17, "'output last' takes no list of nodes"),
])
def test_a_list_that_does_not_fit_is_a_located_error(tmp_path, output, column, message):
    """Inputs, nodes the cell lacks, a node listed twice, a list after another rule: an
    error at the number."""
    with pytest.raises(NasErrors) as caught:
        space(tmp_path, output)
    assert [(e.location.line, e.location.column, e.message) for e in caught.value.errors] == \
        [(10, column, message)]
