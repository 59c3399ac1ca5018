"""One set of network tests run under every supernet family: naive, simplified (every rewrite
forced), simplified with kernel normalization, partial channels, feature sharing. Each
family is compared with its own naive form (the same options, simplification off), whose
parameters have the same names."""

import attrs
import pytest
import torch

from nasdsl.backends.torch.contract import Run, softmax_weights
from nasdsl.backends.torch.network import BuildOptions, Supernet
from nasdsl.dsl.elaborate import load
from tests.paths import SPACES

ALL = frozenset({"pms", "fms", "reparam"})


@attrs.frozen
class Family:
    name: str
    options: BuildOptions

    def build(self, space_name: str, simplify: bool = True) -> Supernet:
        space = load(SPACES / f"{space_name}.nas", overrides={"C": 4, "N": 1})
        options = attrs.evolve(self.options, simplify=simplify and self.options.simplify,
                               dtype=torch.float64)
        return Supernet(space, options)


FAMILIES = [
    Family("naive", BuildOptions(simplify=False)),
    Family("simplified", BuildOptions(rewrites=ALL)),
    Family("simplified+kn", BuildOptions(rewrites=ALL, normalize_kernels=True)),
    Family("partial channels", BuildOptions(rewrites=ALL, partial_channels=2)),
    Family("feature sharing", BuildOptions(share_source_features=True)),
]


@pytest.fixture(params=FAMILIES, ids=[family.name for family in FAMILIES])
def family(request) -> Family:
    return request.param


@pytest.fixture(params=["nb201", "darts"])
def space_name(request) -> str:
    return request.param


def one_hot(net: Supernet, seed: int) -> dict[str, torch.Tensor]:
    """A random one-hot architecture: one real candidate per edge."""
    generator = torch.Generator().manual_seed(seed)
    return {name: torch.nn.functional.one_hot(
        torch.stack([torch.multinomial(row.double(), 1, generator=generator)[0]
                     for row in view.mask]), view.mask.shape[1]).double()
        for name, view in net.views.items()}


def pair(family: Family, space_name: str) -> tuple[Supernet, Supernet]:
    """The family's supernet and its naive form, with the same parameters."""
    torch.manual_seed(0)
    naive = family.build(space_name, simplify=False)
    net = family.build(space_name)
    net.load_state_dict(naive.state_dict())
    return net, naive


X = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(1), dtype=torch.float64)


def test_gradients_reach_every_parameter(family, space_name):
    """One forward and backward at the softmax weights reaches every weight and alpha."""
    net = family.build(space_name)
    net(X, Run(softmax_weights(net.views))).sum().backward()
    assert [name for name, p in net.named_parameters() if p.grad is None] == []


def test_equals_its_naive_form_at_every_vertex(family, space_name):
    """At random one-hot architectures the family computes what its naive form computes."""
    net, naive = pair(family, space_name)
    for seed in range(3):
        run = Run(one_hot(net, seed))
        torch.testing.assert_close(net(X, run), naive(X, run), rtol=1e-9, atol=1e-9)


def test_a_sampled_path_equals_its_one_hot_mix(family, space_name):
    """Running only each edge's sampled candidate gives what the one-hot mix gives."""
    net, _ = pair(family, space_name)
    weights = one_hot(net, 5)
    sampled = {name: w.argmax(-1) for name, w in weights.items()}
    torch.testing.assert_close(net(X, Run(weights, sampled=sampled)), net(X, Run(weights)),
                               rtol=1e-9, atol=1e-9)


def test_every_candidate_active_is_the_whole_mix(family, space_name):
    """An `active` table of every real candidate runs each candidate on its own, what the
    mix computes at a vertex (a plan is only vertex-exact where it shares a batch norm);
    one that leaves a node without any edge is a clear error, not an index error."""
    net, _ = pair(family, space_name)
    weights = one_hot(net, 7)
    every = {name: view.mask.cpu() for name, view in net.views.items()}
    torch.testing.assert_close(net(X, Run(weights, active=every)), net(X, Run(weights)),
                               rtol=1e-9, atol=1e-9)
    nothing = {name: torch.zeros_like(mask) for name, mask in every.items()}
    with pytest.raises(ValueError, match="without any input edge"):
        net(X, Run(weights, active=nothing))
