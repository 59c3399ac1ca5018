"""Derived architectures: the derivation rules, arch strings, genotypes, derived .nas files."""

import ast
import random

import pytest
from hypothesis import given, settings

from nasdsl.architecture.derive import (darts_form, derive, derived_text, from_genotype, from_nb201,
                                        to_genotype, to_nb201)
from nasdsl.architecture.vertices import from_vertices, to_vertices, vertices_form
from nasdsl.dsl.elaborate import load
from nasdsl.dsl.printer import print_program
from nasdsl.errors import NasError
from tests import strategies
from tests.paths import SPACES


def random_weights(space, seed):
    rng = random.Random(seed)
    return {kind.name: [[rng.random() for _ in names] for _, _, names in kind.edges]
            for kind in space.cell_kinds}


def test_nb201_argmax_on_every_edge():
    """NB201 keeps every edge with its strongest op, none included."""
    space = load(SPACES / "nb201.nas")
    weights = [[0.0] * 5 for _ in range(6)]
    for edge, op in enumerate([0, 3, 1, 2, 4, 3]):
        weights[edge][op] = 1.0
    arch = derive(space, {"cell": weights})
    assert to_nb201(arch) == ("|none~0|+|nor_conv_3x3~0|skip_connect~1|"
                              "+|nor_conv_1x1~0|avg_pool_3x3~1|nor_conv_3x3~2|")


def test_darts_keeps_two_strongest_inputs_without_none():
    """DARTS: per node the two edges whose best non-none op is strongest, with that op; a
    dominant `none` is ignored."""
    space = load(SPACES / "darts.nas")
    kind = space.cell_kinds[0]
    weights = [[0.1] * 8 for _ in kind.edges]
    for index, (src, dst, _) in enumerate(kind.edges):
        weights[index][0] = 0.9  # none, never chosen
        if dst == 4:
            weights[index][4 if src == 3 else 1] = 0.2 + 0.1 * src  # prefer later sources
    arch = derive(space, {"normal": weights, "reduce": weights})
    node4 = [edge for edge in arch.cell("normal").edges if edge[1] == 4]
    assert node4 == [(3, 4, "sep_conv_3x3"), (2, 4, "max_pool_3x3")]


@pytest.mark.parametrize("seed", range(20))
def test_arch_string_and_genotype_round_trips(seed):
    """Derived architectures written as NB201 arch strings / DARTS genotypes read back equal."""
    nb201 = load(SPACES / "nb201.nas")
    arch = derive(nb201, random_weights(nb201, seed))
    assert from_nb201(to_nb201(arch)) == arch
    darts = load(SPACES / "darts.nas")
    arch = derive(darts, random_weights(darts, seed))
    assert from_genotype(to_genotype(arch, darts), darts) == arch


def test_malformed_arch_strings_are_user_errors():
    """A wrong arch string or genotype is a clear error, never a traceback."""
    with pytest.raises(NasError, match="not a NAS-Bench-201 arch string"):
        from_nb201("|nor_conv_3x3~0|+|oops|")
    with pytest.raises(NasError, match="not a DARTS genotype"):
        from_genotype("Genotype(normal=[", load(SPACES / "darts.nas"))


@pytest.mark.parametrize("name", ["nb201", "darts", "darts_large", "nb101"])
def test_derived_nas_files_load_with_one_candidate_per_edge(name, tmp_path):
    """A derived architecture written as .nas is a stand-alone space with one candidate on
    each kept edge (every edge fixed), loads without warnings, and deriving it again gives
    the same architecture."""
    space = load(SPACES / f"{name}.nas")
    arch = derive(space, random_weights(space, 1))
    path = tmp_path / "derived.nas"
    path.write_text(derived_text(space, arch))
    derived = load(path)
    assert derived.warnings == ()  # it holds only what its network uses
    for kind in derived.cell_kinds:
        assert kind.edges == () and all(len(names) == 1 for _, _, names in kind.fixed)
        assert derived.architecture_count() == 1
    again = derive(derived, {})
    assert {c.kind: sorted(c.edges) for c in again.cells} == \
        {c.kind: sorted(c.edges) for c in arch.cells}


@settings(max_examples=100, deadline=None)
@given(strategies.programs(max_kinds=4), strategies.st.integers(0, 2**16))
def test_genotypes_of_any_space_read_back(tmp_path_factory, program, seed):
    """On a generated space of one to four cell kinds, a derived architecture's genotype is
    valid Python with no repeated key, and reads back to the same architecture: DARTS's form
    where one normal and one reduction kind at most, keyed by kind name otherwise; where the
    searched kinds carry their ops on vertices, so does its vertices text."""
    path = tmp_path_factory.mktemp("genotype") / "space.nas"
    path.write_text(print_program(program))
    space = load(path)
    arch = derive(space, random_weights(space, seed))
    text = to_genotype(arch, space)
    call = ast.parse(text, mode="eval").body
    assert len({kw.arg for kw in call.keywords}) == len(call.keywords)
    assert text.startswith("Genotype(cells=") != darts_form(space)
    assert from_genotype(text, space) == arch
    if vertices_form(space):
        assert from_vertices(to_vertices(arch, space), space) == arch


def test_two_normal_kinds_are_keyed_by_name(tmp_path):
    """Two normal cell kinds cannot share DARTS's `normal=` key: each is written under its
    name, and the DARTS form is refused for such a space with a hint."""
    text = (SPACES / "nb201.nas").read_text().replace("cell cell {", "cell first {") \
        .replace("    cells cell * N channels C\n", "    cells first * N channels C\n")
    cell = text[text.index("cell first {"):text.index("}", text.index("cell first {")) + 1]
    text = text.replace(cell, cell + "\n" + cell.replace("cell first", "cell cell"))
    path = tmp_path / "two.nas"
    path.write_text(text)
    space = load(path)
    arch = derive(space, random_weights(space, 0))
    genotype = to_genotype(arch, space)
    assert genotype.startswith("Genotype(cells={'first': [")
    assert from_genotype(genotype, space) == arch
    with pytest.raises(NasError, match="its genotypes name each kind"):
        from_genotype("Genotype(normal=[], normal_concat=[])", space)
