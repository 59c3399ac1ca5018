"""Macro spaces in torch: a layer's residual, MobileNetV2 exactly, supernets of searchable
layers naive and simplified."""

import torch

from nasdsl.architecture.derive import derived_space
from nasdsl.architecture.layers import from_layers
from nasdsl.backends.torch.contract import Run
from nasdsl.backends.torch.derived import DerivedNetwork
from nasdsl.backends.torch.network import BuildOptions, Supernet
from nasdsl.dsl.elaborate import load
from tests.backends.test_network import assert_equal_at_one_hot_architectures, naive_and_simplified
from tests.dsl.test_macro_layers import macro
from tests.paths import SPACES


def mobilenetv2_arch(space, op: str):
    return from_layers(" ".join(f"{kind.name}={op}" for kind in space.cell_kinds if kind.edges),
                       space)


def test_k3_e6_everywhere_is_mobilenetv2():
    """The all-k3_e6 architecture of mobilenetv2.nas at width 1.0 and 1000 classes has
    torchvision's MobileNetV2 parameter count, 3,504,872, and gives 1000 scores at 224x224."""
    space = load(SPACES / "mobilenetv2.nas")
    net = DerivedNetwork(derived_space(space, mobilenetv2_arch(space, "k3_e6"), phase="eval"))
    assert sum(p.numel() for p in net.parameters()) == 3_504_872
    net.eval()
    with torch.no_grad():
        assert net(torch.randn(1, 3, 224, 224)).shape == (1, 1000)


def test_a_residual_layer_adds_its_input():
    """A residual layer whose choice is the zero op passes its input on unchanged, and one
    with a conv adds the conv's output to its input."""
    space = macro()
    net = Supernet(space, BuildOptions(simplify=False, dtype=torch.float64))
    cells = [stage for stage in net.stages if hasattr(stage, "kind")]
    second = cells[1]
    assert second.kind.residual
    x = torch.randn(2, 16, 8, 8, dtype=torch.float64)
    zero_only = Run({"a_2": torch.tensor([[0.0, 0.0, 1.0]], dtype=torch.float64)})
    assert torch.equal(second([x], zero_only.cell(1, "a_2")), x)
    conv_only = Run({"a_2": torch.tensor([[1.0, 0.0, 0.0]], dtype=torch.float64)})
    branch = second.edges[0].ops[0](x)
    torch.testing.assert_close(second([x], conv_only.cell(1, "a_2")), x + branch)


def test_every_layer_has_its_own_architecture_parameters():
    """Each searchable layer is a view of its own, with a row of its candidates."""
    net = Supernet(macro())
    assert sorted(net.views) == ["a_1", "a_2", "b_1", "b_2", "b_3"]
    assert [tuple(net.views[name]["alpha"].shape) for name in ("a_1", "b_1")] == [(1, 2), (1, 3)]


def test_simplified_macro_supernet_equals_the_naive_one_at_one_hot_architectures():
    """Vertex exactness on the macro space (mobilenetv2 at width 1/8, 32x32; the head's
    dropout, which draws differently in the two, in eval mode)."""
    space = load(SPACES / "mobilenetv2.nas", overrides={"unit": 1, "size": 32, "classes": 10})
    torch.manual_seed(0)
    naive, simple = naive_and_simplified(space)
    for layer in (*naive.modules(), *simple.modules()):
        if isinstance(layer, torch.nn.Dropout):
            layer.eval()
    x = torch.randn(2, 3, 32, 32, dtype=torch.float64)
    assert_equal_at_one_hot_architectures(naive, simple, x, seed=1)
