"""Published genotypes by name, and genotypes written as evaluation-network `.nas` files."""

import pytest

from nasdsl.architecture.derive import derive, to_genotype
from nasdsl.architecture.evaluation import evaluation_space, evaluation_text
from nasdsl.architecture.genotypes import read_genotype
from nasdsl.architecture.published import (PUBLISHED, published_genotype, published_space,
                                           published_text)
from nasdsl.dsl.elaborate import load
from nasdsl.dsl.parse import parse
from nasdsl.dsl.printer import print_program
from nasdsl.errors import NasError

NAMES = ["NASNet", "AmoebaNet", "DARTS_V1", "DARTS_V2", "PC_DARTS", "PDARTS"]


def test_the_registry_holds_the_six_published_cells():
    """Every published cell is there by name, in any case, and an unknown name suggests
    the closest."""
    assert list(PUBLISHED) == NAMES
    assert published_genotype("darts_v2") == PUBLISHED["DARTS_V2"]
    with pytest.raises(NasError) as caught:
        published_genotype("PCDARTS")
    assert caught.value.hint == "did you mean 'PC_DARTS'?"


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("network", ["cifar", "imagenet"])
def test_evaluation_text_checks_cleanly_and_prints_as_it_reads(tmp_path, name, network):
    """The written file loads as it is, without warnings, in either phase, and is the
    printer's canonical text after its header."""
    text = published_text(name, network)
    path = tmp_path / f"{name}.nas"
    path.write_text(text)
    for phase in ("search", "eval"):
        assert load(path, phase=phase).warnings == ()
    body = text[text.index("\n\n") + 2:]
    assert print_program(parse(text)) == body


@pytest.mark.parametrize("name", NAMES)
def test_the_genotype_nasdsl_writes_reads_back_as_the_published_one(name):
    """The evaluation space's cells, written as a genotype by `to_genotype`, read back as
    the published genotype's cells (pairs per node, concat)."""
    space = published_space(name)
    written = to_genotype(derive(space, {}), space)
    assert read_genotype(written) == read_genotype(PUBLISHED[name])


def test_nasnet_cells_have_parallel_edges_and_partial_concat():
    """NASNet: node 5 of the normal cell takes two avg_pool_3x3 from input 0 (two parallel
    edges); the reduction cell has five nodes and concatenates nodes 4, 5, 6 only, so it
    gives 3 times its channels where the normal cell gives 5 times."""
    space = published_space("NASNet")
    reduce = next(kind for kind in space.cell_kinds if kind.reduction)
    normal = next(kind for kind in space.cell_kinds if not kind.reduction)
    assert reduce.nodes == 5 and reduce.concat == (4, 5, 6)
    assert normal.fixed_into(5) == [(0, 5, "avg_pool_3x3"), (0, 5, "avg_pool_3x3")]
    cells = space.network.cells
    assert [cell.out_channels for cell in cells[5:8]] == [36 * 5, 72 * 3, 72 * 5]


def test_amoebanet_strides_its_factorized_conv_per_axis():
    """AmoebaNet's conv_7x1_1x7 from a reduction cell's input strides the 1x7 conv along
    the width and the 7x1 along the height, as the reference's (1, 2) and (2, 1)."""
    space = published_space("AmoebaNet")
    reduce_cell = next(cell for cell in space.network.cells if cell.kind.reduction)
    (edge,) = [edge for edge in reduce_cell.fixed if edge.candidates[0].name == "conv_7x1_1x7"]
    _, row, column, _ = edge.candidates[0].modules
    assert (row.kernel_size, row.strides) == ((1, 7), (1, 2))
    assert (column.kernel_size, column.strides) == ((7, 1), (2, 1))


@pytest.mark.parametrize(("cells", "stages"), [
    (20, ["N", "1", "N", "1", "N"]), (8, ["N", "1", "N", "1", "N"]),
    (10, ["3", "1", "2", "1", "3"]), (2, ["1", "1"]),
])
def test_reductions_sit_at_one_and_two_thirds(cells, stages):
    """Reduction cells at cells // 3 and 2 * cells // 3, as the reference places them; `N`
    where the three normal stages are equally deep, numbers where they are not."""
    text = evaluation_text(PUBLISHED["DARTS_V2"], cells=cells)
    counts = [line.split(" * ")[1].split()[0] for line in text.splitlines()
              if line.strip().startswith("cells ")]
    assert counts == stages
    network = evaluation_space(PUBLISHED["DARTS_V2"], cells=cells).network
    kinds = [cell.kind.name for cell in network.cells]
    assert len(kinds) == cells
    assert [i for i, kind in enumerate(kinds) if kind == "reduce"] == [cells // 3, 2 * cells // 3]


def test_sizes_and_names_are_set_in_the_text():
    """C, classes and the network's name are the caller's; the file declares them, so a
    load's overrides resize it."""
    space = evaluation_space(PUBLISHED["PDARTS"], "imagenet", channels=16, cells=8, classes=7,
                             name="mine")
    network = space.network
    assert (network.name, network.classes, network.input_size) == ("mine", 7, 224)
    assert network.cells[0].channels == 16
    resized = evaluation_space(PUBLISHED["PDARTS"], overrides={"C": 8, "N": 1})
    assert [cell.channels for cell in resized.network.cells] == [8, 16, 16, 32, 32]


@pytest.mark.parametrize(("change", "column", "message"), [
    (("'dil_conv_3x3', 2", "'dil_conv_3x9', 2"), 166,
     "cell 'normal' has the op 'dil_conv_3x9', which published_ops.nas does not define"),
    (("reduce=", "other="), 216, "Genotype has no field 'other'"),
])
def test_a_genotype_that_does_not_fit_is_a_located_error(change, column, message):
    """An op the ops file does not define, or a field Genotype does not have, is a NasError
    at its place in the genotype."""
    text = " ".join(PUBLISHED["DARTS_V2"].split()).replace(*change)
    with pytest.raises(NasError) as caught:
        evaluation_text(text, source="given")
    assert caught.value.message == message
    assert str(caught.value.location) == f"given:1:{column}"


def test_a_genotype_without_a_reduction_cell_is_refused():
    """The evaluation network needs both cells: a genotype of one names what is missing."""
    text = "Genotype(normal=[('sep_conv_3x3', 0), ('skip_connect', 1)], normal_concat=[2])"
    with pytest.raises(NasError) as caught:
        evaluation_text(text)
    assert caught.value.message.startswith("the genotype has no 'reduce' cell")
    assert str(caught.value.location) == "<genotype>:1:1"


@pytest.mark.parametrize(("call", "message"), [
    (lambda: evaluation_text(PUBLISHED["DARTS_V2"], "imagenet1k"),
     "no evaluation network 'imagenet1k'"),
    (lambda: evaluation_text(PUBLISHED["DARTS_V2"], cells=1),
     "an evaluation network has at least 2 cells"),
    (lambda: evaluation_text(PUBLISHED["DARTS_V2"], name="my net"),
     "the network's name must be a name"),
])
def test_bad_arguments_are_errors(call, message):
    """An unknown network, too few cells or a name the language cannot write: a NasError."""
    with pytest.raises(NasError) as caught:
        call()
    assert caught.value.message.startswith(message)
