"""Measurement helpers on tiny modules whose figures are computed by hand, and the cost
model against measurement on the shipped spaces' edges."""

import pytest
import torch
from torch import nn

from nasdsl.backends.torch.edge import PlanEdge
from nasdsl.backends.torch.layers import FactorizedReduce
from nasdsl.backends.torch.measure import flops, parameter_count, saved_bytes
from nasdsl.dsl import modules as M
from nasdsl.dsl.elaborate import load
from nasdsl.simplify.compiler import alternatives
from nasdsl.simplify.cost import Setting, estimate, plan_cost
from nasdsl.simplify.explain import edge_kinds
from nasdsl.simplify.plan import Apply
from tests.paths import SPACES


def test_saved_bytes_of_conv_relu_by_hand():
    """conv keeps its input (2*3*4*4 floats), ReLU its output (2*5*4*4 floats); the conv's
    weight is a parameter, not an activation."""
    model = nn.Sequential(nn.Conv2d(3, 5, 3, padding=1, bias=False), nn.ReLU())
    x = torch.randn(2, 3, 4, 4)
    assert saved_bytes(lambda: model(x), exclude=model) == 4 * (2 * 3 * 16 + 2 * 5 * 16)


def test_saved_bytes_count_a_shared_tensor_once():
    """Two layers keeping the same tensor count it once (deduplicated by storage)."""
    relu, conv_a, conv_b = nn.ReLU(), nn.Conv2d(2, 2, 1, bias=False), nn.Conv2d(2, 2, 1, bias=False)
    x = torch.randn(1, 2, 3, 3)
    model = nn.ModuleList([conv_a, conv_b])

    def forward():
        hidden = relu(x)
        return conv_a(hidden) + conv_b(hidden)
    assert saved_bytes(forward, exclude=model) == 4 * 18  # relu's output, kept by all three


def test_flops_of_conv_forward_and_backward_by_hand():
    """A 3x3 conv, 4 -> 8 channels, on 1x4x5x5: 2*8*4*9*25 FLOPs forward; backward counts the
    input gradient and the weight gradient as much again each."""
    conv = nn.Conv2d(4, 8, 3, padding=1, bias=False)
    x = torch.randn(1, 4, 5, 5, requires_grad=True)
    forward = 2 * 8 * 4 * 9 * 25
    assert flops(lambda: conv(x).sum().backward()) == 3 * forward
    assert parameter_count(conv) == 8 * 4 * 9


@pytest.mark.parametrize("name", ["nb201", "darts"])
def test_cost_model_matches_measurement(name):
    """On every distinct edge and every plan the chooser considers, the model's saved bytes
    and FLOPs are within 10% of what torch measures."""
    space = load(SPACES / f"{name}.nas", overrides={"C": 8})
    for kind in edge_kinds(space):
        ops, site = kind.edges[0].candidates, kind.site
        for plan in alternatives(ops):
            edge = PlanEdge(ops, plan)
            x = torch.randn(2, site.channels, site.size, site.size, requires_grad=True)
            w = torch.softmax(torch.randn(len(ops)), 0).requires_grad_()
            model = plan_cost(plan, site.channels, Setting(batch=2, size=site.size))
            measured_bytes = saved_bytes(lambda: edge(x, w), exclude=edge)
            measured_flops = flops(lambda: edge(x, w).sum().backward())
            assert measured_bytes == pytest.approx(model.saved_bytes, rel=0.10)
            assert measured_flops == pytest.approx(model.flops, rel=0.10)


@pytest.mark.parametrize("size", [8, 7])
def test_factorized_reduce_keeps_what_the_reference_code_keeps(size):
    """DARTS's FactorizedReduce feeds its second conv a view of the ReLU's output, which
    saves no copy for backward: ours keeps the same bytes on even sizes, pads a copy only on
    odd ones, and the cost model counts both."""
    layer = FactorizedReduce(6, 8, affine=True, track_running_stats=True)
    x = torch.randn(2, 6, size, size, requires_grad=True)

    def reference():  # DARTS operations.py
        relu = layer.relu(x)
        return layer.bn(torch.cat([layer.convs[0](relu), layer.convs[1](relu[:, :, 1:, 1:])], 1))

    measured = saved_bytes(lambda: layer(x), exclude=layer)
    if size % 2 == 0:
        assert measured == saved_bytes(reference, exclude=layer)
    model = estimate(Apply(M.FactorizedReduce(6, 8), 0, 0), 6, Setting(batch=2, size=size))
    assert model.saved_bytes == pytest.approx(measured, rel=0.02)
