"""Real-valued literals and attributes: where a real is accepted, where a whole number is
required, how reals print and read back, and the modules that take them (dropout, noise)."""

import pytest
import torch

from nasdsl.backends.torch.layers import build_layer
from nasdsl.dsl import modules as M
from nasdsl.dsl import syntax as S
from nasdsl.dsl.elaborate import load
from nasdsl.dsl.parse import parse
from nasdsl.dsl.printer import print_program
from nasdsl.errors import NasError, NasErrors, NasSyntaxError
from nasdsl.search.command import parse_override
from tests.paths import SPACES


def space_with(tmp_path, op: str, edit=("", "")):
    """nb201 with an extra candidate `extra = OP` after one more text edit."""
    text = (SPACES / "nb201.nas").read_text().replace(*edit).replace(
        "op none = zero\n", f"op none = zero\nop extra = {op}\n", 1).replace(
        "candidates none,", "candidates none, extra,")
    path = tmp_path / "space.nas"
    path.write_text(text)
    return load(path, overrides={"C": 4, "N": 1})


def extra_op(space):
    return space.network.cells[0].edges[0].candidates[1].modules


def test_real_attributes_take_reals_whole_numbers_and_arithmetic(tmp_path):
    """p=0.25, p=1.0 / 4 and p=0 (a whole number where a real is wanted) all build."""
    assert extra_op(space_with(tmp_path, "dropout(p=0.25)")) == (M.Dropout(0.25),)
    assert extra_op(space_with(tmp_path, "dropout(p=1.0 / 4)")) == (M.Dropout(0.25),)
    assert extra_op(space_with(tmp_path, "dropout(p=0)")) == (M.Dropout(0.0),)
    assert extra_op(space_with(tmp_path, "noise(std=2.5e-1, mean=1e-3)")) \
        == (M.Noise(0.25, 0.001),)


@pytest.mark.parametrize(("op", "edit", "message"), [
    ("conv(kernel=1.5)", ("", ""), "conv attribute 'kernel' must be a whole number or a size like 1x7, not 1.5"),
    ("dropout(p=1.5)", ("", ""), "dropout attribute 'p' must be in [0, 1), not 1.5"),
    ("dropout(p=true)", ("", ""), "dropout attribute 'p' must be a number, not true"),
    ("noise(std=0 - 1.0)", ("", ""), "noise attribute 'std' must be at least 0, not -1.0"),
    ("dropout(p=1 / 4)", ("", ""), "1 / 4 is not a whole number"),
    ("identity", ("cells cell * N channels C", "cells cell * 1.5 channels C"),
     "cell count must be a whole number of at least 1, not 1.5"),
    ("identity", ("input(channels=3, size=32)", "input(channels=3, size=32.0)"),
     "input size must be a whole number of at least 1, not 32.0"),
])
def test_a_real_where_a_whole_number_belongs_is_a_located_error(tmp_path, op, edit, message):
    """Kernels, counts and sizes are whole numbers; a probability stays in [0, 1)."""
    with pytest.raises(NasErrors) as raised:
        space_with(tmp_path, op, edit=edit)
    (error,) = raised.value.errors
    assert error.message == message and error.location.file.endswith("space.nas")
    assert error.location.line > 0 and error.location.column > 0


def test_a_chain_parameter_may_hold_a_real(tmp_path):
    """A chain's parameter takes a real, by default or from the call, into its arithmetic."""
    text = "chain drop(rate=0.1) = dropout(p=2 * rate)\nop none = zero\n"
    assert extra_op(space_with(tmp_path, "drop", edit=("op none = zero\n", text))) \
        == (M.Dropout(0.2),)
    assert extra_op(space_with(tmp_path, "drop(rate=0.25)", edit=("op none = zero\n", text))) \
        == (M.Dropout(0.5),)


@pytest.mark.parametrize(("text", "printed"), [
    ("0.25", "0.25"), ("1e-3", "0.001"), ("2.5e2", "250.0"), ("3E+1", "30.0"), ("7", "7")])
def test_reals_print_as_they_read_back(text, printed):
    """A real literal prints in a form that reads back to the same value."""
    program = parse(f"op a = dropout(p={text})")
    (arg,) = program.items[0].forms[0].body[0].args
    assert isinstance(arg.value, S.Number) and str(arg.value.value) == printed
    again = parse(print_program(program))
    assert again.items[0].forms[0].body[0].args[0].value.value == arg.value.value


def test_a_real_too_large_for_a_float_is_a_syntax_error():
    """1e400 is no number a space can hold: a located syntax error, not inf."""
    with pytest.raises(NasSyntaxError, match="too large"):
        parse("op a = dropout(p=1e400)")


def test_noise_replaces_its_input_as_r_darts_does():
    """noise(std, mean) outputs N(mean, std^2) shaped like the strided input, whatever the
    input, in training and in eval (R-DARTS's NoiseOp); it draws anew on each call."""
    layer = build_layer(M.Noise(2.0, 1.0, stride=2))
    x = torch.full((4, 3, 32, 32), 100.0)
    for train in (True, False):
        out = layer.train(train)(x)
        assert out.shape == (4, 3, 16, 16)
        assert abs(out.mean().item() - 1.0) < 0.1 and abs(out.std().item() - 2.0) < 0.1
    assert not torch.equal(layer(x), layer(x))


def test_additive_noise_is_added_in_training_and_the_identity_in_eval():
    """noise(additive=true) is the input plus noise in training, the input in eval."""
    layer = build_layer(M.Noise(0.5, 0.0, True))
    x = torch.randn(4, 3, 16, 16)
    assert torch.equal(layer.eval()(x), x)
    spread = (layer.train()(x) - x).std().item()
    assert abs(spread - 0.5) < 0.05


def test_dropout_and_noise_facts():
    """Both draw random numbers; dropout keeps zeros zero and saves a mask, noise does not."""
    assert M.Dropout(0.1).random and M.Noise().random
    assert M.Dropout(0.1).maps_zero_to_zero and not M.Noise().maps_zero_to_zero
    assert M.Dropout(0.1).saves == "mask" and M.Noise().stride_capable
    assert not M.Dropout(0.1).has_params and not M.Noise().has_params


def test_a_network_let_may_hold_a_real_that_set_replaces(tmp_path):
    """`let rate = 0.2` feeds the head's dropout; `--set rate=0.5` (or load's overrides)
    replaces it, and a real given for a whole-number let is a located error where it is used."""
    text = (SPACES / "nb201.nas").read_text()
    start = text.index("    head ")
    head = text[start:text.index("\n", start)]
    path = tmp_path / "space.nas"
    path.write_text(text.replace(head, "    let rate = 0.2\n    head global_avg_pool -> "
                                       "dropout(p=rate) -> linear(out=classes)"))
    assert load(path).network.stages[-1].modules[1] == M.Dropout(0.2)
    assert parse_override("rate=0.5") == ("rate", 0.5) and parse_override("C=8") == ("C", 8)
    assert load(path, overrides={"rate": 0.5}).network.stages[-1].modules[1] == M.Dropout(0.5)
    with pytest.raises(NasErrors, match="must be a whole number of at least 1, not 8.5"):
        load(path, overrides={"C": 8.5})
    with pytest.raises(NasError, match="--set takes NAME=NUMBER"):
        parse_override("rate=0.5.1")
