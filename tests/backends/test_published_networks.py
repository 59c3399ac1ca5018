"""Published cells in DARTS's evaluation networks: the reference code's sizes, and forwards.

The pinned counts are what the reference code builds (DARTS's cnn/model.py NetworkCIFAR at
C=36, 20 cells, 10 classes and NetworkImageNet at C=48, 14 cells, 1000 classes, with the
genotypes of DARTS's, PC-DARTS's and P-DARTS's genotypes.py), counted by running it: every
parameter, without and with its auxiliary head (AuxiliaryHeadCIFAR, AuxiliaryHeadImageNet).
"""

import pytest
import torch

from nasdsl.architecture.published import published_space
from nasdsl.backends.torch.derived import AuxiliaryHead, AuxiliaryHeadImageNet, DerivedNetwork

REFERENCE = {  # name: (CIFAR, CIFAR with auxiliary head, ImageNet, ImageNet with auxiliary head)
    "NASNet": (3_830_950, 4_288_944, 5_564_320, 6_800_520),
    "AmoebaNet": (3_145_078, 3_603_072, 4_627_360, 5_863_560),
    "DARTS_V1": (3_169_414, 3_645_840, 4_510_432, 5_771_208),
    "DARTS_V2": (3_349_342, 3_825_768, 4_718_752, 5_979_528),
    "PC_DARTS": (3_634_678, 4_111_104, 5_270_560, 6_531_336),
    "PDARTS": (3_433_798, 3_910_224, 4_944_352, 6_205_128),
}


def count(module) -> int:
    return sum(parameter.numel() for parameter in module.parameters())


@pytest.mark.parametrize("name", REFERENCE)
@pytest.mark.parametrize(("network", "column"), [("cifar", 0), ("imagenet", 2)])
def test_parameter_counts_equal_the_reference(name, network, column):
    """The evaluation network has the reference's weights, without and with its auxiliary
    head."""
    space = published_space(name, network)
    plain = DerivedNetwork(space)
    with_head = DerivedNetwork(space, auxiliary=True)
    assert (count(plain), count(with_head)) == REFERENCE[name][column:column + 2]


def test_each_setting_takes_its_own_auxiliary_head():
    """NetworkCIFAR's head pools 8x8 maps (stride 3, BN after its 2x2 conv); NetworkImageNet's
    pools 7x7 ones (stride 2, no BN there)."""
    cifar = DerivedNetwork(published_space("DARTS_V2", "cifar", channels=8), auxiliary=True)
    imagenet = DerivedNetwork(published_space("DARTS_V2", "imagenet", channels=8),
                              auxiliary=True)
    assert type(cifar.auxiliary) is AuxiliaryHead
    assert type(imagenet.auxiliary) is AuxiliaryHeadImageNet
    assert not any(isinstance(layer, torch.nn.BatchNorm2d)
                   for layer in imagenet.auxiliary.features[-2:])


@pytest.mark.parametrize("name", REFERENCE)
@pytest.mark.parametrize(("network", "size", "classes"), [("cifar", 32, 10),
                                                          ("imagenet", 224, 1000)])
def test_a_small_forward_gives_logits_and_auxiliary_logits(name, network, size, classes):
    """At a few channels, training gives (logits, auxiliary logits) of the classes and eval
    the logits, for a batch of two."""
    torch.manual_seed(0)
    net = DerivedNetwork(published_space(name, network, channels=4, cells=5), auxiliary=True)
    x = torch.randn(2, 3, size, size)
    logits, aux = net.train()(x)
    assert logits.shape == aux.shape == (2, classes)
    with torch.no_grad():
        assert net.eval()(x).shape == (2, classes)
