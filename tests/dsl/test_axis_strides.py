"""Per-axis strides (`conv(kernel=1x7, stride=1x2)`): written and read, checked, placed.

A conv may stride its axes apart, as NASNet's conv 1x7 then 7x1 does at stride 2 ((1, 2)
then (2, 1) in the reference code); a chain's strides multiply per axis, and every chain a
stage runs ends striding both axes alike, so stages give square maps."""

import pytest

from nasdsl.dsl import modules as M
from nasdsl.dsl.elaborate import load
from nasdsl.dsl.parse import parse
from nasdsl.dsl.printer import print_program
from nasdsl.errors import NasErrors

ROW_THEN_COLUMN = ("relu -> conv(kernel=1x7, stride=1x2) -> conv(kernel=7x1, stride=2x1) "
                   "-> bn")


def space(tmp_path, ops: str = "", candidates: str = "factorized", stem: str = "conv(kernel=3)",
          preprocess: str = "relu -> conv(kernel=1) -> bn"):
    """A network of one cell pair whose reduction cell takes `candidates` on its edge from
    input 0 (one op: a fixed edge) and `ops` defined besides `factorized`."""
    text = f"""
op factorized {{
    stride 1: identity
    stride 2: factorized_reduce
}}
{ops}

cell normal {{
    inputs 2
    preprocess {preprocess}
    preprocess_reduced factorized_reduce
    nodes 1
    edges 0 -> 2, 1 -> 2
    candidates factorized
}}

cell reduce {{
    reduction
    inputs 2
    preprocess relu -> conv(kernel=1) -> bn
    preprocess_reduced factorized_reduce
    nodes 1
    edges 0 -> 2, 1 -> 2
    candidates factorized
    edge 0 -> 2: {candidates}
    output concat
}}

network n {{
    input(channels=3, size=32)
    stem {stem} -> bn
    cells normal * 1 channels 8
    cells reduce * 1 channels 16
    cells normal * 1 channels 16
    head global_avg_pool -> linear(out=10)
}}
"""
    path = tmp_path / "space.nas"
    path.write_text(text)
    return load(path)


def errors(tmp_path, **parts) -> list[tuple[int, int, str]]:
    with pytest.raises(NasErrors) as caught:
        space(tmp_path, **parts)
    return [(error.location.line, error.location.column, error.message)
            for error in caught.value.errors]


def test_a_per_axis_stride_prints_and_parses_back():
    """`stride=1x2` is a size literal: it prints as written and reads back equal."""
    text = f"op o = {ROW_THEN_COLUMN}\n"
    assert print_program(parse(text)) == text and parse(print_program(parse(text))) == \
        parse(text)


def test_the_conv_keeps_its_strides_per_axis(tmp_path):
    """A reduction cell's fixed edge strides the 1x7 conv along the width and the 7x1 along
    the height; a square pair is the plain number (the same interned conv as stride=2)."""
    cell = space(tmp_path, f"op nasnet = {ROW_THEN_COLUMN}", "nasnet").network.cells[1]
    (edge,) = [edge for edge in cell.fixed if edge.src == 0]
    _, row, column, _ = edge.candidates[0].modules
    assert row is M.Conv(16, 16, M.KernelSize(1, 7), M.KernelSize(1, 2))
    assert (row.strides, column.strides) == ((1, 2), (2, 1))
    assert "stride=1x2" in str(row) and row.out_shape(32, 32) == (32, 16)
    square = space(tmp_path, "op s = conv(kernel=3, stride=2x2) -> bn", "s").network.cells[1]
    assert [e for e in square.fixed if e.src == 0][0].candidates[0].modules[0] is \
        M.Conv(16, 16, 3, 2)


def test_a_stem_striding_one_axis_then_the_other_gives_square_maps(tmp_path):
    """conv stride 1x2 then 2x1 in the stem halves the resolution: the cells work at 16."""
    network = space(tmp_path, "", stem="conv(kernel=3, stride=1x2) -> conv(kernel=3, "
                                       "stride=2x1, out=8)").network
    assert [cell.size for cell in network.cells] == [16, 16, 8]


@pytest.mark.parametrize(("parts", "expected"), [
    ({"ops": f"op nasnet = {ROW_THEN_COLUMN}", "candidates": "factorized, nasnet"},
     (25, 30, "op 'nasnet' strides its axes apart (conv(c_in=16, c_out=16, kernel=1x7, "
              "stride=1x2)) on edge 0->2 of cell 'reduce', a searchable edge")),
    ({"ops": "op row = relu -> conv(kernel=1x7, stride=1x2) -> bn", "candidates": "row"},
     (6, 35, "op 'row' writes its strides and they make 1x2, but its edge has stride 2")),
    ({"ops": "op row = conv(kernel=1x7, stride=3x1)", "candidates": "row"},
     (6, 27, "conv attribute 'stride' must be 1 or 2 on each axis, not 3x1")),
    ({"stem": "conv(kernel=3, stride=1x2)"},
     (31, 5, "the stem strides by 1x2 in all: a stage gives square feature maps")),
    ({"preprocess": "relu -> conv(kernel=1, stride=2x1) -> bn"},
     (10, 5, "'preprocess' of cell 'normal' brings input 0 from resolution 32 to 16x32 where "
             "the cell works at 32")),
])
def test_strides_that_do_not_fit_are_located_errors(tmp_path, parts, expected):
    """A per-axis op among a searchable edge's candidates (the simplifier reasons on square
    maps), strides multiplying to another stride than the edge's, a stride of 3, a stem or a
    preprocess striding its axes apart: each one error where it is written."""
    assert expected in errors(tmp_path, **parts)
