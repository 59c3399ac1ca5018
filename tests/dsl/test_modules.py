"""Basic modules: interning and the facts the simplifier relies on."""

import pickle

from nasdsl.dsl.modules import (AvgPool, BatchNorm, Conv, FactorizedReduce, GlobalAvgPool,
                                Identity, Linear, MaxPool, ReLU, ResNetBlock, Zero, is_zero_chain)


def test_equal_attributes_give_the_same_object():
    """Interning: building a module twice with equal attributes returns one object."""
    assert Conv(16, 16, 3, dilation=2, groups=16) is Conv(16, 16, 3, dilation=2, groups=16)
    assert Conv(16, 16, 3) is not Conv(16, 16, 5)
    assert BatchNorm(8, affine=False) is BatchNorm(8, False, True)


def test_interning_survives_pickling():
    """A module read back from a pickle (a checkpoint) is the interned one."""
    module = AvgPool(3, 2, count_include_pad=False)
    assert pickle.loads(pickle.dumps(module)) is module


def test_modules_are_immutable():
    """Modules are frozen: an attribute cannot be changed after building."""
    conv = Conv(4, 4, 3)
    try:
        conv.kernel = 5
    except AttributeError:
        return
    raise AssertionError("a module attribute could be assigned")


def test_linearity_facts():
    """Convs, identity, zero and average pooling are linear; ReLU, max pool and BN in
    training mode are not."""
    assert all(m.linear for m in (Conv(4, 4, 3), Identity(), Zero(), AvgPool(3)))
    assert not any(m.linear for m in (ReLU(), MaxPool(3), BatchNorm(4)))


def test_kernel_expressibility():
    """Average pooling is a convolution only when it counts the padding."""
    assert AvgPool(3, count_include_pad=True).kernel_expressible
    assert not AvgPool(3, count_include_pad=False).kernel_expressible
    assert Conv(4, 4, 5, dilation=2).kernel_expressible
    assert not MaxPool(3).kernel_expressible


def test_parameter_and_statistics_facts():
    """Parameters and running statistics follow the BN settings."""
    assert not BatchNorm(4, affine=False).has_params
    assert BatchNorm(4, affine=True).has_params
    assert not BatchNorm(4, track_running_stats=False).keeps_running_stats
    assert FactorizedReduce(4, 4, affine=False).has_params  # its convs
    assert BatchNorm(4).batch_dependent and not Conv(4, 4, 1).batch_dependent


def test_kernel_geometry():
    """A dilated conv equals a dense kernel of extent d(k-1)+1; depthwise is recognised."""
    assert Conv(8, 8, 5, dilation=2).extent == 9
    assert Conv(8, 8, 3, groups=8).depthwise
    assert not Conv(8, 8, 3).depthwise


def test_strides_and_sizes():
    """Stride-2 modules halve the resolution (rounding up, 'same' padding)."""
    assert FactorizedReduce(4, 4).stride == 2
    assert Zero(2).out_size(7) == 4
    assert Conv(4, 4, 3, stride=2).out_size(32) == 16
    assert Identity().out_size(32) == 32


def test_zero_maps_facts():
    """A bias, an affine BN (its beta) and a linear layer move zero; the rest keep it."""
    keep = (ReLU(), Identity(), Zero(), Conv(4, 4, 1), BatchNorm(4, affine=False), AvgPool(3),
            MaxPool(3), FactorizedReduce(4, 4, affine=False), GlobalAvgPool())
    move = (Conv(4, 4, 1, bias=True), BatchNorm(4, affine=True), FactorizedReduce(4, 4),
            ResNetBlock(4, 4), Linear(4, 10))
    assert all(m.maps_zero_to_zero for m in keep)
    assert not any(m.maps_zero_to_zero for m in move)


def test_a_chain_is_zero_only_if_what_follows_its_zero_keeps_zero():
    """zero -> conv(bias) outputs the bias and zero -> affine bn outputs beta: not zero
    chains; a ReLU before the zero, or a bias-free conv after it, changes nothing."""
    assert is_zero_chain((Zero(),))
    assert is_zero_chain((ReLU(), Conv(4, 4, 3, bias=True), Zero(), Conv(4, 4, 1)))
    assert is_zero_chain((Zero(), Conv(4, 4, 1, bias=True), Zero()))
    assert not is_zero_chain((Zero(), Conv(4, 4, 1, bias=True)))
    assert not is_zero_chain((Zero(), BatchNorm(4, affine=True)))
    assert not is_zero_chain((ReLU(), Conv(4, 4, 1)))
