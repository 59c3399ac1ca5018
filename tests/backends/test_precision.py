"""Mixed precision, memory format and compilation of the supernet: bf16 and fp16 forwards
under autocast stay vertex-exact within their precision, fp16's gradient scale leaves every
gradient outside the supernet unscaled and skips overflowing steps, NHWC and compiled
forwards compute what the eager NCHW one does."""

import warnings

import pytest
import torch
import torch.nn.functional as F

from nasdsl.backends.torch.contract import Run, softmax_weights
from nasdsl.backends.torch.network import BuildOptions, Supernet
from nasdsl.dsl.elaborate import load
from tests.backends.test_network import one_hot_weights
from tests.paths import SPACES

EVERY_REWRITE = frozenset({"pms", "fms", "reparam"})


def same_weights(space, dtype=torch.float32, **options):
    """Supernets of `space` with the weights of a naive one in `dtype`: {options name: net}."""
    torch.manual_seed(0)
    reference = Supernet(space, BuildOptions(simplify=False, dtype=dtype))
    nets = {"reference": reference}
    for name, built in options.items():
        nets[name] = Supernet(space, built)
        missing, unexpected = nets[name].load_state_dict(reference.state_dict(), strict=False)
        assert not unexpected and all(key.startswith("grad_scale.") for key in missing)
    return nets


@pytest.mark.parametrize("name", ["nb201", "darts"])
def test_bf16_simplified_supernet_stays_vertex_exact_within_bf16(name):
    """At random one-hot architectures the simplified supernet (every rewrite) under bf16
    autocast is within 10% of the fp32 naive logits' range, as the naive one under bf16 is,
    and the two bf16 forwards are closer to each other than that; bf16 is really in effect
    (the naive bf16 logits differ from the fp32 ones)."""
    space = load(SPACES / f"{name}.nas", overrides={"C": 8, "N": 1})
    nets = same_weights(space, naive=BuildOptions(simplify=False, precision="bf16"),
                        simple=BuildOptions(rewrites=EVERY_REWRITE, precision="bf16"))
    x = torch.randn(8, 3, 32, 32)
    generator = torch.Generator().manual_seed(0)
    for _ in range(2):
        run = one_hot_weights(nets["reference"], generator)
        run = Run({kind: w.float() for kind, w in run.weights.items()})
        with torch.no_grad():
            out = {key: net(x, run) for key, net in nets.items()}
        scale = out["reference"].abs().max()
        assert out["naive"].dtype == torch.float32
        assert (out["naive"] - out["reference"]).abs().max() > 0
        for key in ("naive", "simple"):
            assert (out[key] - out["reference"]).abs().max() < 0.1 * scale
        assert (out["simple"] - out["naive"]).abs().max() < 0.1 * scale


def gradients(net: Supernet, x, y) -> dict[str, torch.Tensor]:
    net.zero_grad(set_to_none=True)
    F.cross_entropy(net(x, Run(softmax_weights(net.views))), y).backward()
    return {name: p.grad.clone() for name, p in net.named_parameters() if p.grad is not None}


def relative_error(grads: dict, reference: dict) -> float:
    """|g - g_ref| / |g_ref| over all the gradients as one vector."""
    difference = torch.cat([(grads[name] - reference[name]).flatten() for name in reference])
    return float(difference.norm() / torch.cat([g.flatten() for g in reference.values()]).norm())


def test_fp16_gradients_are_unscaled_outside_the_supernet():
    """Under fp16 with its gradient scale (2^16), the weights' and the architecture
    parameters' gradients, by backward or by autograd.grad, are the fp32 ones within fp16's
    error (less than bf16's, whose mantissa is shorter), not 65,536 times them."""
    space = load(SPACES / "nb201.nas", overrides={"C": 8, "N": 1})
    nets = same_weights(space, half=BuildOptions(precision="fp16", simplify=False),
                        brain=BuildOptions(precision="bf16", simplify=False))
    x, y = torch.randn(8, 3, 32, 32), torch.randint(10, (8,))
    full, half = gradients(nets["reference"], x, y), gradients(nets["half"], x, y)
    assert nets["half"].grad_scale is not None and float(nets["half"].grad_scale.scale) == 2**16
    assert full.keys() == half.keys()
    error = relative_error(half, full)
    assert error < 0.15
    assert error < relative_error(gradients(nets["brain"], x, y), full)
    alpha = "architecture.alpha.kind_cell"
    assert relative_error({alpha: half[alpha]}, {alpha: full[alpha]}) < 0.15
    net = nets["half"]
    weights = net.weight_parameters()
    loss = F.cross_entropy(net(x, Run(softmax_weights(net.views))), y)
    by_grad = torch.autograd.grad(loss, weights[0])[0]
    assert torch.allclose(by_grad, half[next(iter(dict(net.named_parameters())))], rtol=1e-5,
                          atol=1e-8)


def test_fp16_overflow_skips_the_step_and_halves_the_scale():
    """A scale so large that the gradients overflow: the optimizer step leaves every
    parameter as it was and the scale halves; finite steps count up, and after `interval`
    of them the scale doubles."""
    space = load(SPACES / "nb201.nas", overrides={"C": 4, "N": 1})
    net = Supernet(space, BuildOptions(precision="fp16", simplify=False))
    scale = net.grad_scale
    optimizer = torch.optim.SGD(net.weight_parameters(), lr=0.1)
    scale.guard(optimizer)
    x, y = torch.randn(4, 3, 16, 16), torch.randint(10, (4,))
    with torch.no_grad():
        scale.scale.fill_(2.0**120)
    scale._refresh()
    before = [p.detach().clone() for p in net.weight_parameters()]
    gradients(net, x, y)
    optimizer.step()
    assert all(torch.equal(a, b) for a, b in zip(before, net.weight_parameters()))
    assert float(scale.scale) == 2.0**119
    with torch.no_grad():
        scale.scale.fill_(2.0**8)
    scale._refresh()
    scale.interval = 2
    for _ in range(2):
        gradients(net, x, y)
        optimizer.step()
    assert float(scale.scale) == 2.0**9 and int(scale.good_steps) == 0
    assert not all(torch.equal(a, b) for a, b in zip(before, net.weight_parameters()))


def test_fp16_scale_is_kept_in_the_state_dict():
    """The scale and its count of good steps are buffers: a checkpoint keeps them, and a
    loaded scale is the one the hooks use."""
    space = load(SPACES / "nb201.nas", overrides={"C": 4, "N": 1})
    net = Supernet(space, BuildOptions(precision="fp16"))
    state = net.state_dict()
    state["grad_scale.scale"] = torch.tensor(4.0)
    other = Supernet(space, BuildOptions(precision="fp16"))
    other.load_state_dict(state)
    assert other.grad_scale._value == 4.0


def test_channels_last_computes_the_same_logits():
    """An NHWC supernet (weights and activations) gives the NCHW one's logits and
    gradients (float64: up to the order of summation)."""
    space = load(SPACES / "darts.nas", overrides={"C": 8, "N": 1})
    nets = same_weights(space, torch.float64, nhwc=BuildOptions(
        simplify=False, channels_last=True, dtype=torch.float64))
    conv = next(m for m in nets["nhwc"].modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    x = torch.randn(4, 3, 32, 32, dtype=torch.float64)
    y = torch.randint(10, (4,))
    run = Run(softmax_weights(nets["reference"].views))
    torch.testing.assert_close(nets["nhwc"](x, run), nets["reference"](x, run))
    full, nhwc = gradients(nets["reference"], x, y), gradients(nets["nhwc"], x, y)
    assert relative_error(nhwc, full) < 1e-10


def test_a_failing_compile_falls_back_to_eager_with_a_warning(monkeypatch):
    """Where torch.compile's function fails, the forward warns once, says it runs eagerly,
    and returns the eager logits; later forwards run eagerly without warning."""
    def broken(function, **options):
        def call(*args, **kwargs):
            raise torch._dynamo.exc.TorchDynamoException("no C++ compiler found\nsecond line")
        return call
    monkeypatch.setattr(torch, "compile", broken)
    space = load(SPACES / "nb201.nas", overrides={"C": 4, "N": 1})
    nets = same_weights(space, compiled=BuildOptions(compile=True, simplify=False))
    x = torch.randn(2, 3, 16, 16)
    run = Run(softmax_weights(nets["reference"].views))
    with pytest.warns(UserWarning, match="torch.compile failed .TorchDynamoException: no C.. compiler "
                                         "found.; the supernet runs eagerly"):
        out = nets["compiled"](x, run)
    torch.testing.assert_close(out, nets["reference"](x, run))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nets["compiled"](x, run)


@pytest.mark.slow
def test_a_compiled_supernet_computes_the_eager_logits():
    """torch.compile (inductor, on the CPU) gives the eager supernet's logits."""
    space = load(SPACES / "nb201.nas", overrides={"C": 4, "N": 1})
    nets = same_weights(space, compiled=BuildOptions(compile=True, simplify=False))
    x = torch.randn(2, 3, 16, 16)
    run = Run(softmax_weights(nets["reference"].views))
    # Not every warning an error: dynamo itself warns while tracing (a non-leaf's .grad).
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = nets["compiled"](x, run)
    assert not [w for w in caught if "torch.compile failed" in str(w.message)]
    torch.testing.assert_close(out, nets["reference"](x, run), rtol=1e-4, atol=1e-5)
