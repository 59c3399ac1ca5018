"""Print/parse round trips, and that only located NasErrors come out of parse and load."""

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from nasdsl.dsl.elaborate import load
from nasdsl.dsl.parse import parse
from nasdsl.dsl.printer import print_program
from nasdsl.errors import NasError
from tests import strategies
from tests.paths import SPACES

SHIPPED = {path.name: path.read_text() for path in sorted(SPACES.glob("*.nas"))}


@pytest.fixture(scope="module")
def space_file(tmp_path_factory):
    """The file each example is written to and loaded from (imports resolve next to it, then
    among the shipped spaces)."""
    return tmp_path_factory.mktemp("roundtrip") / "space.nas"


def _load_text(path, text):
    path.write_text(text, encoding="utf-8")
    return load(path)


@settings(max_examples=200, deadline=None)
@given(strategies.any_programs())
def test_any_tree_prints_and_parses_back(program):
    """Any syntax tree, printed and parsed again, is the same tree."""
    assert parse(print_program(program)) == program


@settings(max_examples=200, deadline=None)
@given(strategies.programs())
def test_valid_program_prints_and_parses_back(program):
    """A meaningful space, printed and parsed again, is the same tree."""
    assert parse(print_program(program)) == program


@settings(max_examples=200, deadline=None)
@given(strategies.programs())
def test_valid_program_loads(space_file, program):
    """A generated valid space loads without errors, with the cell kinds its network uses."""
    space = _load_text(space_file, print_program(program))
    assert space.network is not None
    assert {kind.name for kind in space.cell_kinds} == strategies.used_cell_kinds(program)


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_space_round_trips(name):
    """A shipped space parses, prints and parses to the same tree, and printing is a fixed
    point: printing the reparsed tree gives the same text."""
    program = parse(SHIPPED[name])
    printed = print_program(program)
    assert parse(printed) == program
    assert print_program(parse(printed)) == printed


@settings(max_examples=200, deadline=None)
@given(strategies.grammar_texts())
# A number longer than Python converts to int (4300 digits) is a syntax error, not a crash.
@example("network n { let a = " + "1" * 5000 + " }")
def test_grammatical_text_raises_only_nas_errors(space_file, text):
    """Text the grammar generates either parses and loads or raises a NasError."""
    try:
        parse(text)
        _load_text(space_file, text)
    except NasError:
        pass


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(sorted(SHIPPED.values())).flatmap(strategies.mutations))
def test_mutated_shipped_space_raises_only_nas_errors(space_file, text):
    """A shipped space with slices deleted, duplicated or swapped loads or raises a NasError."""
    try:
        _load_text(space_file, text)
    except NasError:
        pass


@settings(max_examples=150, deadline=None)
@given(strategies.programs().map(print_program).flatmap(strategies.mutations))
def test_mutated_valid_program_raises_only_nas_errors(space_file, text):
    """A generated valid space with slices deleted, duplicated or swapped loads or raises a
    NasError: nearly valid text reaches every check of the elaborator."""
    try:
        _load_text(space_file, text)
    except NasError:
        pass
