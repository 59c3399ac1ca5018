"""The checker's errors: each malformed input is reported at its exact place, in plain words.

Most cases are one small edit of BASE, a valid space; the line numbers in the expectations
refer to BASE after the edit (an edit that adds a line shifts the lines below it).
"""

from pathlib import Path

import pytest

from nasdsl.dsl.elaborate import load
from nasdsl.dsl.parse import parse
from nasdsl.errors import Location, NasCheckError, NasError, NasErrors, NasSyntaxError

BASE = """\
chain rcb(k) = relu -> conv(kernel=k) -> bn

op none = zero
op skip {
    stride 1: identity
    stride 2: factorized_reduce
}
op conv3 = rcb(k=3)
op pool = avg_pool(kernel=3)

cell normal {
    inputs 2
    preprocess rcb(k=1)
    preprocess_reduced factorized_reduce
    nodes 2
    edges all
    candidates none, skip, conv3, pool
    output concat
    derive top 2 exclude none
}

cell reduce {
    reduction
    nodes 2
    candidates skip, conv3, pool
}

network tiny {
    let C = 8
    let classes = 10
    input(channels=3, size=32)
    search bn(affine=false)
    stem conv(kernel=3, out=3 * C) -> bn
    cells normal * 1 channels C
    cells reduce * 1 channels 2 * C
    head global_avg_pool -> linear(out=classes)
}
"""


def edit(*replacements: str) -> str:
    """BASE with each (old, new) pair replaced; every `old` occurs in it exactly once."""
    text = BASE
    for old, new in zip(replacements[::2], replacements[1::2], strict=True):
        assert text.count(old) == 1, f"{old!r} is not one place of BASE"
        text = text.replace(old, new)
    return text


def errors_in(tmp_path: Path, text: str, name: str = "space.nas") -> list[NasError]:
    """All errors that loading `text` (as tmp_path/name) reports, in source order."""
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(NasErrors) as caught:
        load(path)
    return caught.value.errors


def the_error(tmp_path: Path, text: str) -> NasError:
    """The one error that loading `text` reports."""
    errors = errors_in(tmp_path, text)
    assert len(errors) == 1, "\n".join(error.render() for error in errors)
    return errors[0]


def where(error: NasError) -> tuple[int, int, str, str]:
    return error.location.line, error.location.column, error.message, error.hint


def test_base_is_valid(tmp_path):
    """The space every case edits loads without errors or warnings."""
    path = tmp_path / "space.nas"
    path.write_text(BASE)
    space = load(path)
    assert space.name == "tiny"
    assert space.warnings == ()
    assert [kind.name for kind in space.cell_kinds] == ["normal", "reduce"]


# --- syntax errors ----------------------------------------------------------------------------

SYNTAX = [
    pytest.param(
        ("op conv3 = rcb(k=3)", "op conv3 rcb(k=3)"),
        8, 10, "unexpected 'rcb'; expected one of '=', '{'", "",
        id="op-without-equals"),
    pytest.param(
        ("network tiny {", "netwrok tiny {"),
        28, 1, "unexpected 'netwrok'; expected one of 'cell', 'chain', 'import', 'network', 'op'",
        "did you mean 'network'?",
        id="misspelt-definition-keyword"),
    pytest.param(
        ("candidates none, skip", "candidate none, skip"),
        17, 5, "unexpected 'candidate'; expected one of 'candidates', 'combine', 'derive', "
        "'edge', 'edges', 'inputs', 'max_edges', 'node', 'node_ops', 'nodes', 'output', "
        "'preprocess', 'preprocess_reduced', "
        "'reduction', '}'",
        "did you mean 'candidates'?",
        id="misspelt-cell-keyword"),
    pytest.param(
        ("avg_pool(kernel=3)", "avg_pool(kernel=3);"),
        9, 29, "unexpected character ';'",
        "names are letters, digits and '_'; comments start with '#'",
        id="unexpected-character"),
    pytest.param(
        ("linear(out=classes)\n}\n", "linear(out=classes)\n"),
        36, 47, "unexpected end of file; expected one of 'cells', 'head', 'input', 'layer', "
        "'layers', 'let', 'search', 'stem', '}'", "",
        id="end-of-file-in-network"),
]


@pytest.mark.parametrize(("change", "line", "column", "message", "hint"), SYNTAX)
def test_syntax_error(tmp_path, change, line, column, message, hint):
    """A text that breaks the grammar gives one syntax error saying what was expected there."""
    error = the_error(tmp_path, edit(*change))
    assert isinstance(error, NasSyntaxError)
    assert error.location.file == str(tmp_path / "space.nas")
    assert where(error) == (line, column, message, hint)


def test_parse_reports_end_of_file_inside_a_chain():
    """parse() alone: a chain cut off after '->' wants a module name or a group, located in the file."""
    with pytest.raises(NasSyntaxError) as caught:
        parse("op a = relu ->\n", "inline.nas")
    error = caught.value
    assert str(error.location) == "inline.nas:1:13"
    assert error.message == "unexpected end of file; expected one of '(', a name"


def test_syntax_error_renders_with_a_caret():
    """A rendered error names file:line:col and puts a caret under the column."""
    with pytest.raises(NasSyntaxError) as caught:
        parse("op a = relu\nop b = relu -> -> bn\n", "inline.nas")
    assert caught.value.render() == (
        "inline.nas:2:16: error: unexpected '->'; expected one of '(', a name\n"
        "    op b = relu -> -> bn\n"
        "                   ^")


# --- check errors: one edit, one error ----------------------------------------------------------

CHECK = [
    # unknown names, with the closest spelling
    pytest.param(
        ("none, skip, conv3, pool", "none, skip, conv_3, pool"),
        17, 28, "unknown op 'conv_3'", "did you mean 'conv3'?",
        id="misspelt-candidate-op"),
    pytest.param(
        ("op pool = avg_pool(", "op pool = avgpool("),
        9, 11, "unknown module or chain 'avgpool'", "did you mean 'avg_pool'?",
        id="misspelt-module"),
    pytest.param(
        ("op conv3 = rcb(k=3)", "op conv3 = rbc(k=3)"),
        8, 12, "unknown module or chain 'rbc'", "did you mean 'rcb'?",
        id="misspelt-chain"),
    pytest.param(
        ("cells normal *", "cells normall *"),
        34, 11, "unknown cell 'normall'", "did you mean 'normal'?",
        id="misspelt-cell-in-cells"),
    pytest.param(
        ("linear(out=classes)", "linear(out=clases)"),
        36, 40, "unknown name 'clases'", "did you mean 'classes'?",
        id="misspelt-variable"),
    pytest.param(
        ("out=3 * C)", "out=3 * c)"),
        33, 33, "unknown name 'c'", "did you mean 'C'?",
        id="variable-in-another-case"),
    pytest.param(
        ("out=3 * C)", "out=3 * width)"),
        33, 33, "unknown name 'width'", "known names: C, classes, in, out",
        id="unknown-variable-lists-known-names"),
    pytest.param(
        ("op pool = avg_pool(kernel=3)", "op pool = conv3"),
        9, 11, "unknown module or chain 'conv3'",
        "ops are candidates of edges; to reuse modules, define a chain",
        id="op-used-as-module"),
    pytest.param(
        ("exclude none", "exclude nnoe"),
        19, 26, "excluded op 'nnoe' is not a candidate of cell 'normal'", "did you mean 'none'?",
        id="misspelt-excluded-op"),
    pytest.param(
        ("output concat", "output concatt"),
        18, 12, "unknown output rule 'concatt'", "did you mean 'concat'?",
        id="misspelt-output-rule"),
    # attributes
    pytest.param(
        ("avg_pool(kernel=3)", "avg_pool(kernel=3, strid=2)"),
        9, 30, "avg_pool has no attribute 'strid'", "did you mean 'stride'?",
        id="misspelt-attribute"),
    pytest.param(
        ("stem conv(kernel=3, out=3 * C)", "stem conv(out=3 * C)"),
        33, 10, "conv needs the attribute 'kernel'", "write conv(kernel=...)",
        id="conv-without-kernel"),
    pytest.param(
        ("input(channels=3, size=32)", "input(channels=3, sise=32)"),
        31, 23, "input has no attribute 'sise'", "did you mean 'size'?",
        id="misspelt-input-attribute"),
    pytest.param(
        ("search bn(affine=false)", "search bn(afine=false)"),
        32, 15, "bn has no attribute 'afine'", "did you mean 'affine'?",
        id="misspelt-search-attribute"),
    # bad values
    pytest.param(
        ("avg_pool(kernel=3)", "avg_pool(kernel=0)"),
        9, 20, "avg_pool attribute 'kernel' must be at least 1, not 0", "",
        id="kernel-0"),
    pytest.param(
        ("stem conv(kernel=3,", "stem conv(kernel=4,"),
        33, 15, "conv attribute 'kernel' must be odd, so that 'same' padding is symmetric, "
        "not 4", "",
        id="even-kernel"),
    pytest.param(
        ("avg_pool(kernel=3)", "avg_pool(kernel=3, stride=3)"),
        9, 30, "avg_pool attribute 'stride' must be 1 or 2, not 3", "",
        id="stride-3"),
    pytest.param(
        ("avg_pool(kernel=3)", "avg_pool(kernel=true)"),
        9, 20, "avg_pool attribute 'kernel' must be a whole number, not true", "",
        id="boolean-for-number"),
    pytest.param(
        ("avg_pool(kernel=3)", "avg_pool(kernel=3, count_include_pad=1)"),
        9, 30, "avg_pool attribute 'count_include_pad' must be true or false, not 1", "",
        id="number-for-boolean"),
    pytest.param(
        ("out=3 * C)", "out=3 * C / 5)"),
        33, 29, "24 / 5 is not a whole number", "",
        id="inexact-division"),
    pytest.param(
        ("out=3 * C)", "out=3 * C / (C - 8))"),
        33, 29, "24 / 0: division by zero", "",
        id="division-by-zero"),
    pytest.param(
        ("cells normal * 1", "cells normal * true"),
        34, 20, "cell count must be a whole number of at least 1, not true", "",
        id="boolean-cell-count"),
    pytest.param(
        ("stride 2: factorized_reduce", "stride 2: factorized_reduce(out=7)"),
        6, 33, "factorized_reduce: out must be even (the two halves are concatenated), not 7", "",
        id="odd-factorized-reduce"),
    pytest.param(
        ("avg_pool(kernel=3)", "conv(kernel=3, depthwise=true, groups=2)"),
        9, 42, "conv: give either depthwise=true or groups, not both", "",
        id="depthwise-and-groups"),
    # duplicates
    pytest.param(
        ("op pool = avg_pool(kernel=3)\n",
         "op pool = avg_pool(kernel=3)\nop pool = max_pool(kernel=3)\n"),
        10, 1, "op 'pool' is defined twice", "the first definition is at {file}:9:1",
        id="op-defined-twice"),
    pytest.param(
        ("conv(kernel=k) -> bn\n", "conv(kernel=k) -> bn\nchain rcb(k) = relu\n"),
        2, 1, "chain 'rcb' is defined twice", "the first definition is at {file}:1:1",
        id="chain-defined-twice"),
    pytest.param(
        ("    nodes 2\n    edges all", "    nodes 2\n    nodes 3\n    edges all"),
        16, 5, "cell 'normal' has two 'nodes' statements", "the first is at {file}:15:5",
        id="cell-statement-twice"),
    pytest.param(
        ("    stride 1: identity\n", "    stride 1: identity\n    stride 1: zero\n"),
        6, 5, "op 'skip' has two forms for stride 1", "",
        id="stride-form-twice"),
    pytest.param(
        ("none, skip, conv3, pool", "none, skip, conv3, pool, skip"),
        17, 41, "op 'skip' is listed twice", "",
        id="candidate-listed-twice"),
    # cell shape
    pytest.param(
        ("edges all", "edges 0 -> 2, 1 -> 2, 0 -> 3, 1 -> 3, 2 -> 4"),
        16, 43, "edge 2 -> 4 goes to node 4, which is not an intermediate node (2..3)", "",
        id="edge-to-missing-node"),
    pytest.param(
        ("edges all", "edges 0 -> 2, 1 -> 2, 0 -> 3, 2 -> 3, 3 -> 2"),
        16, 43, "edge 3 -> 2 goes backwards: a cell is acyclic, so edges go from a lower node "
        "number to a higher one", "",
        id="backwards-edge-makes-a-cycle"),
    pytest.param(
        ("edges all", "edges 0 -> 2, 1 -> 2"),
        16, 5, "node 3 of cell 'normal' has no incoming edge", "",
        id="node-without-incoming-edge"),
    pytest.param(
        ("    derive top 2", "    edge 3 -> 2: pool\n    derive top 2"),
        19, 10, "edge 3 -> 2 is not an edge of cell 'normal'", "",
        id="override-of-missing-edge"),
    pytest.param(
        ("    candidates skip, conv3, pool\n", ""),
        22, 1, "cell 'reduce' has no candidate set for edge 0 -> 1",
        "add 'candidates op1, op2, ...', or an 'edge s -> d: ...' statement for every edge",
        id="cell-without-candidates"),
    pytest.param(
        ("    nodes 2\n    candidates skip", "    candidates skip"),
        22, 1, "cell 'reduce' needs a 'nodes' statement", "",
        id="cell-without-nodes"),
    pytest.param(
        ("    derive top 2 exclude none", "    edge 0 -> 2: none, pool\n"
         "    derive top 2 exclude none, pool"),
        20, 5, "edge 0 -> 2 of cell 'normal' has no candidate left after 'exclude'", "",
        id="exclude-empties-an-edge"),
    pytest.param(
        ("    derive top 2", "    edge 0 -> 2: none\n    derive top 2"),
        20, 5, "'derive top 2' but node 2 of cell 'normal' has 1 searchable incoming edge",
        "its 1 fixed edge (one op each) is kept besides the 2 derived",
        id="derive-top-counts-searchable-edges"),
    pytest.param(
        ("edges all", "edges 0 -> 2, 0 -> 2, 1 -> 2, 0 -> 3, 1 -> 3, 2 -> 3"),
        16, 11, "edge 0 -> 2 is listed 2 times: parallel edges are fixed, with one op each",
        "give each copy its op with an 'edge 0 -> 2: op' statement, or list the pair once",
        id="parallel-edges-without-their-ops"),
    pytest.param(
        ("    derive top 2", "    edge 0 -> 2: pool, skip\n    edge 0 -> 2: skip, none\n"
         "    derive top 2"),
        20, 10, "edge 0 -> 2 is listed once in 'edges' but this is 'edge 0 -> 2:' statement 2",
        "list the pair in 'edges' once for each parallel edge",
        id="second-override-of-one-edge"),
    pytest.param(
        ("derive top 2", "derive top 3"),
        19, 5, "'derive top 3' but node 2 of cell 'normal' has 2 incoming edges", "",
        id="derive-top-above-in-degree"),
    pytest.param(
        ("derive top 2", "derive top 0"),
        19, 5, "'derive top' must keep at least 1 input, not 0", "",
        id="derive-top-0"),
    # channels and strides
    pytest.param(
        ("avg_pool(kernel=3)", "avg_pool(kernel=3) -> conv(kernel=1, out=32)"),
        9, 1, "op 'pool' turns 8 channels into 32; an edge keeps the channels of its cell", "",
        id="op-changes-channels"),
    pytest.param(
        ("    preprocess rcb(k=1)\n", ""),
        33, 5, "cell 'normal' at 8 channels receives 24 channels on input 0",
        "add a 'preprocess' statement to the cell or a layer before it",
        id="cell-receives-wrong-channels"),
    pytest.param(
        ("    preprocess rcb(k=1)", "    preprocess relu"),
        13, 5, "'preprocess' of cell 'normal' turns 24 channels into 24 where the cell needs 8",
        "",
        id="preprocess-keeps-channels"),
    pytest.param(
        ("preprocess_reduced factorized_reduce", "preprocess_reduced relu",
         "    head", "    cells normal * 1 channels 2 * C\n    head"),
        14, 5, "'preprocess_reduced' of cell 'normal' brings input 0 from resolution 32 to 32 "
        "where the cell works at 16", "",
        id="preprocess-reduced-keeps-resolution"),
    pytest.param(
        ("op pool = avg_pool(kernel=3)\n", "op pool = avg_pool(kernel=3)\nop a = relu\n",
         "candidates skip, conv3, pool", "candidates skip, conv3, pool, a"),
        10, 1, "op 'a' has stride 1 but its edge has stride 2",
        "an edge's stride goes to the op's first conv, pool or zero; give the op a 'stride 2:' "
        "form",
        id="op-without-stride-2-on-reduction-edge"),
    pytest.param(
        ("op pool = avg_pool(kernel=3)\n",
         "op pool = avg_pool(kernel=3)\n"
         "op mb = conv(kernel=1, stride=1) -> conv(kernel=3, depthwise=true) -> conv(kernel=1)\n",
         "candidates skip, conv3, pool", "candidates skip, conv3, pool, mb"),
        10, 24, "op 'mb' writes its strides and they make 1, but its edge has stride 2",
        "an op that writes `stride=` strides as written: make its strides multiply to 2, leave "
        "them out (the first conv, pool or zero then takes the edge's stride), or give the op "
        "a 'stride 2:' form",
        id="op-writing-a-stride-placed-at-stride-2"),
    pytest.param(
        ("    stride 2: factorized_reduce\n", ""),
        24, 16, "op 'skip' has no form for stride 2",
        "add 'stride 2: ...' to op 'skip' at {file}:4:1",
        id="op-without-stride-2-form"),
    pytest.param(
        ("    stride 2: factorized_reduce", "    stride 4: factorized_reduce",
         "candidates skip, conv3", "candidates conv3"),
        6, 5, "op 'skip' has a form for stride 4; strides are 1 or 2", "",
        id="stride-4-form"),
    # network
    pytest.param(
        ("search bn(affine=false)", "search bnn(affine=false)"),
        32, 12, "unknown module 'bnn'", "did you mean 'bn'?",
        id="search-unknown-module"),
    pytest.param(
        ("search bn(affine=false)", "search conv(kernal=3)"),
        32, 17, "conv has no attribute 'kernal'", "did you mean 'kernel'?",
        id="search-unknown-attribute"),
    pytest.param(
        ("    stem conv(kernel=3, out=3 * C) -> bn\n", ""),
        28, 1, "network 'tiny' has no 'stem' statement", "",
        id="network-without-stem"),
    # the form of tensors: feature maps until the head, vectors after its global pooling
    pytest.param(
        ("op pool = avg_pool(kernel=3)", "op pool = avg_pool(kernel=3) -> global_avg_pool"),
        9, 33, "global_avg_pool turns feature maps into vectors, which only the head may do",
        "an op, a preprocess, the stem and a layer keep feature maps for the cells after them",
        id="global-pool-in-an-op"),
    pytest.param(
        ("stem conv(kernel=3, out=3 * C) -> bn", "stem conv(kernel=3, out=3 * C) -> linear"),
        33, 39, "linear works on vectors, but here it gets feature maps",
        "put global_avg_pool before it",
        id="linear-in-the-stem"),
    pytest.param(
        ("head global_avg_pool -> linear", "head global_avg_pool -> bn -> linear"),
        36, 29, "bn works on feature maps, but here it gets vectors",
        "global_avg_pool made vectors of the feature maps; after it come only modules that "
        "take vectors (dropout, gelu, hsigmoid, hswish, identity, linear, relu, relu6, sigmoid, silu)",
        id="feature-map-module-after-the-pooling"),
    pytest.param(
        ("head global_avg_pool -> linear(out=classes)", "head relu"),
        36, 5, "the head ends in feature maps, not in a vector of class scores per image",
        "end it with global_avg_pool -> linear(out=classes)",
        id="head-without-pooling"),
    pytest.param(
        ("linear(out=classes)\n", "linear(out=classes)\n    layer relu\n"),
        36, 5, "the head must be the network's last stage",
        "move the 'head' statement below every 'cells', 'layers' and 'layer' statement",
        id="stage-after-the-head"),
    pytest.param(
        ("    stem conv(kernel=3, out=3 * C) -> bn\n",
         "    stem conv(kernel=3, out=3 * C) -> bn\n    stem bn\n"),
        34, 5, "network 'tiny' has two 'stem' statements",
        "the first is at {file}:33:5; use 'layer' for the stages between the stem and the head",
        id="two-stems"),
    # chains
    pytest.param(
        ("op conv3 = rcb(k=3)", "op conv3 = rcb"),
        8, 12, "chain 'rcb' needs a value for 'k'", "write rcb(k=...)",
        id="chain-parameter-missing"),
    pytest.param(
        ("op conv3 = rcb(k=3)", "op conv3 = rcb(k=3, d=1)"),
        8, 21, "chain 'rcb' has no parameter 'd'", "known parameters: k",
        id="chain-parameter-unknown"),
    pytest.param(
        ("chain rcb(k)", "chain rcb(k, k)"),
        1, 14, "parameter 'k' of chain 'rcb' is listed twice", "",
        id="chain-parameter-twice"),
    pytest.param(
        ("chain rcb(k)", "chain rcb(k=kk)"),
        1, 13, "unknown name 'kk'", "did you mean 'k'?",
        id="unknown-name-in-unused-default"),
    pytest.param(
        ("conv(kernel=k) -> bn", "conv(kernel=k) -> rcb(k=k)"),
        1, 42, "chain 'rcb' calls itself: rcb -> rcb", "",
        id="chain-calls-itself"),
    pytest.param(
        ("chain rcb(k)", "chain conv(k)", "rcb(k=3)", "conv(kernel=3)",
         "preprocess rcb(k=1)", "preprocess relu -> conv(kernel=1) -> bn"),
        1, 1, "chain 'conv' has the name of a basic module", "give the chain another name",
        id="chain-named-like-a-module"),
]


@pytest.mark.parametrize(("change", "line", "column", "message", "hint"), CHECK)
def test_check_error(tmp_path, change, line, column, message, hint):
    """A space that parses but is wrong gives one error, at its place, with its hint."""
    error = the_error(tmp_path, edit(*change))
    assert isinstance(error, NasCheckError)
    assert error.severity == "error"
    assert error.location.file == str(tmp_path / "space.nas")
    assert where(error) == (line, column, message, hint.format(file=tmp_path / "space.nas"))


def test_chains_calling_each_other(tmp_path):
    """Mutual recursion between chains is one error, at the call closing the cycle."""
    text = edit("op pool = avg_pool(kernel=3)",
                "chain ping = relu -> pong\nchain pong = ping\nop pool = ping")
    assert [where(error) for error in errors_in(tmp_path, text)] == [
        (10, 14, "chain 'ping' calls itself: ping -> pong -> ping", ""),
    ]


def test_an_op_is_checked_where_it_is_used(tmp_path):
    """An op is checked at the channels cells place it at, not at the count for unused ops."""
    # 3 groups divide the 24 and 48 channels of these cells, not the nominal 16
    path = tmp_path / "space.nas"
    path.write_text(edit("avg_pool(kernel=3)", "conv(kernel=3, groups=3)",
                         "channels C\n", "channels 3 * C\n", "channels 2 * C", "channels 6 * C"))
    assert load(path).warnings == ()


def test_rendered_check_error(tmp_path):
    """The CLI's text for one error: location, message, the source line with a caret, count."""
    path = tmp_path / "space.nas"
    path.write_text(edit("avg_pool(kernel=3)", "avg_pool(kernel=0)"))
    with pytest.raises(NasErrors) as caught:
        load(path)
    assert caught.value.render() == (
        f"{path}:9:20: error: avg_pool attribute 'kernel' must be at least 1, not 0\n"
        "    op pool = avg_pool(kernel=0)\n"
        "                       ^\n"
        "1 error")


# --- imports --------------------------------------------------------------------------------

def test_circular_import(tmp_path):
    """Two files importing each other: one error at the import that closes the cycle."""
    (tmp_path / "a.nas").write_text('import "b.nas"\nop x = relu\n')
    (tmp_path / "b.nas").write_text('# b imports a back\nimport "a.nas"\nop y = relu\n')
    with pytest.raises(NasErrors) as caught:
        load(tmp_path / "a.nas")
    (error,) = caught.value.errors
    assert error.location.file == str(tmp_path / "b.nas")
    assert where(error) == (2, 1, "circular import: a.nas -> b.nas -> a.nas",
                            "move the shared definitions into a third file")


def test_missing_import(tmp_path):
    """An import of a file that exists nowhere is located at the import statement."""
    text = 'op x = relu\nimport "common_ops.nas"\n'
    (error,) = errors_in(tmp_path, text)
    assert where(error) == (2, 1, "imported file not found: common_ops.nas",
                            f"paths are relative to {tmp_path}")


def test_imported_definitions_are_known(tmp_path):
    """Definitions moved to an imported file are found, and its errors carry its file name."""
    (tmp_path / "ops.nas").write_text("op pool = avg_pool(kernel=0)\n")
    text = edit("op pool = avg_pool(kernel=3)\n", 'import "ops.nas"\n')
    (error,) = errors_in(tmp_path, text)
    assert error.location.file == str(tmp_path / "ops.nas")
    assert where(error)[:3] == (1, 20, "avg_pool attribute 'kernel' must be at least 1, not 0")


def test_missing_file():
    """Loading a path that does not exist is a NasError naming it, with the shipped spaces."""
    with pytest.raises(NasError) as caught:
        load("no/such/space.nas")
    assert caught.value.message == "no such file or shipped space: no/such/space.nas"
    assert caught.value.hint == ("shipped spaces: darts, darts_large, darts_ops, fbnet, "
                                 "mbconv_ops, mobilenetv2, nb101, nb201, proxylessnas, "
                                 "published_ops, rdarts_s1, rdarts_s2, rdarts_s3, rdarts_s4")


# --- many errors, warnings ----------------------------------------------------------------------

def test_all_errors_are_reported_in_one_run_in_source_order(tmp_path):
    """Four unrelated mistakes give four errors, sorted by position, and nothing else."""
    text = edit("    candidates none, skip, conv3", "    candidates none, skip, conv_3",
                "cells normal *", "cells normall *",
                "linear(out=classes)", "linear(out=clases)",
                "avg_pool(kernel=3)", "avg_pool(kernel=0)")
    assert [where(error)[:3] for error in errors_in(tmp_path, text)] == [
        (9, 20, "avg_pool attribute 'kernel' must be at least 1, not 0"),
        (17, 28, "unknown op 'conv_3'"),
        (34, 11, "unknown cell 'normall'"),
        (36, 40, "unknown name 'clases'"),
    ]


def test_thousands_of_errors_render_the_first_fifty_and_their_count():
    """A run with more errors than a terminal shows renders the first 50, in source order,
    and says how many there are in all."""
    many = NasErrors(NasCheckError(f"error {line}", Location("f.nas", line, 1))
                     for line in range(120, 0, -1))
    rendered = many.render().splitlines()
    assert rendered[0] == "f.nas:1:1: error: error 1"
    assert rendered[49] == "f.nas:50:1: error: error 50"
    assert rendered[50:] == ["120 errors (70 more not shown)"]


def test_a_broken_op_is_reported_once(tmp_path):
    """A broken op is reported where it first fails, not again at other strides or channels."""
    # the reduction cell fails it at stride 2 and 24 channels; the nominal check of the
    # stride 1 no cell reached (16 channels) stays quiet
    text = edit("avg_pool(kernel=3)", "avg_pool(kernel=3) -> conv(kernel=1, out=32)",
                "cells normal * 1 channels C\n", "cells reduce * 1 channels 3 * C\n")
    assert [where(error)[:3] for error in errors_in(tmp_path, text)] == [
        (9, 1, "op 'pool' turns 24 channels into 32; an edge keeps the channels of its cell")]


def test_unused_definitions_are_warnings(tmp_path):
    """Unused chains, ops and cells load fine and come back as warnings, in source order."""
    path = tmp_path / "space.nas"
    path.write_text(edit("op none = zero\n", "chain spare = relu\nop none = zero\nop idle = relu\n",
                         "cell reduce {", "cell extra {\n    nodes 1\n    candidates skip\n}\n\n"
                         "cell reduce {"))
    space = load(path)
    assert [(w.severity, w.location.line, w.location.column, w.message)
            for w in space.warnings] == [
        ("warning", 3, 1, "chain 'spare' is never used"),
        ("warning", 5, 1, "op 'idle' is never used"),
        ("warning", 24, 1, "cell 'extra' is never used"),
    ]


def test_errors_in_an_unused_cell_are_reported(tmp_path):
    """A cell the network does not place is still checked."""
    text = edit("cell reduce {",
                "cell extra {\n    nodes 1\n    candidates skiip\n}\n\ncell reduce {")
    (error,) = errors_in(tmp_path, text)
    assert where(error) == (24, 16, "unknown op 'skiip'", "did you mean 'skip'?")


def test_chains_nested_too_deeply(tmp_path):
    """A tower of 101 chains is an error at the call past the limit, not a RecursionError."""
    text = "chain c0 = relu\n" + "".join(f"chain c{i} = c{i - 1}\n" for i in range(1, 101))
    (error,) = errors_in(tmp_path, text + "op a = c100\n")
    assert where(error) == (2, 12, "chain 'c0' is nested more than 100 chains deep", "")


def test_search_settings_after_cells_are_an_error(tmp_path):
    """`search` settings apply to every cell, so they must come before the first cells."""
    text = edit("    search bn(affine=false)\n", "",
                "    cells reduce * 1 channels 2 * C\n",
                "    cells reduce * 1 channels 2 * C\n    search bn(affine=false)\n")
    error = the_error(tmp_path, text)
    assert (error.location.line, error.location.column) == (35, 5)
    assert error.message == ("search settings must come before the first 'cells' or 'layers' "
                             "statement")
    assert error.hint == "move this line up: it applies to every cell and layer"


def test_huge_numbers_are_a_located_error(tmp_path):
    """A product of huge numbers is reported as too large, not a crash printing it."""
    text = edit("op pool = avg_pool(kernel=3)",
                "op pool = avg_pool(kernel=1" + "0" * 2200 + " * 1" + "0" * 2200 + ")")
    errors = errors_in(tmp_path, text)
    assert errors[0].message == "value too large: numbers in a space stay below 10^12"
    assert (errors[0].location.line, errors[0].location.column) == (9, 27)


def test_an_import_name_too_long_for_the_file_system(tmp_path):
    """An import whose name the file system refuses is an import not found, not an OSError."""
    error = the_error(tmp_path, 'import "' + "a" * 300 + '"\n' + BASE)
    assert error.message == f"imported file not found: {'a' * 300}"


def test_an_op_that_writes_its_stride_strides_where_written(tmp_path):
    """An inverted-residual-like op writes stride=2 on its depthwise conv in its stride-2 form:
    the stride is there, not on the first 1x1 conv, which an op without written strides
    strides."""
    path = tmp_path / "space.nas"
    path.write_text(edit(
        "op pool = avg_pool(kernel=3)\n",
        "op pool = avg_pool(kernel=3)\n"
        "op mb {\n"
        "    stride 1: conv(kernel=1) -> conv(kernel=3, depthwise=true) -> conv(kernel=1)\n"
        "    stride 2: conv(kernel=1) -> conv(kernel=3, depthwise=true, stride=2) -> "
        "conv(kernel=1)\n"
        "}\n"
        "op plain = conv(kernel=1) -> conv(kernel=3, depthwise=true) -> conv(kernel=1)\n",
        "candidates skip, conv3, pool", "candidates skip, conv3, pool, mb, plain"))
    reduce = next(cell for cell in load(path).network.cells if cell.kind.reduction)
    ops = {op.name: op for op in reduce.edges[0].candidates}
    assert [m.stride for m in ops["mb"].modules] == [1, 2, 1]
    assert [m.stride for m in ops["plain"].modules] == [2, 1, 1]


def test_an_input_two_reductions_back_is_unsupported(tmp_path):
    """A 3-input cell after two reductions gets an input at 4x its resolution: the error says
    that is not supported, instead of suggesting the preprocess_reduced the cell has."""
    cell = ("inputs 3 preprocess relu -> conv(kernel=1) -> bn "
            "preprocess_reduced factorized_reduce nodes 2 candidates none, skip output concat")
    text = (f"op none = zero\nop skip {{ stride 1: identity stride 2: factorized_reduce }}\n"
            f"cell normal {{ {cell} }}\ncell reduce {{ reduction {cell} }}\n"
            "network n {\n    stem conv(kernel=3, out=8)\n    cells normal * 1 channels 8\n"
            "    cells reduce * 2 channels 8\n    cells normal * 1 channels 8\n"
            "    head global_avg_pool -> linear(out=10)\n}\n")
    error = the_error(tmp_path, text)
    assert where(error)[:2] == (9, 5)
    assert "arrives at resolution 32 but the cell works at 8: a cell takes inputs at its " \
        "resolution or at twice it" in error.message
    assert "preprocess_reduced factorized_reduce" not in error.hint
