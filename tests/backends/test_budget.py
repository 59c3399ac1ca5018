"""Supernets fitted into a memory budget: recomputed cells compute what kept ones do, the
measured activation memory stays within the budget, and the parameters are the naive
supernet's."""

import pytest
import torch
import torch.nn.functional as F

from nasdsl.backends.torch.budget import recomputation_peak
from nasdsl.backends.torch.contract import Run, softmax_weights
from nasdsl.backends.torch.measure import saved_bytes
from nasdsl.backends.torch.network import BuildOptions, Supernet
from nasdsl.dsl.elaborate import load
from nasdsl.simplify.cost import Setting
from tests.paths import SPACES


def step(net: Supernet, x: torch.Tensor, y: torch.Tensor):
    """One forward and backward at softmax weights; the gradients by parameter name."""
    net.zero_grad(set_to_none=True)
    logits = net(x, Run(softmax_weights(net.views)))
    F.cross_entropy(logits, y).backward()
    return logits.detach(), {n: p.grad.clone() for n, p in net.named_parameters()
                             if p.grad is not None}


def test_recomputed_cells_compute_what_kept_ones_do():
    """With every cell recomputed in backward, outputs, gradients of weights and
    architecture parameters, and batch norm's running statistics equal the plain supernet's
    (float64): recomputation moves no running statistic a second time."""
    space = load(SPACES / "darts.nas", overrides={"C": 4, "N": 1})
    torch.manual_seed(0)
    plain = Supernet(space, BuildOptions(dtype=torch.float64))
    again = Supernet(space, BuildOptions(dtype=torch.float64))
    again.load_state_dict(plain.state_dict())
    again.recomputed = frozenset(i for i, stage in enumerate(space.network.stages)
                                 if getattr(stage, "edges", ()))
    assert again.recomputed
    x, y = torch.randn(4, 3, 32, 32, dtype=torch.float64), torch.randint(10, (4,))
    (out_a, grads_a), (out_b, grads_b) = step(plain, x, y), step(again, x, y)
    torch.testing.assert_close(out_b, out_a, rtol=0, atol=1e-12)
    assert grads_a.keys() == grads_b.keys()
    for name in grads_a:
        torch.testing.assert_close(grads_b[name], grads_a[name], rtol=1e-9, atol=1e-12)
    for (name, a), (_, b) in zip(plain.named_buffers(), again.named_buffers()):
        torch.testing.assert_close(b, a, rtol=0, atol=0, msg=name)


def measured(net: Supernet, network, batch: int) -> int:
    """A training step's peak activation bytes: saved for backward, plus the largest
    recomputed cell's insides brought back in its backward."""
    size = network.input_size
    x = torch.randn(batch, network.input_channels, size, size)
    y = torch.randint(network.classes, (batch,))
    run = Run(softmax_weights(net.views))
    kept = saved_bytes(lambda: F.cross_entropy(net(x, run), y).backward(), exclude=net)
    return kept + recomputation_peak(net, lambda: net(x, run))


def budgets_respected(name: str, batch: int, overrides: dict):
    space = load(SPACES / f"{name}.nas", overrides=overrides)
    torch.manual_seed(0)
    naive = Supernet(space, BuildOptions(simplify=False, setting=Setting(batch=batch)))
    full = measured(naive, space.network, batch)
    for fraction in (0.7, 0.4):
        budget = int(fraction * full)
        net = Supernet(space, BuildOptions(setting=Setting(batch=batch), memory_budget=budget))
        assert net.state_dict().keys() == naive.state_dict().keys()
        assert measured(net, space.network, batch) <= budget, (name, fraction, net.budget_note)


@pytest.mark.parametrize("name, batch, overrides", [
    ("nb201", 8, {"C": 8, "N": 2}),
    ("darts", 4, {"C": 8, "N": 1}),
])
def test_measured_activation_memory_fits_two_budgets(name, batch, overrides):
    """At 70% and 40% of the naive supernet's measured activation memory, the fitted
    supernet's measured peak (saved bytes plus recomputation's) is within the budget, and it
    has the naive supernet's parameters."""
    budgets_respected(name, batch, overrides)


@pytest.mark.slow
@pytest.mark.parametrize("name, batch, overrides", [
    ("nb201", 16, {}),
    ("darts", 8, {}),
    ("mobilenetv2", 8, {"unit": 1}),
    ("nb101", 8, {"C": 8}),
])
def test_measured_activation_memory_fits_two_budgets_full_size(name, batch, overrides):
    """As the quick test, on the shipped spaces at their own sizes (and a macro space and a
    node-ops cell)."""
    budgets_respected(name, batch, overrides)
