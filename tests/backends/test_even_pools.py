"""Even-sized pools: the window k/2 - 1 before and k/2 after each position (the odd window
k + 1 without its first row and column), ceil(size / stride) outputs, their kernel, what the
cost model says they keep."""

import pytest
import torch
import torch.nn.functional as F

from nasdsl.backends.torch.kernels import chain_kernel
from nasdsl.backends.torch.layers import build_layer
from nasdsl.backends.torch.measure import saved_bytes
from nasdsl.dsl import modules as M
from nasdsl.simplify.cost import Setting, estimate
from nasdsl.simplify.plan import Apply, Seq


def ramp(size: int) -> torch.Tensor:
    return torch.arange(float(size * size)).view(1, 1, size, size)


def test_a_window_of_2_is_the_position_and_the_next():
    """avg_pool(kernel=2) at stride 1 averages x[i:i+2, j:j+2], zeros past the end; at stride
    2 on an even size it is the plain 2x2 average; max_pool likewise, padding never wins."""
    x = torch.randn(1, 1, 5, 5)
    out = build_layer(M.AvgPool(2))(x)
    padded = F.pad(x, (0, 1, 0, 1))
    assert out.shape == x.shape
    torch.testing.assert_close(out[0, 0, 1, 2], padded[0, 0, 1:3, 2:4].mean())
    torch.testing.assert_close(out[0, 0, 4, 4], x[0, 0, 4, 4] / 4)
    even = torch.randn(2, 3, 6, 6)
    torch.testing.assert_close(build_layer(M.AvgPool(2, 2))(even), F.avg_pool2d(even, 2, 2))
    torch.testing.assert_close(build_layer(M.MaxPool(2, 2))(even), F.max_pool2d(even, 2, 2))
    negative = -1 - torch.rand(1, 1, 3, 3)
    assert build_layer(M.MaxPool(2))(negative)[0, 0, 2, 2] == negative[0, 0, 2, 2]


@pytest.mark.parametrize("kernel", [2, 4])
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("size", [5, 6])
def test_outputs_are_ceil_size_over_stride_and_border_divisors_count_the_input(kernel, stride,
                                                                              size):
    """Every even pool gives ceil(size / stride) positions a side; without count_include_pad
    an all-ones input averages to ones everywhere, border included."""
    ones = torch.ones(1, 2, size, size)
    for module in (M.AvgPool(kernel, stride), M.AvgPool(kernel, stride, False),
                   M.MaxPool(kernel, stride)):
        out = build_layer(module)(ones)
        assert out.shape[-1] == module.out_size(size) == -(-size // stride)
    exact = build_layer(M.AvgPool(kernel, stride, False))(ones)
    torch.testing.assert_close(exact, torch.ones_like(exact))


@pytest.mark.parametrize("kernel", [2, 4])
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("size", [5, 6])
def test_its_kernel_is_the_odd_window_one_wider(kernel, stride, size):
    """An even average pool counting its padding is the convolution with the kernel of
    extent k + 1 (its first row and column zero), padded and strided as an odd kernel."""
    module = M.AvgPool(kernel, stride)
    layer = build_layer(module)
    x = torch.randn(2, 3, size, size, dtype=torch.float64)
    weight, bias = chain_kernel([module], [layer], 3, x)
    assert bias is None and weight.shape[-1] == module.extent == kernel + 1
    conv = F.conv2d(x, weight, stride=stride, padding=module.extent // 2)
    torch.testing.assert_close(conv, layer(x))


@pytest.mark.parametrize("module", [M.AvgPool(2), M.AvgPool(4, 2, False), M.MaxPool(2, 2),
                                    M.AvgPool(3), M.MaxPool(3, 2)], ids=str)
def test_the_cost_model_keeps_the_padded_input(module):
    """What the cost model counts for a pool is what torch saves: the input, or for an even
    kernel the padded copy the pool runs on (and max pooling's indices)."""
    layers = torch.nn.Sequential(torch.nn.Conv2d(3, 3, 1, bias=False), build_layer(module))
    x = torch.randn(2, 3, 6, 6, requires_grad=True)
    measured = saved_bytes(lambda: layers(x), exclude=layers)
    chain = Seq((Apply(M.Conv(3, 3, 1), 0, 0), Apply(module, 0, 1)))
    assert estimate(chain, 3, Setting(batch=2, size=6)).saved_bytes == measured
