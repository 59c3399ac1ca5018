"""channel_shuffle: ShuffleNet's permutation as a module kind, its layer and its kernel."""

import pytest
import torch

from nasdsl.backends.torch.kernels import chain_kernel
from nasdsl.backends.torch.layers import build_layer
from nasdsl.dsl import modules as M
from nasdsl.errors import NasErrors
from tests.dsl.test_place_channels import space_with


def test_the_layer_interleaves_the_groups():
    """Channels 0..5 in 2 groups come out as 0, 3, 1, 4, 2, 5."""
    layer = build_layer(M.ChannelShuffle(6, 2))
    x = torch.arange(6.0).view(1, 6, 1, 1)
    assert layer(x).flatten().tolist() == [0, 3, 1, 4, 2, 5]


def test_its_kernel_is_the_layer():
    """A permutation is linear: its 1x1 kernel as a convolution gives what the layer gives,
    alone and after a group conv (FBNet's g2 blocks)."""
    modules = [M.Conv(6, 6, 1, groups=2), M.ChannelShuffle(6, 3)]
    layers = [build_layer(m).double() for m in modules]
    x = torch.randn(2, 6, 4, 4, dtype=torch.float64)
    kernel, bias = chain_kernel(modules, layers, 6, x)
    assert bias is None and kernel.shape == (6, 6, 1, 1)
    expected = layers[1](layers[0](x))
    torch.testing.assert_close(torch.nn.functional.conv2d(x, kernel), expected)
    shuffle = M.ChannelShuffle(6, 3)
    assert shuffle.linear and shuffle.kernel_expressible and shuffle.maps_zero_to_zero
    assert not shuffle.has_params


def test_groups_that_do_not_divide_the_channels_are_a_located_error(tmp_path):
    """channel_shuffle(groups=3) at 8 channels is an error at the attribute."""
    with pytest.raises(NasErrors) as caught:
        space_with(tmp_path, "channel_shuffle(groups=3)")
    assert any("3 groups do not divide 8 channels" in error.message
               for error in caught.value.errors)
