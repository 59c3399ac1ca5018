"""The elementwise modules (activations) declare the facts their torch layers have: what a
zero becomes, what torch keeps for backward, that each output element depends on its input
element only."""

import pytest
import torch

from nasdsl.backends.torch.contract import Run, softmax_weights
from nasdsl.backends.torch.layers import build_layer
from nasdsl.backends.torch.measure import saved_bytes
from nasdsl.backends.torch.network import Supernet
from nasdsl.dsl import modules as M
from nasdsl.dsl.elaborate import load
from nasdsl.simplify.cost import Setting, estimate
from nasdsl.simplify.plan import Apply, Seq
from tests.paths import SPACES
from tests.strategies import ACTIVATIONS

ELEMENTWISE = [*(kind() for kind in ACTIVATIONS), M.Dropout(0.25)]


@pytest.mark.parametrize("module", ELEMENTWISE, ids=str)
def test_maps_zero_to_zero_is_what_the_layer_does(module):
    """A zero input stays zero exactly where the module says it maps zero to zero."""
    layer = build_layer(module)
    zeros = torch.zeros(2, 3, 4, 4)
    for train in (True, False):
        layer.train(train)
        assert bool((layer(zeros) == 0).all()) == module.maps_zero_to_zero


@pytest.mark.parametrize("module", ELEMENTWISE, ids=str)
def test_the_cost_model_keeps_what_torch_keeps(module):
    """The bytes the cost model counts for an elementwise module are the bytes torch saves
    for its backward, after a layer that keeps its own input (so that keeping the input is
    seen)."""
    layers = torch.nn.Sequential(torch.nn.Conv2d(3, 3, 1, bias=False), build_layer(module))
    x = torch.randn(2, 3, 5, 5, requires_grad=True)
    measured = saved_bytes(lambda: layers(x), exclude=layers)
    chain = Seq((Apply(M.Conv(3, 3, 1), 0, 0), Apply(module, 0, 1)))
    model = estimate(chain, 3, Setting(batch=2, size=5))
    assert model.saved_bytes == measured


@pytest.mark.parametrize("module", ELEMENTWISE, ids=str)
def test_each_output_element_depends_on_its_input_element_only(module):
    """Permuting the input's elements permutes the output's alike, on maps and vectors (in
    eval mode for a module that draws random numbers)."""
    layer = build_layer(module).train(not module.random)
    for shape in ((2, 3, 4, 4), (2, 5)):
        x = 3 * torch.randn(shape)
        order = torch.randperm(x.numel())
        permuted = layer(x.flatten()[order].view(shape)).flatten()
        torch.testing.assert_close(permuted, layer(x).flatten()[order])


def test_activations_are_placed_from_a_space(tmp_path):
    """A .nas op chains the activations by name (`swish` is `silu`), and the supernet runs
    them."""
    text = (SPACES / "nb201.nas").read_text().replace(
        "op none = zero\n", "op none = zero\nop act = swish -> relu6 -> hswish -> gelu -> sigmoid\n"
    ).replace("candidates none,", "candidates none, act,")
    path = tmp_path / "act.nas"
    path.write_text(text)
    space = load(path, overrides={"C": 4, "N": 1})
    act = space.network.cells[0].edges[0].candidates[1]
    assert act.modules == (M.SiLU(), M.ReLU6(), M.HardSwish(), M.GELU(), M.Sigmoid())
    net = Supernet(space)
    assert net(torch.randn(2, 3, 8, 8), Run(softmax_weights(net.views))).shape == (2, 10)
