"""Per-axis strides and listed concatenations in torch: what the reference layers compute."""

import torch
from torch import nn

from nasdsl.architecture.evaluation import evaluation_space
from nasdsl.backends.torch.derived import DerivedNetwork
from nasdsl.backends.torch.layers import build_layer
from nasdsl.dsl import modules as M

GENOTYPE = ("Genotype(normal=[('conv_7x1_1x7', 0), ('sep_conv_3x3', 1), ('skip_connect', 2), "
            "('avg_pool_3x3', 1)], normal_concat={concat}, reduce=[('conv_7x1_1x7', 0), "
            "('conv_7x1_1x7', 1), ('sep_conv_7x7', 2), ('max_pool_3x3', 0)], "
            "reduce_concat=[2, 3])")


def test_a_per_axis_conv_is_torchs_conv_of_that_stride():
    """conv(kernel=1x7, stride=1x2) is nn.Conv2d((1, 7), stride=(1, 2), padding=(0, 3)):
    the width halved (rounded up), the height kept."""
    module = M.Conv(3, 5, M.KernelSize(1, 7), M.KernelSize(1, 2))
    layer = build_layer(module)
    reference = nn.Conv2d(3, 5, (1, 7), stride=(1, 2), padding=(0, 3), bias=False)
    reference.weight.data.copy_(layer.weight.data)
    x = torch.randn(2, 3, 9, 9)
    out = layer(x)
    assert out.shape == (2, 5, 9, 5) and module.out_shape(9, 9) == (9, 5)
    torch.testing.assert_close(out, reference(x))


def test_the_stride_2_conv_7x1_1x7_is_the_references():
    """The shipped conv_7x1_1x7 on a reduction edge (two cells: both reductions) computes
    the reference's ReLU, conv (1, 7) stride (1, 2), conv (7, 1) stride (2, 1), BN, on an
    odd size too."""
    space = evaluation_space(GENOTYPE.format(concat="[2, 3]"), channels=4, cells=2)
    reduce_cell = DerivedNetwork(space).body.stages[1]
    op = reduce_cell.fixed[0]
    reference = nn.Sequential(
        nn.ReLU(), nn.Conv2d(8, 8, (1, 7), stride=(1, 2), padding=(0, 3), bias=False),
        nn.Conv2d(8, 8, (7, 1), stride=(2, 1), padding=(3, 0), bias=False), nn.BatchNorm2d(8))
    reference.load_state_dict(op.state_dict())
    x = torch.randn(2, 8, 7, 7)
    torch.testing.assert_close(op(x), reference(x))
    assert op(x).shape == (2, 8, 4, 4)


def test_a_listed_concatenation_joins_the_nodes_in_its_order():
    """A normal cell concatenating nodes 3, 2 gives the blocks of one concatenating 2, 3
    swapped, with the same weights."""
    outputs = []
    for concat in ("[2, 3]", "[3, 2]"):
        torch.manual_seed(0)
        net = DerivedNetwork(evaluation_space(GENOTYPE.format(concat=concat), channels=4,
                                              cells=3)).eval()
        first_cell = net.body.stages[1]
        stem = torch.randn(2, 12, 8, 8)
        outputs.append(first_cell([stem, stem]))
    ordered, swapped = outputs
    torch.testing.assert_close(swapped, torch.cat([ordered[:, 4:], ordered[:, :4]], dim=1))


def test_nodes_left_out_of_the_concatenation_still_count_their_weights():
    """A node the concatenation leaves out still has its edges' weights, as in the
    reference cell (which builds every op of its genotype)."""
    spaces = [evaluation_space(GENOTYPE.format(concat=concat), channels=4, cells=3)
              for concat in ("[2, 3]", "[3]")]
    counts = [sum(p.numel() for p in DerivedNetwork(space).body.stages[1].parameters())
              for space in spaces]
    assert counts[0] == counts[1] > 0
    assert [space.network.cells[0].out_channels for space in spaces] == [8, 4]
