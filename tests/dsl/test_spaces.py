"""The shipped spaces: golden summaries and the facts the papers state about them."""

import os

import pytest

from nasdsl.dsl.elaborate import load
from nasdsl.dsl.modules import BatchNorm, Conv, FactorizedReduce, Identity, Zero
from nasdsl.dsl.summary import summarize
from tests.paths import GOLDEN, SPACES

SHIPPED = sorted(path.stem for path in SPACES.glob("*.nas"))


@pytest.mark.parametrize("name", SHIPPED)
def test_summary_matches_golden(name):
    """Each shipped space summarizes to the text checked in under tests/golden (set
    NASDSL_UPDATE_GOLDEN=1 to rewrite them after a deliberate change)."""
    text = summarize(load(SPACES / f"{name}.nas"))
    golden = GOLDEN / f"{name}.txt"
    if os.environ.get("NASDSL_UPDATE_GOLDEN"):
        golden.write_text(text)
    assert text == golden.read_text()


def test_shipped_spaces_load_by_name():
    """A shipped space is found by its bare name, as after installation."""
    assert load("nb201").name == "nb201"
    assert load("darts.nas").name == "darts"


def test_nb201_has_15625_architectures():
    """NAS-Bench-201: 5 candidates on each of 6 edges, every edge kept."""
    space = load(SPACES / "nb201.nas")
    (kind,) = space.cell_kinds
    assert (kind.inputs, kind.nodes, len(kind.edges)) == (1, 3, 6)
    assert space.architecture_count() == 15_625


def test_darts_architecture_count():
    """DARTS: per cell kind, node k chooses 2 of its k+2 inputs and 7 ops (not none) for
    each, so (1 * 3 * 6 * 10 * 7^8)^2 for normal and reduction cells."""
    space = load(SPACES / "darts.nas")
    per_cell = 1 * 3 * 6 * 10 * 7**8
    assert [kind.architecture_count() for kind in space.cell_kinds] == [per_cell, per_cell]
    assert space.architecture_count() == per_cell**2
    assert 10**18 <= space.architecture_count() < 10**19


def test_darts_network_shape():
    """The DARTS search network: 8 cells, reductions at 1/3 and 2/3, channels doubling,
    input 0 factorized-reduced after a reduction cell, stem of 3C channels."""
    network = load(SPACES / "darts.nas").network
    cells = network.cells
    assert [cell.kind.name for cell in cells] == ["normal"] * 2 + ["reduce"] + ["normal"] * 2 + \
        ["reduce"] + ["normal"] * 2
    assert [cell.channels for cell in cells] == [16, 16, 32, 32, 32, 64, 64, 64]
    assert network.stages[0].modules[0] is Conv(3, 48, 3)
    after_reduction = cells[3]
    assert after_reduction.preprocess[0] == (FactorizedReduce(64, 32, affine=False),)
    assert isinstance(after_reduction.preprocess[1][1], Conv)


def test_darts_strides_and_search_bn():
    """On a reduction cell, edges from the inputs stride 2: skip_connect becomes
    factorized_reduce, none a strided zero, separable convs stride their first depthwise
    conv; BN inside cells is affine=false while searching and keeps running statistics."""
    reduce_cell = load(SPACES / "darts.nas").network.cells[2]
    edge = next(e for e in reduce_cell.edges if e.src == 0)
    ops = {op.name: op.modules for op in edge.candidates}
    assert edge.stride == 2
    assert ops["skip_connect"] == (FactorizedReduce(32, 32, affine=False),)
    assert ops["none"] == (Zero(2),)
    assert ops["sep_conv_3x3"][1] is Conv(32, 32, 3, stride=2, groups=32)
    assert ops["sep_conv_3x3"][5] is Conv(32, 32, 3, stride=1, groups=32)
    assert ops["max_pool_3x3"][-1] is BatchNorm(32, affine=False, track_running_stats=True)
    inner_edge = next(e for e in reduce_cell.edges if e.src >= 2)
    assert inner_edge.stride == 1
    assert {op.name: op.modules for op in inner_edge.candidates}["skip_connect"] == (Identity(),)


def test_search_only_modules_leave_derived_networks():
    """The reference code's BN after DARTS pools exists while searching, not in the
    evaluation phase; BN there is affine again."""
    cell = load(SPACES / "darts.nas", phase="eval").network.cells[0]
    ops = {op.name: op.modules for op in cell.edges[0].candidates}
    assert len(ops["max_pool_3x3"]) == 1
    assert ops["sep_conv_3x3"][3] is BatchNorm(16, affine=True, track_running_stats=True)


def test_nb201_network_shape():
    """NB201 TinyNetwork: C=16, N=5 cells a stage, ResNet blocks between stages, BN without
    running statistics in cells while searching, classes overridable."""
    space = load(SPACES / "nb201.nas", overrides={"classes": 100})
    network = space.network
    assert network.classes == 100
    assert [cell.channels for cell in network.cells] == [16] * 5 + [32] * 5 + [64] * 5
    assert [stage.role for stage in network.stages if not hasattr(stage, "kind")] == \
        ["stem", "layer", "layer", "head"]
    assert network.stages[-1].modules[-1].c_out == 100
    conv3 = {op.name: op.modules for op in network.cells[0].edges[0].candidates}["nor_conv_3x3"]
    assert conv3[2] is BatchNorm(16, affine=False, track_running_stats=False)


def test_darts_large_candidates():
    """darts_large: skip, two pools, 5 separable dilated and 7 double-stacked separable
    convs, 15 candidates on every edge, none excluded from nothing since it is absent."""
    space = load(SPACES / "darts_large.nas")
    for kind in space.cell_kinds:
        names = {names for _, _, names in kind.edges}
        assert len(names) == 1
        (candidates,) = names
        assert len(candidates) == 15
        assert sum(name.startswith("dil_conv") for name in candidates) == 5
        assert sum(name.endswith("_x2") for name in candidates) == 7


def test_proxylessnas_has_the_reference_supernets_blocks():
    """ProxylessNAS's 21 searchable blocks have the reference widths and strides; a block has
    the identity shortcut and the Zero candidate exactly where it keeps its shape (stride 1,
    as many channels in as out), as super_proxyless.py builds them."""
    cells = load(SPACES / "proxylessnas.nas").network.cells
    assert [cell.channels for cell in cells] == \
        [24] * 4 + [40] * 4 + [80] * 4 + [96] * 4 + [192] * 4 + [320]
    assert [cell.size for cell in cells if cell.kind.reduction] == [112, 56, 28, 14]
    for cell in cells:
        keeps = not cell.kind.reduction and cell.input_channels == cell.channels
        names = cell.kind.edges[0][2]
        assert cell.kind.residual == keeps and ("skip" in names) == keeps
        assert names[:6] == ("k3_e3", "k3_e6", "k5_e3", "k5_e6", "k7_e3", "k7_e6")
    assert sum(cell.kind.residual for cell in cells) == 15


def test_fbnet_has_the_papers_22_layers_of_9_candidates():
    """FBNet's TBS space: 22 searchable layers of Table 1's widths, 9 candidates each (9^22
    architectures); `skip` is the identity under the residual where a layer keeps its shape,
    the reference's 1x1 conv where it does not; the g2 blocks shuffle between group convs."""
    space = load(SPACES / "fbnet.nas")
    cells = space.network.cells
    assert [cell.channels for cell in cells] == \
        [16] + [24] * 4 + [32] * 4 + [64] * 4 + [112] * 4 + [184] * 4 + [352]
    assert space.architecture_count() == 9 ** 22
    for cell in cells:
        keeps = not cell.kind.reduction and cell.input_channels == cell.channels
        assert cell.kind.residual == keeps
        assert cell.kind.edges[0][2][-1] == ("skip" if keeps else "skip_conv")
    g2 = next(op for op in cells[1].edges[0].candidates if op.name == "k3_e1_g2")
    assert [type(m).__name__ for m in g2.modules][:4] == ["Conv", "BatchNorm", "ReLU",
                                                          "ChannelShuffle"]
    assert g2.modules[0].groups == 2 and g2.modules[-2].groups == 2
    # Expansion 1: the middle keeps the 16 channels that enter the layer (IRFBlock's mid).
    assert (g2.modules[0].c_in, g2.modules[0].c_out, g2.modules[-2].c_out) == (16, 16, 24)
