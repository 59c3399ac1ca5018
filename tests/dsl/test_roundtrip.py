"""Print/parse round trips, and that only located NasErrors come out of parse and load."""

from pathlib import Path

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


def loads_or_reports_located_errors(path, text) -> None:
    """`text`, written to `path`, loads, or raises NasErrors each of which names a line of
    a file it read and shows that very line."""
    try:
        _load_text(path, text)
    except NasError as raised:
        for error in getattr(raised, "errors", [raised]):
            assert_located(error)


def assert_located(error) -> None:
    """The error names a line of the file as the checker reads it (universal newlines: a
    "\r" or "\r\n" ends a line as "\n" does), and shows that line."""
    location = error.location
    assert location is not None, error.render()
    data = Path(location.file).read_bytes().replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    lines = data.decode("utf-8-sig", errors="replace").split("\n")
    assert 1 <= location.line <= len(lines), error.render()
    assert 1 <= location.column <= len(lines[location.line - 1]) + 1, error.render()
    assert location.source_line.rstrip("\r") == lines[location.line - 1].rstrip("\r"), \
        error.render()


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
    """Text the grammar generates either loads or raises located NasErrors."""
    loads_or_reports_located_errors(space_file, text)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(sorted(SHIPPED.values())).flatmap(strategies.mutations))
def test_mutated_shipped_space_raises_only_nas_errors(space_file, text):
    """A shipped space with slices deleted, duplicated or swapped loads or raises located
    NasErrors."""
    loads_or_reports_located_errors(space_file, text)


@settings(max_examples=150, deadline=None)
@given(strategies.programs().map(print_program).flatmap(strategies.mutations))
def test_mutated_valid_program_raises_only_nas_errors(space_file, text):
    """A generated valid space with slices deleted, duplicated or swapped loads or raises
    located NasErrors: nearly valid text reaches every check of the elaborator."""
    loads_or_reports_located_errors(space_file, text)
