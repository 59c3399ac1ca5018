"""Macro spaces: `layers` statements of searchable layers, each its own cell kind with its own
architecture parameters, placed on what the stage before gives, derived and pruned one layer
a statement, and written as `layer=op` text."""

import pytest

from nasdsl.architecture.derive import derive, derived_program, derived_space
from nasdsl.architecture.layers import from_layers, layers_form, to_layers
from nasdsl.architecture.prune import full_mask, pruned_text
from nasdsl.dsl.elaborate import load, narrowed
from nasdsl.dsl.parse import parse
from nasdsl.dsl.printer import print_program
from nasdsl.errors import NasError, NasErrors

MACRO = """\
chain mb(k, e, s) = conv(kernel=1, out=e * in) -> bn -> relu6
                 -> conv(kernel=k, stride=s, depthwise=true) -> bn -> relu6 -> conv(kernel=1) -> bn
op k3_e3 { stride 1: mb(k=3, e=3, s=1)  stride 2: mb(k=3, e=3, s=2) }
op k5_e6 { stride 1: mb(k=5, e=6, s=1)  stride 2: mb(k=5, e=6, s=2) }
op skip = zero

network tiny {
    let classes = 10
    let n = 3
    input(channels=3, size=16)
    stem conv(kernel=3, out=8) -> bn -> relu6
    layers a * 2 channels 16 stride 2 residual: k3_e3, k5_e6 or skip
    layers b * n channels 16 residual: k3_e3, k5_e6 or skip
    layers c * 1 channels 24: k3_e3
    head global_avg_pool -> linear(out=classes)
}
"""


def macro(text: str = MACRO, **options):
    return load("<macro>", text=text, **options)


def errors_of(text: str) -> list[NasError]:
    with pytest.raises(NasErrors) as caught:
        macro(text)
    return caught.value.errors


def test_layers_print_and_parse_back():
    """A `layers` statement with every part prints as written and parses to the same tree."""
    text = ("network n {\n    layers b3 * 2 * n channels 40 stride 2 residual: a, b or skip\n"
            "    layers c * 1 channels 8: a\n}\n")
    program = parse(text)
    assert print_program(program) == text and parse(print_program(program)) == program


def test_each_layer_is_a_kind_of_its_own():
    """Every layer of a statement is its own single-edge kind (architecture parameters of its
    own), named after the statement and numbered where it makes several."""
    space = macro()
    assert [kind.name for kind in space.cell_kinds] == ["a_1", "a_2", "b_1", "b_2", "b_3", "c"]
    assert all(kind.layer and kind.inputs == 1 and kind.nodes == 1 for kind in space.cell_kinds)
    assert len(space.network.cells) == 6
    assert macro(MACRO.replace("let n = 3", "let n = 1")).cell_kinds[2].name == "b"


def test_the_first_layer_strides_and_changes_the_channels():
    """The first layer takes what arrives (8 channels at 16x16) with the statement's stride;
    the rest keep 16 channels at 8x8, and only those get the residual and the `or` op."""
    cells = macro().network.cells
    first, second = cells[0], cells[1]
    assert (first.input_channels, first.channels, first.size, first.out_size) == (8, 16, 16, 8)
    assert first.kind.reduction and not first.kind.residual
    assert first.kind.edges == ((0, 1, ("k3_e3", "k5_e6")),)
    assert second.kind.residual and second.kind.edges == ((0, 1, ("k3_e3", "k5_e6", "skip")),)
    expand, *_, project, _ = first.edges[0].candidates[0].modules
    assert (expand.c_in, expand.c_out, project.c_out) == (8, 24, 16)
    assert first.edge_input_channels(0) == 8 and second.edge_input_channels(0) == 16


def test_a_layer_of_one_candidate_is_fixed():
    """`layers c * 1 ...: k3_e3` has no architecture parameters: its edge is fixed."""
    kind = macro().cell_kinds[-1]
    assert kind.edges == () and kind.fixed == ((0, 1, ("k3_e3",)),)
    assert macro().architecture_count() == 2 * 3 * 3 * 3 * 3


@pytest.mark.parametrize(("replacements", "message"), [
    (("residual: k3_e3, k5_e6 or skip\n    layers b", "residual: k3_e3, k3_e3 or skip\n    layers b"),
     "op 'k3_e3' is listed twice"),
    (("layers c * 1 channels 24: k3_e3", "layers c * 1 channels 24: k9"), "unknown op 'k9'"),
    (("layers c * 1", "layers a_1 * 1"),
     "layers 'a_1' would make a layer named 'a_1', which is already the name of a cell or layer"),
    (("channels 16 stride 2", "channels 16 stride 3"), "layers 'a' stride 3: strides are 1 or 2"),
    (("k5_e6 or skip\n    layers c", "k5_e6 or k3_e3\n    layers c"),
     "op 'k3_e3' is both a candidate and the `or` op of layers 'b'"),
    (("layers b * n", "layers b * 0"), "layer count must be a whole number of at least 1, not 0"),
    (("op skip = zero", "op skip = zero\nop wide = conv(kernel=1, out=2 * in)",
      "channels 24: k3_e3", "channels 24: wide"),
     "op 'wide' turns 16 channels into 32; layer 'c' needs 24"),
    (("layers c * 1", "layers b * 1"), "two 'layers' statements are named 'b'"),
])
def test_bad_layers_are_located_errors(replacements, message):
    """Each mistake in a `layers` statement is one error saying what is wrong, where."""
    text = MACRO
    for old, new in zip(replacements[::2], replacements[1::2]):
        assert text.count(old) == 1
        text = text.replace(old, new)
    (error,) = errors_of(text)
    assert error.message == message and error.location is not None


def test_an_or_op_no_layer_takes_is_a_warning():
    """`or skip` on a statement of one layer that changes the channels joins no layer."""
    space = macro(MACRO.replace("layers c * 1 channels 24: k3_e3",
                                "layers c * 1 channels 24: k3_e3, k5_e6 or skip"))
    (warning,) = space.warnings
    assert warning.message == "no layer of 'c' keeps its shape, so `or skip` joins none of them"


def test_partial_channels_refuse_a_layer_that_changes_its_channels():
    """PC-DARTS's bypass needs a layer to keep its channels: the first layer is an error."""
    with pytest.raises(NasErrors) as caught:
        narrowed(macro(), 4)
    (error,) = caught.value.errors
    assert error.message == ("layer 'a_1' takes 8 channels to 16: partial channel connections "
                             "(1/4 of the channels through the mix) need layers that keep a "
                             "number of channels K divides")


def test_layers_text_reads_back():
    """`to_layers` writes each searchable layer's op; `from_layers` reads it back, the fixed
    layers keeping their one op; a missing or unknown layer is a clear error."""
    space = macro()
    weights = {kind.name: [[0.1, 0.9, 0.0][:len(kind.edges[0][2])]]
               for kind in space.cell_kinds if kind.edges}
    arch = derive(space, weights)
    text = to_layers(arch, space)
    assert layers_form(space) and text == "a_1=k5_e6 a_2=k5_e6 b_1=k5_e6 b_2=k5_e6 b_3=k5_e6"
    assert from_layers(text, space) == arch
    with pytest.raises(NasError, match="gives layer 'b_3' no op"):
        from_layers(text.replace(" b_3=k5_e6", ""), space)
    with pytest.raises(NasError, match="names a layer 'b_9'"):
        from_layers(text + " b_9=skip", space)


def test_a_derived_macro_network_writes_one_statement_a_layer():
    """The derived file lists each layer under its kind's name with its one op, the first
    keeping the stride; it loads as the same kinds with the same channels, every edge fixed."""
    space = macro()
    arch = from_layers("a_1=k3_e3 a_2=skip b_1=k5_e6 b_2=k3_e3 b_3=skip", space)
    text = print_program(derived_program(space, arch))
    assert "    layers a_1 * 1 channels 16 stride 2 residual: k3_e3\n" in text
    assert "    layers a_2 * 1 channels 16 residual: skip\n" in text
    derived = derived_space(space, arch)
    assert [kind.name for kind in derived.cell_kinds] == [k.name for k in space.cell_kinds]
    assert derived.architecture_count() == 1
    assert [(c.input_channels, c.channels) for c in derived.network.cells] == \
        [(c.input_channels, c.channels) for c in space.network.cells]


def test_a_pruned_macro_space_keeps_each_layers_candidates():
    """A pruned file gives each layer the candidates the mask leaves it."""
    space = macro()
    mask = {**full_mask(space), "b_2": (("k3_e3", "skip"),)}
    text = pruned_text(space.programs, space, mask)
    assert "    layers b_2 * 1 channels 16 residual: k3_e3, skip\n" in text
    pruned = load("<pruned>", text=text)
    assert {kind.name: tuple(names for _, _, names in kind.edges)
            for kind in pruned.cell_kinds} == mask


def test_names_that_extend_another_statements_read_back():
    """`layers x * 2` makes x_1 and x_2, `layers x_1 * 2` x_1_1 and x_1_2: each statement's
    layers are its own in the derived file, which loads as the same kinds."""
    text = MACRO.replace("layers a * 2", "layers x * 2").replace("layers b * n", "layers x_1 * n")
    space = macro(text)
    names = [kind.name for kind in space.cell_kinds]
    assert names == ["x_1", "x_2", "x_1_1", "x_1_2", "x_1_3", "c"]
    arch = derive(space, {name: [[1.0, 0.0, 0.0][:len(kind.edges[0][2])]]
                          for name, kind in zip(names, space.cell_kinds) if kind.edges})
    derived = derived_space(space, arch)
    assert [kind.name for kind in derived.cell_kinds] == names


def test_later_statements_are_checked_after_a_failed_one():
    """An unknown op in a statement after one that cannot be placed is reported too."""
    text = MACRO.replace("channels 16 stride 2", "channels 16 stride 3") \
        .replace("layers c * 1 channels 24: k3_e3", "layers c * 1 channels 24: k9")
    assert [error.message for error in errors_of(text)] == [
        "layers 'a' stride 3: strides are 1 or 2", "unknown op 'k9'"]


def test_an_op_only_strided_layers_use_need_not_work_at_stride_1():
    """factorized_reduce as an op of any stride, used only where a layer strides, is not
    checked at stride 1, where it cannot run."""
    text = MACRO.replace("op skip = zero", "op skip = zero\nop reduce = factorized_reduce") \
        .replace("channels 24: k3_e3", "channels 24 stride 2: k3_e3, reduce")
    assert macro(text).cell_kinds[-1].edges == ((0, 1, ("k3_e3", "reduce")),)


def test_a_space_of_one_layer_is_no_nb201_cell():
    """One searchable layer is a macro space: its architecture is layer=op text, not an NB201
    arch string."""
    from nasdsl.search.build import nb201_shaped
    text = MACRO.replace("layers a * 2 channels 16 stride 2 residual: k3_e3, k5_e6 or skip\n",
                         "").replace("    layers b * n channels 16 residual: k3_e3, k5_e6 or skip\n",
                                     "").replace("24: k3_e3", "24: k3_e3, k5_e6")
    space = macro(text)
    assert len(space.cell_kinds) == 1 and not nb201_shaped(space) and layers_form(space)


def test_bad_layers_text_is_refused():
    """A layer given twice, or a fixed layer given another op than its one, is an error."""
    space = macro()
    text = "a_1=k5_e6 a_2=k5_e6 b_1=k5_e6 b_2=k5_e6 b_3=k5_e6"
    with pytest.raises(NasError, match="gives layer 'a_2' two ops, k5_e6 and skip"):
        from_layers(text + " a_2=skip", space)
    with pytest.raises(NasError, match="layer 'c' the op k5_e6, but the layer is fixed"):
        from_layers(text + " c=k5_e6", space)
    assert from_layers(text + " c=k3_e3", space) == from_layers(text, space)


def test_show_lists_each_layer_and_each_op_where_it_is_first_placed():
    """The summary gives one line per layer (channels in and out, stride, residual, choice)
    and each op's modules at the first layer that places it."""
    from nasdsl.dsl.summary import summarize
    text = summarize(macro())
    assert ("  layers a_1: 8 -> 16 channels, 16x16 in, stride 2; 2 candidates: k3_e3, k5_e6"
            in text)
    assert "  layers b_1: 16 -> 16 channels, 8x8 in, residual; 3 candidates" in text
    assert "  skip             a_2: zero\n" in text
    assert text.count("  k3_e3            a_1: conv(c_in=8, c_out=24, kernel=1)") == 1
