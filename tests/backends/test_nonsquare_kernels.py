"""Non-square kernels (`conv(kernel=1x7)`): written and read, checked, placed with 'same'
padding on each axis, counted, costed, and merged by reparameterization as the square
kernel of their longer side."""

import pytest
import torch
import torch.nn.functional as F

from nasdsl.backends.torch.edge import NaiveEdge, PlanEdge
from nasdsl.backends.torch.kernels import chain_kernel
from nasdsl.backends.torch.layers import build_layer
from nasdsl.backends.torch.measure import flops
from nasdsl.dsl import modules as M
from nasdsl.dsl.parse import parse
from nasdsl.dsl.printer import print_program
from nasdsl.dsl.space import Op
from nasdsl.errors import NasErrors
from nasdsl.simplify.compiler import simplify
from nasdsl.simplify.cost import Setting, estimate
from nasdsl.simplify.plan import Apply
from nasdsl.simplify.rewrites import Options
from tests.dsl.test_place_channels import extra_ops, space_with

ROW = M.KernelSize(1, 7)


def test_sizes_print_and_parse_back():
    """`1x7` is a literal a chain parameter can carry; it prints as written."""
    text = "chain f(k) = conv(kernel=k)\n\nop o = f(k=1x7) -> conv(kernel=7x1, dilation=2)\n"
    program = parse(text)
    assert print_program(program) == text and parse(print_program(program)) == program


def test_a_placed_conv_keeps_its_size(tmp_path):
    """conv(kernel=1x7) is a Conv of KernelSize(1, 7) (a square size is a number), 7 taps a
    channel pair (and NB201's search bias), shown as 1x7, its extent the longer side's."""
    (conv,), *_ = extra_ops(space_with(tmp_path, "conv(kernel=1x7)"))
    assert conv.kernel == ROW and conv.kernel_size == (1, 7) and "kernel=1x7" in str(conv)
    assert conv.parameter_count == 8 * 8 * 7 + 8 and conv.extent == 7
    (square,), *_ = extra_ops(space_with(tmp_path, "conv(kernel=3x3)"))
    assert square is M.Conv(8, 8, 3, bias=True)


@pytest.mark.parametrize(("op", "message"), [
    ("conv(kernel=2x3)", "conv attribute 'kernel' must be odd, so that 'same' padding is "
                         "symmetric, not 2x3"),
    ("conv(kernel=1x7 + 1)", "'+' needs numbers, not a kernel size"),
    ("avg_pool(kernel=1x3)", "avg_pool attribute 'kernel' must be a whole number, not 1x3"),
])
def test_bad_sizes_are_located_errors(tmp_path, op, message):
    """An even side, arithmetic on a size, a size where a number goes: one clear error."""
    with pytest.raises(NasErrors) as caught:
        space_with(tmp_path, op)
    assert message in [error.message for error in caught.value.errors]


@pytest.mark.parametrize("module", [M.Conv(3, 4, ROW), M.Conv(3, 4, M.KernelSize(5, 1), 2, 2),
                                    M.Conv(4, 4, M.KernelSize(3, 1), 1, 1, 4)], ids=str)
def test_the_layer_pads_each_axis_and_its_kernel_is_the_layer(module):
    """'same' padding on each axis (ceil(size / stride) outputs), and the conv's dense square
    kernel of its extent, applied as an odd square conv, gives what the layer gives."""
    layer = build_layer(module).double()
    x = torch.randn(2, module.c_in, 7, 7, dtype=torch.float64)
    out = layer(x)
    assert out.shape[-2:] == (module.out_size(7),) * 2
    weight, _ = chain_kernel([module], [layer], module.c_in, x)
    assert weight.shape[-2:] == (module.extent, module.extent)
    merged = F.conv2d(x, weight, stride=module.stride, padding=module.extent // 2)
    torch.testing.assert_close(merged, out)


def test_a_row_a_column_and_a_square_merge_into_one_kernel():
    """conv 1x3, conv 3x1 and conv 3 on one edge are one 3x3 conv, equal to the naive mix at
    any weights."""
    ops = tuple(Op(name, (M.Conv(4, 4, size),)) for name, size in
                (("row", M.KernelSize(1, 3)), ("column", M.KernelSize(3, 1)), ("square", 3)))
    plan = simplify(ops, frozenset({"reparam"}), Options())
    assert [rewrite.rule for rewrite in plan.rewrites] == ["reparam"]
    torch.manual_seed(0)
    naive = NaiveEdge(ops).double()
    planned = PlanEdge(ops, plan).double()
    planned.load_state_dict(naive.state_dict())
    x = torch.randn(2, 4, 6, 6, dtype=torch.float64)
    weights = torch.tensor([0.2, 0.5, 0.3], dtype=torch.float64)
    torch.testing.assert_close(planned(x, weights), naive(x, weights))


def test_the_cost_model_counts_a_non_square_convs_flops():
    """The modelled FLOPs of a 1x7 conv's forward and backward are torch's count."""
    module = M.Conv(4, 4, ROW)
    layer = build_layer(module)
    x = torch.randn(2, 4, 6, 6, requires_grad=True)
    counted = flops(lambda: layer(x).sum().backward())
    assert estimate(Apply(module, 0, 0), 4, Setting(batch=2, size=6)).flops == counted
