"""Groups of branches inside an op: `(a + b)` sums, `(a * b)` multiplies (vectors scale
feature maps), `(a | b)` concatenates; shapes checked where the op is placed, facts composed
from the branches'."""

import pytest

from nasdsl.dsl import modules as M
from nasdsl.dsl.parse import parse
from nasdsl.dsl.printer import print_program
from nasdsl.errors import NasErrors
from tests.dsl.test_place_channels import extra_ops, space_with

SE = "(identity * global_avg_pool -> linear(out=in / 4) -> relu -> linear(out=in) -> sigmoid)"


def test_groups_print_and_parse_back():
    """Each combination, nested, prints as written and parses to the same tree."""
    text = f"op o = (identity + conv(kernel=1, out=2 * in) -> {SE} -> (relu | relu6))\n"
    program = parse(text)
    assert print_program(program) == text and parse(print_program(program)) == program


def test_a_residual_sums_the_input_and_its_branch(tmp_path):
    """(identity + conv -> bn) is one Branches module whose branches are the chains."""
    (op, *_), *_ = extra_ops(space_with(tmp_path, "(identity + conv(kernel=3) -> bn)"))
    assert op == M.Branches("sum", ((M.Identity(),),
                                    (M.Conv(8, 8, 3, bias=True),
                                     M.BatchNorm(8, False, False))), 8, 8)
    assert not op.linear and op.batch_dependent and op.has_params and not op.kernel_expressible


def test_in_is_the_channels_reaching_the_group(tmp_path):
    """Inside a group after a 3x expansion, `in` is the expanded width: the SE block reduces
    24 channels to 6 and back."""
    ops = extra_ops(space_with(tmp_path, f"conv(kernel=1, out=3 * in) -> {SE} -> conv(kernel=1)"))
    _, se, _ = ops[0]
    assert se.combine == "product" and se.c_in == se.c_out == 24
    assert se.branches[1][1] == M.Linear(24, 6) and se.branches[1][3] == M.Linear(6, 24)
    assert not se.linear and se.maps_zero_to_zero  # a zero input times anything is zero
    assert M.Branches("product", ((M.Identity(),), (M.Sigmoid(),)), 8, 8).maps_zero_to_zero


def test_a_concatenation_adds_the_channels(tmp_path):
    """(conv(out=in / 2) | conv(out=in / 2)) gives the place's channels."""
    ops = extra_ops(space_with(tmp_path, "(conv(kernel=1, out=in / 2) | "
                                         "max_pool(kernel=3) -> conv(kernel=1, out=in / 2))"))
    assert [op[0].c_out for op in ops] == [8, 16, 32]


def test_facts_compose():
    """A sum of linear kernel-expressible branches is kernel-expressible, of the widest
    extent; a product is not linear; parameters and running statistics are the branches'."""
    residual = M.Branches("sum", ((M.Identity(),), (M.Conv(4, 4, 3),), (M.AvgPool(3),)), 4, 4)
    assert residual.linear and residual.kernel_expressible and residual.extent == 3
    assert residual.parameter_count == 4 * 4 * 9 and residual.maps_zero_to_zero
    wide = M.Branches("sum", ((M.Conv(4, 4, 3), M.Conv(4, 4, 3)),), 4, 4)
    assert not wide.kernel_expressible  # two 3x3 in one branch are not one 3x3 kernel
    assert str(residual) == "(identity + conv(c_in=4, c_out=4, kernel=3) + avg_pool(kernel=3))"
    assert M.Branches("sum", ((M.Identity(),), (M.Conv(4, 4, 3),)), 4, 4) is \
        M.Branches("sum", ((M.Identity(),), (M.Conv(4, 4, 3),)), 4, 4)  # interned


@pytest.mark.parametrize("op, message", [
    ("(identity + conv(kernel=1, out=2 * in))", "give 8 and 16 channels: sum needs the same"),
    ("(identity + global_avg_pool)", "only the head may"),
    ("(global_avg_pool * global_avg_pool)", "turns feature maps into vectors"),
    ("(relu | global_avg_pool)", "global_avg_pool turns feature maps into vectors"),
    ("(identity * global_avg_pool -> (relu | relu6))", "give 8 and 16 channels"),
])
def test_branches_that_do_not_combine_are_located_errors(tmp_path, op, message):
    """Channels, forms and the head's privilege of making vectors are checked per group."""
    with pytest.raises(NasErrors) as raised:
        space_with(tmp_path, op)
    rendered = raised.value.render()
    assert message in rendered and "^" in rendered


def test_a_residual_at_stride_two_says_to_give_a_form_per_stride(tmp_path):
    """The identity branch cannot stride where the op's place does: the error says how to
    write the op for both strides."""
    text = ("op none = zero\nop r = (identity + conv(kernel=3))\n"
            "cell c { nodes 1 candidates none, r }\ncell red { nodes 1 reduction candidates none, r }\n"
            "network n { stem conv(kernel=3, out=8) cells c * 1 channels 8 cells red * 1 "
            "channels 8 head global_avg_pool -> linear(out=10) }\n")
    path = tmp_path / "s.nas"
    path.write_text(text)
    from nasdsl.dsl.elaborate import load
    with pytest.raises(NasErrors) as raised:
        load(path)
    assert "stride by 1 and 2" in raised.value.render()
    assert "stride 1: (identity + f)" in raised.value.render()


def test_a_space_with_groups_searches_and_derives(tmp_path):
    """`nasdsl run` on NB201 with a residual, an SE block and a concatenation among the
    candidates: the simplified supernet trains and the derived.nas it writes loads back."""
    from nasdsl.cli import main
    from nasdsl.dsl.elaborate import load
    ops = {"rep": "(identity + conv(kernel=3))", "se": f"conv(kernel=1, out=2 * in) -> {SE} -> "
           "conv(kernel=1)", "cat": "(conv(kernel=1, out=in / 2) | max_pool(kernel=3) -> "
           "conv(kernel=1, out=in / 2))"}
    space_with(tmp_path, "identity")  # writes space.nas, edited below
    path = tmp_path / "space.nas"
    text = path.read_text().replace("op extra = identity\n", "".join(
        f"op {name} = {body}\n" for name, body in ops.items())).replace(
        "candidates none, extra,", "candidates none, rep, se, cat,")
    path.write_text(text)
    assert main(["run", str(path), "--method", "darts", "--dataset", "digits", "--subset", "32",
                 "--epochs", "1", "--batch", "16", "--set", "C=4", "--set", "N=1",
                 "--out", str(tmp_path / "run"), "--no-progress"]) == 0
    derived = load(tmp_path / "run" / "derived.nas")
    assert derived.architecture_count() == 1
