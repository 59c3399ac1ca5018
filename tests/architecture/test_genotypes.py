"""DARTS genotype strings: both forms read, written back, and every mistake located."""

import pytest

from nasdsl.architecture.genotypes import Pair, read_genotype, write_genotype
from nasdsl.architecture.published import PUBLISHED
from nasdsl.errors import NasError

DARTS_V2 = PUBLISHED["DARTS_V2"]
ONE_LINE = ("Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('skip_connect', 0), "
            "('dil_conv_3x3', 2)], normal_concat=range(2, 4), reduce=[('max_pool_3x3', 0), "
            "('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1)], "
            "reduce_concat=[2, 3])")


def pairs(cell):
    return [[(pair.op, pair.source) for pair in node] for node in cell.nodes]


def test_a_flat_list_gives_each_node_two_pairs():
    """A flat list of pairs feeds nodes 2, 3, ... two pairs each, in order; range() and
    lists give the concat."""
    genotype = read_genotype(ONE_LINE)
    normal, reduce = genotype.cells
    assert (normal.name, reduce.name) == ("normal", "reduce")
    assert pairs(normal) == [[("sep_conv_3x3", 0), ("sep_conv_3x3", 1)],
                             [("skip_connect", 0), ("dil_conv_3x3", 2)]]
    assert normal.concat == reduce.concat == (2, 3)


def test_nasnet_reads_five_nodes_and_a_partial_concat():
    """NASNet's reduction cell: 5 nodes, input 3 from an intermediate node, the concat of
    the three nodes no other node reads."""
    reduce = read_genotype(PUBLISHED["NASNet"]).cell("reduce")
    assert len(reduce.nodes) == 5 and reduce.concat == (4, 5, 6)
    assert pairs(reduce)[3] == [("skip_connect", 3), ("avg_pool_3x3", 2)]


def test_per_node_lists_and_cells_by_name():
    """nasdsl's other forms: a list of pairs per node (any number a node), cells keyed by
    name."""
    text = ("Genotype(cells={'a': [[('sep_conv_3x3', 0)], [('skip_connect', 1), "
            "('sep_conv_3x3', 0), ('none', 2)]]}, concat={'a': [3, 2]})")
    (cell,) = read_genotype(text).cells
    assert cell.name == "a" and cell.concat == (3, 2)
    assert pairs(cell) == [[("sep_conv_3x3", 0)],
                           [("skip_connect", 1), ("sep_conv_3x3", 0), ("none", 2)]]


@pytest.mark.parametrize("text", [ONE_LINE, *PUBLISHED.values(),
                                  "Genotype(cells={'a': [[('x', 0)], [('y', 1), ('z', 2), "
                                  "('x', 0)]]}, concat={'a': [3]})"])
def test_written_genotypes_read_back_equal(text):
    """A genotype written out (DARTS's form, or by name; flat or per node) reads back as the
    same cells."""
    genotype = read_genotype(text)
    assert read_genotype(write_genotype(genotype)) == genotype


def test_positional_fields_follow_the_namedtuple():
    """Genotype(normal, normal_concat, reduce, reduce_concat) as the namedtuple takes them."""
    text = "Genotype([('a', 0), ('b', 1)], [2], [('c', 0), ('d', 1)], [2])"
    genotype = read_genotype(text)
    assert [cell.name for cell in genotype.cells] == ["normal", "reduce"]
    assert genotype.cell("reduce").nodes == ((Pair("c", 0), Pair("d", 1)),)


def test_leading_lines_keep_line_numbers():
    """Text indented or after blank lines is read, and errors point into it where it is."""
    with pytest.raises(NasError) as caught:
        read_genotype("\n\n    Genotype(normal=[('a', 0), ('b', 5)], normal_concat=[2])",
                      source="arch.txt")
    where = caught.value.location
    assert (where.file, where.line, where.column) == ("arch.txt", 3, 38)
    assert where.source_line[where.column - 1] == "5"


@pytest.mark.parametrize(("text", "column", "message"), [
    ("Genotype(normal=[('a', 0), ('b' 1)], normal_concat=[2])", 29,
     "not a DARTS genotype: invalid syntax"),
    ("Genotype(normal=[('a', 0), ('b', 1)], normal_concat=[2]", 9,
     "not a DARTS genotype: '(' was never closed"),
    ("Genotype(normal=[('a', 0) ('b', 1)], normal_concat=[2])", 17,
     "cell 'normal' has 1 (op, input) pair"),
    ("genotype(normal=[])", 1, "a genotype is a call of Genotype(...)"),
    ("Genotype(nromal=[('a', 0), ('b', 1)], normal_concat=[2])", 10,
     "Genotype has no field 'nromal'"),
    ("Genotype(normal=[('a', 0), ('b', 1)])", 1,
     "the genotype gives 'normal' but not 'normal_concat'"),
    ("Genotype(normal=[('a', 0)], normal_concat=[2])", 17,
     "cell 'normal' has 1 (op, input) pair: a flat list gives each node 2, so its length is "
     "even"),
    ("Genotype(normal=[('a', 0), ('b', 2)], normal_concat=[2])", 34,
     "node 2 of cell 'normal' takes input 2, which is not an earlier node (0..1)"),
    ("Genotype(normal=[('a', 0), ('b', -1)], normal_concat=[2])", 28,
     "expected an (op, input) pair of cell 'normal', like ('sep_conv_3x3', 0)"),
    ("Genotype(normal=[('a', 0), ['b', 1]], normal_concat=[2])", 28,
     "expected an (op, input) pair of cell 'normal', like ('sep_conv_3x3', 0)"),
    ("Genotype(normal=[('a', 0), ('b', 1)], normal_concat=[2, 1])", 57,
     "the concat of cell 'normal' lists node 1, which is not one of its nodes (2..2)"),
    ("Genotype(normal=[('a', 0), ('b', 1)], normal_concat=[2, 2])", 57,
     "the concat of cell 'normal' lists node 2 twice"),
    ("Genotype(normal=[('a', 0), ('b', 1)], normal_concat=range(2, 9))", 53,
     "the concat of cell 'normal' lists node 3, which is not one of its nodes (2..2)"),
    ("Genotype(normal=[('a', 0), ('b', 1)], normal_concat='2')", 53,
     "the concat of cell 'normal' is a list of node numbers, or range(start, stop)"),
    ("Genotype(normal=[('a', 0), ('b', 1)], normal_concat=[2], cells={})", 1,
     "a genotype names its cells either normal and reduce or in 'cells' and 'concat', not "
     "both"),
    ("Genotype(cells={'a': [('x', 0), ('y', 1)]}, concat={'b': [2]})", 52,
     "'concat' has no entry for cell 'a'"),
])
def test_malformed_genotypes_are_located_errors(text, column, message):
    """Each mistake is a NasError at its line and column of the genotype's text."""
    with pytest.raises(NasError) as caught:
        read_genotype(text)
    error = caught.value
    assert error.message.startswith(message)
    assert (error.location.file, error.location.line, error.location.column) == \
        ("<genotype>", 1, column)
    assert error.render().startswith(f"<genotype>:1:{column}: error: ")
