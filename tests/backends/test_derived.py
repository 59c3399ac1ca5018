"""Derived architectures built as stand-alone evaluation networks."""

import pytest
import torch

from nasdsl.architecture.derive import derived_space, derived_text, from_genotype, from_nb201
from nasdsl.backends.torch.cells import CellBase
from nasdsl.backends.torch.derived import DerivedNetwork
from nasdsl.dsl.elaborate import load
from nasdsl.errors import NasError
from tests.paths import SPACES

DARTS_V2 = ("Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), "
            "('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), "
            "('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), "
            "('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), "
            "('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], "
            "reduce_concat=[2, 3, 4, 5])")


def darts_v2(tmp_path, **overrides):
    space = load(SPACES / "darts.nas")
    path = tmp_path / "darts_v2.nas"
    path.write_text(derived_text(space, from_genotype(DARTS_V2, space)))
    return load(path, phase="eval", overrides=overrides)


def count(parameters) -> int:
    return sum(p.numel() for p in parameters if p.requires_grad)


def test_darts_v2_evaluation_network_has_the_reference_size(tmp_path):
    """DARTS V2 at C=36 with 20 cells: 3,349,342 weights as the reference NetworkCIFAR, and
    476,426 in its auxiliary head."""
    net = DerivedNetwork(darts_v2(tmp_path, C=36, N=6), auxiliary=True)
    assert len([s for s in net.body.stages if isinstance(s, CellBase)]) == 20
    aux = count(net.auxiliary.parameters())
    assert (count(net.parameters()) - aux, aux) == (3_349_342, 476_426)


def test_auxiliary_logits_in_training_only(tmp_path):
    """With the auxiliary head, training returns (logits, auxiliary logits); eval returns
    the logits alone."""
    net = DerivedNetwork(darts_v2(tmp_path, C=4), auxiliary=True)
    x = torch.randn(2, 3, 32, 32)
    logits, aux = net.train()(x)
    assert logits.shape == aux.shape == (2, 10)
    assert net.eval()(x).shape == (2, 10)


def test_drop_path_is_random_in_training_and_off_in_eval(tmp_path):
    """Drop path makes two training passes differ and leaves eval deterministic."""
    net = DerivedNetwork(darts_v2(tmp_path, C=4), drop_path=0.5)
    x = torch.randn(4, 3, 32, 32)
    torch.manual_seed(0)
    net.train()
    assert not torch.equal(net(x), net(x))
    net.eval()
    assert torch.equal(net(x), net(x))


def test_nb201_tiny_network(tmp_path):
    """An NB201 arch string builds the benchmark's TinyNetwork: affine BN, no conv bias."""
    space = load(SPACES / "nb201.nas")
    path = tmp_path / "arch.nas"
    path.write_text(derived_text(space, from_nb201(
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|"
        "skip_connect~2|")))
    net = DerivedNetwork(load(path, phase="eval"))
    assert count(net.parameters()) == 802_426  # params_mb 0.802426 in the benchmark
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_a_supernet_space_is_not_a_derived_network():
    """Building an evaluation network from a space with several ops per edge is refused."""
    with pytest.raises(ValueError, match="not derived"):
        DerivedNetwork(load(SPACES / "nb201.nas", phase="eval"))


def test_a_node_may_take_two_ops_from_one_input():
    """NASNet's and AmoebaNet's cells take two ops from the same input: DARTS V2 with node 2
    taking both of its sep_conv_3x3 from input 0 builds two parallel edges, with the
    reference size (the same ops at the same channels as DARTS V2's)."""
    space = load(SPACES / "darts.nas")
    genotype = DARTS_V2.replace("normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1)",
                                "normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 0)")
    derived = derived_space(space, from_genotype(genotype, space), "the genotype",
                            phase="eval", overrides={"C": 36, "N": 6})
    normal = next(kind for kind in derived.cell_kinds if not kind.reduction)
    assert normal.fixed_into(2) == [(0, 2, "sep_conv_3x3"), (0, 2, "sep_conv_3x3")]
    assert count(DerivedNetwork(derived).parameters()) == 3_349_342


@pytest.mark.parametrize(("change", "message"), [
    (("('dil_conv_3x3', 2)", "('dil_conv_9x9', 2)"),
     "the genotype gives node 5 of cell 'normal' the op 'dil_conv_9x9', which "),
    (("('dil_conv_3x3', 2)", "('dil_conv_3x3', 7)"),
     "the genotype gives node 5 of cell 'normal' an input from node 7"),
])
def test_a_genotype_that_does_not_fit_speaks_of_the_genotype(change, message):
    """A genotype with an op the space does not define or an input that is not an earlier
    node is reported as a fault of the genotype, not of generated text."""
    space = load(SPACES / "darts.nas")
    with pytest.raises(NasError) as caught:
        from_genotype(DARTS_V2.replace(*change), space)
    assert caught.value.render().startswith(f"error: {message}")
