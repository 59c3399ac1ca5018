"""Whole supernets: parity with the reference implementations, naive == simplified."""

import attrs
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from nasdsl.backends.torch.cells import Cell, CellRun
from nasdsl.backends.torch.contract import Run, softmax_weights
from nasdsl.backends.torch.network import BuildOptions, Supernet
from nasdsl.dsl.elaborate import load, narrowed
from nasdsl.dsl.printer import print_program
from nasdsl.errors import NasErrors
from nasdsl.simplify.compiler import Site, choose_plans, edge_site, network_sites
from nasdsl.simplify.cost import Setting
from tests.paths import SPACES
from tests.strategies import programs

PARITY = {"nb201": (1_692_826, 30), "darts": (1_930_618, 224)}


def counts(net: Supernet) -> tuple[int, int]:
    return (sum(p.numel() for p in net.weight_parameters()),
            sum(p.numel() for p in net.arch_parameters()))


@pytest.mark.parametrize("name", sorted(PARITY))
@pytest.mark.parametrize("simplify", [False, True])
def test_parameter_parity_with_reference_code(name, simplify):
    """NB201 (C=16, N=5) and DARTS (8 cells, C=16) search supernets have the reference
    implementations' numbers of weights and architecture parameters, naive or simplified."""
    net = Supernet(load(SPACES / f"{name}.nas"), BuildOptions(simplify=simplify))
    assert counts(net) == PARITY[name]


@pytest.mark.parametrize("name", ["nb201", "darts"])
def test_naive_and_simplified_share_parameter_names(name):
    """Switching simplification never changes a checkpoint: same names and shapes."""
    space = load(SPACES / f"{name}.nas")
    naive = Supernet(space, BuildOptions(simplify=False)).state_dict()
    simple = Supernet(space, BuildOptions(simplify=True, rewrites=frozenset(
        {"pms", "fms", "reparam"}))).state_dict()
    assert {k: v.shape for k, v in naive.items()} == {k: v.shape for k, v in simple.items()}


def naive_and_simplified(space) -> tuple[Supernet, Supernet]:
    """The naive supernet and the simplified one (every rewrite forced), in float64, with the
    same parameters."""
    naive = Supernet(space, BuildOptions(simplify=False, dtype=torch.float64))
    simple = Supernet(space, BuildOptions(simplify=True, dtype=torch.float64,
                                          rewrites=frozenset({"pms", "fms", "reparam"})))
    simple.load_state_dict(naive.state_dict())
    return naive, simple


def assert_equal_at_one_hot_architectures(naive: Supernet, simple: Supernet, x: torch.Tensor,
                                          seed: int, rounds: int = 2) -> None:
    """The two supernets give the same output (float64 tolerances) at `rounds` random
    one-hot architectures."""
    generator = torch.Generator().manual_seed(seed)
    for _ in range(rounds):
        weights = one_hot_weights(naive, generator)
        torch.testing.assert_close(simple(x, weights), naive(x, weights), rtol=1e-8, atol=1e-9)


def one_hot_weights(net: Supernet, generator: torch.Generator) -> Run:
    """A run at a random one-hot architecture: one real candidate per edge."""
    weights = {}
    for name, view in net.views.items():
        chosen = torch.stack([torch.multinomial(row.double(), 1, generator=generator)[0]
                              for row in view.mask])
        weights[name] = torch.nn.functional.one_hot(chosen, view.mask.shape[1]).double()
    return Run(weights)


def test_eval_mode_vertex_exactness_where_search_bn_keeps_no_statistics():
    """NB201's search BN keeps no running statistics, so after training steps (at sampled
    architectures, where both forms agree, as GDAS trains) the simplified supernet equals
    the naive one in eval mode too; the stem, ResNet blocks and head keep statistics."""
    space = load(SPACES / "nb201.nas", overrides={"C": 4, "N": 1})
    torch.manual_seed(1)
    naive, simple = naive_and_simplified(space)
    x = torch.randn(4, 3, 16, 16, dtype=torch.float64)
    generator = torch.Generator().manual_seed(3)
    for _ in range(2):
        sampled = one_hot_weights(naive, generator)
        naive(x, sampled), simple(x, sampled)
    naive.eval(), simple.eval()
    for _ in range(3):
        weights = one_hot_weights(naive, generator)
        torch.testing.assert_close(simple(x, weights), naive(x, weights), rtol=1e-9, atol=1e-9)


def test_device_and_dtype_options():
    """A supernet is built on the requested device ('auto' is CUDA where there is one) and
    in the requested dtype, float32 by default."""
    space = load(SPACES / "nb201.nas", overrides={"C": 4, "N": 1})
    net = Supernet(space, BuildOptions(device="auto"))
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert {p.device.type for p in net.parameters()} == {expected}
    assert {p.dtype for p in net.parameters()} == {torch.float32}
    assert Supernet(space, BuildOptions(dtype=torch.float64)).views["cell"]["alpha"].dtype == torch.float64


@settings(max_examples=200, deadline=None)
@given(programs(), st.integers(0, 2**16))
def test_vertex_exactness_of_generated_spaces(tmp_path_factory, program, seed):
    """For hypothesis-generated spaces, the simplified supernet equals the naive one at
    random one-hot architectures (float64, training mode; dropout, which draws differently
    in the two, in eval mode)."""
    path = tmp_path_factory.mktemp("space") / "space.nas"
    path.write_text(print_program(program))
    space = load(path)
    torch.manual_seed(seed)
    naive, simple = naive_and_simplified(space)
    for net in (naive, simple):
        for layer in net.modules():
            if isinstance(layer, torch.nn.Dropout):
                layer.eval()
    network = space.network
    x = torch.randn(2, network.input_channels, network.input_size, network.input_size,
                    dtype=torch.float64)
    assert_equal_at_one_hot_architectures(naive, simple, x, seed)


def test_architecture_parameters_of_a_kind_named_like_a_module_attribute():
    """Cell kinds may be called `to` or `train`: their parameters are still held apart, by
    name, in the checkpoint and in the architecture parameters."""
    from nasdsl.backends.torch.network import ByKind
    arch = ByKind({"to": torch.zeros(2, 3), "train": torch.ones(4)})
    assert arch["to"].shape == (2, 3) and arch["train"].shape == (4,)
    assert set(arch.state_dict()) == {"kind_to", "kind_train"}
    assert [name for name, _ in arch.items()] == ["to", "train"]
    assert len(list(arch.parameters())) == 2


def test_partial_channel_plans_are_chosen_at_the_edges_width():
    """With PC-DARTS's partial channels each edge is planned at the 1/K of the cell's
    channels its ops run on (at the full width the cost model would choose other plans)."""
    space = load(SPACES / "nb201.nas")
    setting = Setting(batch=64)
    net = Supernet(space, BuildOptions(simplify=True, partial_channels=4, setting=setting))
    narrow = narrowed(space, 4).network
    sites = {(c, e): edge_site(cell, edge)
             for c, cell in enumerate(narrow.cells) for e, edge in enumerate(cell.edges)}
    assert {site.channels for site in sites.values()} \
        == {cell.channels // 4 for cell in space.network.cells}
    plans = choose_plans(sites.values(), setting)

    def wide(site: Site) -> Site:
        return attrs.evolve(site, channels=4 * site.channels)

    wide_plans = choose_plans(map(wide, sites.values()), setting)
    assert any(plans[site] != wide_plans[wide(site)] for site in sites.values())
    built = [stage for stage in net.stages if isinstance(stage, Cell)]
    for (c, e), site in sites.items():
        assert built[c].edges[e].edge.plan == plans[site]


def test_narrowing_keeps_what_the_space_was_loaded_with():
    """Partial channels re-place a space's searched edges with the overrides, image and
    classes it was loaded with; only the edges' width changes."""
    space = load(SPACES / "darts.nas", overrides={"C": 8, "N": 1}, image=(1, 16), classes=4)
    narrow = narrowed(space, 2)
    assert [(c.channels, c.size, c.preprocess, c.fixed) for c in narrow.network.cells] \
        == [(c.channels, c.size, c.preprocess, c.fixed) for c in space.network.cells]
    assert [c.edge_channels for c in narrow.network.cells] \
        == [c.channels // 2 for c in space.network.cells]
    assert narrow.network.stages[-1] == space.network.stages[-1]  # the head, at 4 classes
    assert narrowed(space, 1) is space


def test_partial_channels_that_do_not_divide_a_cells_channels_are_a_located_error():
    """K that does not divide a cell's channels stops the build with the cell's location."""
    space = load(SPACES / "nb201.nas", overrides={"C": 6, "N": 1})
    with pytest.raises(NasErrors, match=r"nb201.nas:\d+:\d+.*cannot send 1/4"):
        Supernet(space, BuildOptions(partial_channels=4))


@pytest.mark.parametrize("partial", [1, 4])
def test_every_site_has_the_size_its_edge_sees_at_run_time(partial):
    """The cost model plans each edge at the channels and resolution of the tensor that
    reaches it: an edge between intermediate nodes of a reduction cell runs at half the
    cell's input resolution."""
    space = load(SPACES / "darts.nas", overrides={"C": 4, "N": 1})
    net = Supernet(space, BuildOptions(simplify=False, partial_channels=partial))
    seen = []
    cells = [stage for stage in net.stages if isinstance(stage, Cell)]
    for cell in cells:
        for edge in cell.edges:
            inner = edge.edge if partial > 1 else edge
            inner.register_forward_pre_hook(
                lambda module, args: seen.append((args[0].shape[1], args[0].shape[-1])))
    net(torch.randn(2, 3, 32, 32), Run(softmax_weights(net.views)))
    network = narrowed(space, partial).network
    sites = network_sites(network)
    assert [(site.channels, site.size) for site in sites] == seen
    reduce = next(cell for cell in network.cells if cell.kind.reduction)
    assert {site.size for site in sites if any(site.ops is e.candidates for e in reduce.edges)} \
        == {reduce.size, reduce.size // 2}


@pytest.mark.slow
@pytest.mark.parametrize(("name", "reference_mib"), [("nb201", 226.84), ("darts", 958.01)])
def test_naive_supernets_save_what_the_reference_code_saves(name, reference_mib):
    """At batch 8 the naive NB201 and DARTS supernets save for backward what the reference
    implementations' networks save (measured with the same hooks), within 0.1%."""
    from nasdsl.backends.torch.measure import saved_bytes
    torch.manual_seed(0)
    net = Supernet(load(SPACES / f"{name}.nas"), BuildOptions(simplify=False))
    x = torch.randn(8, 3, 32, 32)
    mib = saved_bytes(lambda: net(x, Run(softmax_weights(net.views))), exclude=net) / 2**20
    assert mib == pytest.approx(reference_mib, rel=1e-3)


def test_no_activation_sized_temporaries_beyond_the_mix():
    """A node sums its edges' outputs, and an edge its weighted candidates, without an extra
    tensor per edge: no multiplication by 1 where there are no edge weights, and no 0 + the
    first term (what Python's sum makes)."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class Arithmetic(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.by_constant = []

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            name = func.__name__.split(".")[0]
            identity = {"mul": 1, "add": 0}.get(name)
            if identity is not None and any(not torch.is_tensor(arg) and arg == identity
                                            for arg in args):
                self.by_constant.append(func.__name__)
            return func(*args, **(kwargs or {}))

    space = load(SPACES / "darts.nas", overrides={"C": 4, "N": 1})
    net = Supernet(space, BuildOptions(simplify=False))
    cell = next(stage for stage in net.stages if isinstance(stage, Cell))
    x = [torch.randn(2, 12, 8, 8), torch.randn(2, 12, 8, 8)]
    weights = softmax_weights(net.views)["normal"].detach()
    with Arithmetic() as seen:
        cell(x, CellRun(weights))
    assert seen.by_constant == []


def test_a_supernet_is_freed_without_the_cycle_collector():
    """Nothing a supernet holds (its views) refers back to it, so its memory, on a device
    too, goes with its last reference, not when Python's cycle collector happens to run;
    the views still find its device after it is moved."""
    import gc
    import weakref
    net = Supernet(load(SPACES / "nb201.nas", overrides={"C": 4, "N": 1}), BuildOptions())
    net.to(torch.float64)
    assert net.views["cell"].mask.device == net.views["cell"]["alpha"].device
    gone = weakref.ref(net)
    gc.disable()
    try:
        del net
        assert gone() is None
    finally:
        gc.enable()
