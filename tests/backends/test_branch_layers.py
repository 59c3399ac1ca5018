"""Groups of branches on torch: the layers compute what the written torch computes, the cost
model keeps what torch keeps, and a residual of kernels merges into one convolution."""

import pytest
import torch
import torch.nn.functional as F

from nasdsl.backends.torch.edge import NaiveEdge, PlanEdge
from nasdsl.backends.torch.layers import build_layer
from nasdsl.backends.torch.measure import saved_bytes
from nasdsl.dsl import modules as M
from nasdsl.dsl.space import Op
from nasdsl.simplify.compiler import simplify
from nasdsl.simplify.cost import Setting, estimate
from nasdsl.simplify.plan import Apply, Merged, Seq, walk
from nasdsl.simplify.rewrites import RULE_NAMES, Options

C = 4
RESIDUAL = M.Branches("sum", ((M.Identity(),), (M.Conv(C, C, 3), M.BatchNorm(C))), C, C)
SE = M.Branches("product", ((M.Identity(),), (M.GlobalAvgPool(), M.Linear(C, 2), M.ReLU(),
                                              M.Linear(2, C), M.Sigmoid())), C, C)
CONCAT = M.Branches("concat", ((M.Conv(C, 2, 1),), (M.MaxPool(3), M.Conv(C, 3, 1))), C, 5)


def test_layers_compute_the_written_torch():
    """x + bn(conv(x)), x * sigmoid(fc(relu(fc(pool(x))))) and cat(conv(x), conv(pool(x)))."""
    x = torch.randn(2, C, 5, 5)
    residual = build_layer(RESIDUAL)
    conv, bn = residual.branches[1]
    torch.testing.assert_close(residual(x), x + bn(conv(x)))
    se = build_layer(SE)
    _, fc1, _, fc2, _ = se.branches[1]
    gate = torch.sigmoid(fc2(torch.relu(fc1(x.mean((2, 3))))))
    torch.testing.assert_close(se(x), x * gate[:, :, None, None])
    concat = build_layer(CONCAT)
    (a,), (_, b) = concat.branches
    expected = torch.cat([a(x), b(F.max_pool2d(x, 3, 1, 1))], 1)
    torch.testing.assert_close(concat(x), expected)
    assert concat(x).shape == (2, 5, 5, 5)


def test_a_product_of_vectors_stays_vectors():
    """(identity * sigmoid) in a head, after the pooling, gives vectors the next linear takes."""
    gate = build_layer(M.Branches("product", ((M.Identity(),), (M.Sigmoid(),)), C, C))
    v = torch.randn(2, C)
    torch.testing.assert_close(gate(v), v * torch.sigmoid(v))


@pytest.mark.parametrize("module", [
    M.Branches("sum", ((M.Identity(),), (M.Conv(C, C, 3), M.ReLU())), C, C), SE, CONCAT],
    ids=lambda m: m.combine)
def test_the_cost_model_keeps_what_torch_keeps(module):
    """The bytes modelled for a group after a conv are those torch saves for backward (a
    residual without BN: the model leaves out BN's per-channel statistics)."""
    layers = torch.nn.Sequential(torch.nn.Conv2d(C, C, 1, bias=False), build_layer(module))
    x = torch.randn(2, C, 5, 5, requires_grad=True)
    measured = saved_bytes(lambda: layers(x), exclude=layers)
    chain = Seq((Apply(M.Conv(C, C, 1), 0, 0), Apply(module, 0, 1)))
    assert estimate(chain, C, Setting(batch=2, size=5)).saved_bytes == measured


def test_a_residual_of_kernels_merges_into_one_conv():
    """(identity + conv3x3), conv1x1 and (identity + avg_pool) mix into one merged 3x3
    convolution (RepVGG by reparameterization), equal to the naive mix everywhere on the
    simplex, outputs and gradients, float64."""
    ops = (Op("rep", (M.Branches("sum", ((M.Identity(),), (M.Conv(C, C, 3),)), C, C),)),
           Op("conv", (M.Conv(C, C, 1),)),
           Op("pool", (M.Branches("sum", ((M.Identity(),), (M.AvgPool(3),)), C, C),)))
    plan = simplify(ops, frozenset(RULE_NAMES), Options())
    assert isinstance(plan.root, Merged) and plan.root.extent == 3 and plan.exact
    torch.manual_seed(0)
    naive = NaiveEdge(ops).double()
    planned = PlanEdge(ops, plan).double()
    planned.load_state_dict(naive.state_dict())
    x = torch.randn(2, C, 6, 6, dtype=torch.float64)
    for weights in (*torch.eye(3, dtype=torch.float64), torch.tensor([0.2, 0.5, 0.3],
                                                                      dtype=torch.float64)):
        weights.requires_grad_(True)
        expected, got = naive(x, weights), planned(x, weights)
        torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-9)
        grads = [torch.autograd.grad(out.square().sum(), [weights, *net.parameters()])
                 for out, net in ((expected, naive), (got, planned))]
        for a, b in zip(*grads):
            torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9)


def test_groups_with_parameters_are_not_shared():
    """Two candidates with the same residual (it holds a conv) keep their own weights; the
    same parameter-free group is computed once."""
    free = M.Branches("sum", ((M.Identity(),), (M.MaxPool(3),)), C, C)
    ops = (Op("a", (RESIDUAL, M.ReLU())), Op("b", (RESIDUAL, M.Conv(C, C, 1))),
           Op("c", (free, M.Conv(C, C, 1))), Op("d", (free, M.Conv(C, C, 3))))
    plan = simplify(ops, frozenset(RULE_NAMES), Options())
    shared = [node.module for node in walk(plan.root) if isinstance(node, Apply) and
              node.shared_by]
    assert shared == [free]


def test_module_counts_look_inside_groups():
    """Table 2's counts take a group's modules: a residual of conv -> bn counts one conv and
    one non-conv (the identity counts nothing), an SE block five non-convs (its pool, linears,
    ReLU and sigmoid)."""
    from nasdsl.simplify.compiler import count_modules
    assert count_modules(Apply(RESIDUAL, 0, 0)) == count_modules(
        Seq((Apply(M.Conv(C, C, 3), 0, 0), Apply(M.BatchNorm(C), 0, 1))))
    counted = count_modules(Apply(SE, 0, 0))
    assert (counted.conv, counted.other) == (0, 5)
