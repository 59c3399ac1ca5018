"""`in` and `out` in a chain: the channels that enter its place and that it must produce,
evaluated where the op is placed (per cell width, and at 1/K under partial channels)."""

import pytest
import torch

from nasdsl.backends.torch.contract import Run, softmax_weights
from nasdsl.backends.torch.network import BuildOptions, Supernet
from nasdsl.dsl import modules as M
from nasdsl.dsl.elaborate import load, narrowed
from nasdsl.errors import NasErrors
from tests.paths import SPACES

INVERTED = ("conv(kernel=1, out=3 * in) -> relu6 -> conv(kernel=3, depthwise=true) -> relu6 "
            "-> conv(kernel=1)")


def space_with(tmp_path, op: str, before: str = ""):
    text = (SPACES / "nb201.nas").read_text().replace(
        "op none = zero\n", f"{before}op none = zero\nop extra = {op}\n").replace(
        "candidates none,", "candidates none, extra,")
    path = tmp_path / "space.nas"
    path.write_text(text)
    return load(path, overrides={"C": 8, "N": 1})


def extra_ops(space):
    return [cell.edges[0].candidates[1].modules for cell in space.network.cells]


def expansion(channels: int, wide: int, bias: bool = True):
    return (M.Conv(channels, wide, 1, bias=bias), M.ReLU6(),
            M.Conv(wide, wide, 3, groups=wide, bias=bias), M.ReLU6(),
            M.Conv(wide, channels, 1, bias=bias))


def test_an_expansion_follows_each_cells_width(tmp_path):
    """conv(out=3 * in) expands the 8, 16 and 32 channels of NB201's three stages 3 times
    (nb201's search convs have a bias)."""
    ops = extra_ops(space_with(tmp_path, INVERTED))
    assert ops[0] == expansion(8, 24) and ops[-1] == expansion(32, 96)


def test_partial_channels_scale_an_expansion(tmp_path):
    """Under partial channels (K=2) an edge's op sees C/2 channels, and expands those."""
    space = space_with(tmp_path, INVERTED)
    assert extra_ops(narrowed(space, 2))[0] == expansion(4, 12)
    net = Supernet(space, BuildOptions(partial_channels=2))
    assert net(torch.randn(2, 3, 16, 16), Run(softmax_weights(net.views))).shape == (2, 10)


def test_a_chain_sees_the_channels_of_the_place_it_is_called_from(tmp_path):
    """A chain called by an op reads its place's `in`; a parameter named `in` hides it."""
    chains = ("chain inverted(e) = conv(kernel=1, out=e * in) -> conv(kernel=1)\n"
              "chain hidden(in) = conv(kernel=1, out=2 * in) -> conv(kernel=1)\n")
    ops = extra_ops(space_with(tmp_path, "inverted(e=2)", chains))
    assert ops[0] == (M.Conv(8, 16, 1, bias=True), M.Conv(16, 8, 1, bias=True))
    ops = extra_ops(space_with(tmp_path, "hidden(in=5)", chains))
    assert ops[0] == (M.Conv(8, 10, 1, bias=True), M.Conv(10, 8, 1, bias=True))


def test_an_op_must_give_back_its_edges_channels(tmp_path):
    """An expansion that is not projected back is a located error naming both counts."""
    with pytest.raises(NasErrors, match="op 'extra' turns 8 channels into 16"):
        space_with(tmp_path, "conv(kernel=1, out=2 * in)")


def test_the_stem_reads_the_images_channels(tmp_path):
    """In the stem `in` is the image's channels: conv(out=16 * in) on RGB makes 48."""
    text = (SPACES / "nb201.nas").read_text()
    path = tmp_path / "stem.nas"
    path.write_text(text.replace("stem conv(kernel=3, out=C)", "stem conv(kernel=3, out=16 * in)"))
    space = load(path, overrides={"C": 48})
    assert space.network.stages[0].modules[0].c_out == 48
