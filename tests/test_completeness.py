"""Every extension point is complete: each module kind has its torch layer, its cost and,
where it claims to be a convolution, its kernel; each registered method is documented."""

import pytest
import torch

from nasdsl.backends.torch.kernels import dense_kernel
from nasdsl.backends.torch.layers import build_layer
from nasdsl.dsl.modules import KINDS, MAPS, REQUIRED, VECTORS, KernelSize, Placement
from nasdsl.methods import method_names
from nasdsl.simplify.cost import Setting, estimate
from nasdsl.simplify.plan import Apply
from tests.paths import ROOT

# A value for each required attribute, by type.
SAMPLES = {int: 3, bool: False, float: 0.25, KernelSize: KernelSize(1, 3)}
NAMED = {"groups": 2}  # ... and by name, where the type's would not fit 4 channels


def instances(kind):
    """The module kind built with its defaults, and with each boolean attribute flipped."""
    values = {name: NAMED.get(name, SAMPLES[attr.type]) if attr.default is REQUIRED else
              (attr.default(Placement(4, 4)) if callable(attr.default) else attr.default)
              for name, attr in kind.attributes.items()}
    if "out" in values and values["out"] is None:
        values["out"] = 4
    built = [kind.build(values, Placement(4, 4))]
    for name, attr in kind.attributes.items():
        if attr.type is bool and name != "depthwise":
            built.append(kind.build({**values, name: not values[name]}, Placement(4, 4)))
    return built


@pytest.mark.parametrize("name", sorted(KINDS))
def test_every_module_kind_builds_runs_and_is_costed(name):
    """Each kind has a torch layer that runs on the form of tensor it accepts, and a cost."""
    for module in instances(KINDS[name]):
        layer = build_layer(module)
        x = torch.randn(2, 4, 6, 6) if MAPS in module.accepts else torch.randn(2, 4)
        out = layer(x)
        assert out.shape[1] == module.out_channels(4)
        produced = module.produces or (MAPS if MAPS in module.accepts else VECTORS)
        assert out.dim() == (4 if produced == MAPS else 2)
        size = 6 if MAPS in module.accepts else 1
        cost = estimate(Apply(module, 0, 0), 4, Setting(batch=2, size=size))
        assert cost.saved_bytes >= 0 and cost.seconds >= 0


@pytest.mark.parametrize("name", sorted(KINDS))
def test_kernel_expressible_kinds_have_their_kernel(name):
    """A module that claims to be a convolution has the dense kernel that computes what its
    layer computes."""
    for module in instances(KINDS[name]):
        if not module.kernel_expressible:
            continue
        layer = build_layer(module).double()
        x = torch.randn(2, 4, 7, 7, dtype=torch.float64)
        kernel = dense_kernel(module, layer, 4, x)
        out = torch.nn.functional.conv2d(x, kernel, stride=module.stride,
                                         padding=kernel.shape[-1] // 2)
        if getattr(layer, "bias", None) is not None:
            out = out + layer.bias[None, :, None, None]
        torch.testing.assert_close(out, layer(x))


@pytest.mark.parametrize("name", method_names())
def test_every_registered_method_is_documented(name):
    """The README's table of methods has a row for every registered method."""
    readme = (ROOT / "README.md").read_text()
    assert f"`{name}`" in readme


@pytest.mark.parametrize("name", sorted(KINDS))
def test_every_module_kind_counts_its_layers_parameters(name):
    """A module's declared parameter count is what its torch layer holds (what the memory
    check before building a supernet adds up)."""
    for module in instances(KINDS[name]):
        assert module.parameter_count == sum(p.numel() for p in build_layer(module).parameters())
