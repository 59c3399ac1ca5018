"""`search` settings: defaults of module attributes inside cells while searching only."""

from nasdsl.dsl.elaborate import load
from nasdsl.dsl.modules import BatchNorm, Conv, FactorizedReduce

SPACE = """\
op conv = relu -> conv(kernel=3) -> bn
op explicit = conv(kernel=1, bias=false) -> bn(affine=true)
op skip { stride 1: identity  stride 2: factorized_reduce }
cell c { inputs 1 nodes 1 candidates conv, explicit, skip }
cell r { inputs 1 nodes 1 reduction candidates conv, skip }
network n {
    let C = 4
    search bn(affine=false, track_running_stats=false)
    search conv(bias=true)
    stem conv(kernel=3, out=C) -> bn
    cells c * 1 channels C
    cells r * 1 channels C
    head global_avg_pool -> linear(out=10)
}
"""


def ops_of(space, cell_index=0):
    return {op.name: op.modules for op in space.network.cells[cell_index].edges[0].candidates}


def test_settings_apply_inside_cells_while_searching(tmp_path):
    """In the search phase a cell's convs get the bias and its BNs lose affine and running
    statistics; explicit attributes win over the settings."""
    path = tmp_path / "s.nas"
    path.write_text(SPACE)
    space = load(path)
    ops = ops_of(space)
    assert ops["conv"][1] is Conv(4, 4, 3, bias=True)
    assert ops["conv"][2] is BatchNorm(4, affine=False, track_running_stats=False)
    assert ops["explicit"] == (Conv(4, 4, 1, bias=False), BatchNorm(4, True, False))


def test_settings_follow_into_modules_with_a_bn(tmp_path):
    """factorized_reduce's BN follows `search bn(...)` too."""
    path = tmp_path / "s.nas"
    path.write_text(SPACE)
    reduce_ops = ops_of(load(path), cell_index=1)
    assert reduce_ops["skip"] == (FactorizedReduce(4, 4, False, False),)


def test_settings_leave_the_fixed_network_and_derived_networks_alone(tmp_path):
    """The stem keeps PyTorch's defaults, and so does every cell in the eval phase."""
    path = tmp_path / "s.nas"
    path.write_text(SPACE)
    stem = load(path).network.stages[0].modules
    assert stem == (Conv(3, 4, 3), BatchNorm(4))
    ops = ops_of(load(path, phase="eval"))
    assert ops["conv"][1:] == (Conv(4, 4, 3), BatchNorm(4))
