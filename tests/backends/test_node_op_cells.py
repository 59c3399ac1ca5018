"""Cells whose vertices carry the ops in torch: the output vertex concatenates its vertex
wires and adds its input's, a left-out wire keeps its place as zeros, and the simplified
supernet of nb101.nas equals the naive one."""

import torch

from nasdsl.backends.torch.contract import Run
from nasdsl.backends.torch.network import BuildOptions, Supernet
from nasdsl.dsl.elaborate import load
from tests.backends.test_network import assert_equal_at_one_hot_architectures, naive_and_simplified
from tests.dsl.test_node_ops import cell_space
from tests.paths import SPACES


def picked(kind, choose) -> torch.Tensor:
    """One-hot weights: each edge's candidate `choose(text edge, names)`."""
    rows = []
    for src, dst, names in kind.edges:
        row = torch.zeros(max(len(n) for _, _, n in kind.edges), dtype=torch.float64)
        row[names.index(choose(kind.in_text(src, dst), names))] = 1.0
        rows.append(row)
    return torch.stack(rows)


def test_the_output_vertex_concatenates_vertices_and_adds_the_input():
    """With links on every wire, the output is the three vertices' outputs side by side
    (24 channels), plus the input's projection where the input wire to the output chooses
    `project`; a wire left out of the run is zeros in its vertex's place."""
    space = cell_space()
    net = Supernet(space, BuildOptions(simplify=False, dtype=torch.float64))
    (kind,) = space.cell_kinds
    cell = next(stage for stage in net.stages if hasattr(stage, "kind"))
    x = torch.randn(2, 8, 8, 8, dtype=torch.float64)

    def output(to_output: str, sampled=None):
        weights = picked(kind, lambda edge, names: to_output if edge == "0->4" else
                         "link" if "link" in names else names[0])
        run = Run({kind.name: weights}, sampled=None if sampled is None else {kind.name: sampled})
        return cell([x], run.cell(1, kind.name))

    plain, projected = output("none"), output("project")
    assert plain.shape == (2, 24, 8, 8)
    index = next(i for i, (src, dst, _) in enumerate(kind.edges)
                 if kind.in_text(src, dst) == "0->4")
    torch.testing.assert_close(projected - plain, cell.edges[index].ops[0](x))
    wires = [kind.in_text(src, dst) for src, dst, _ in kind.edges]
    sampled = torch.tensor([1 if edge == "0->4" else 0 for edge in wires])
    sampled[wires.index("2->4")] = -1
    left_out = output("none", sampled)
    assert torch.equal(left_out[:, 8:16], torch.zeros_like(left_out[:, 8:16]))
    torch.testing.assert_close(left_out[:, :8], plain[:, :8])
    torch.testing.assert_close(left_out[:, 16:], plain[:, 16:])


def test_simplified_nb101_supernet_equals_the_naive_one_at_one_hot_architectures():
    """Vertex exactness on nb101.nas (C=4, one cell a stack), in training mode."""
    space = load(SPACES / "nb101.nas", overrides={"C": 4, "N": 1})
    torch.manual_seed(0)
    naive, simple = naive_and_simplified(space)
    x = torch.randn(2, 3, 32, 32, dtype=torch.float64)
    assert_equal_at_one_hot_architectures(naive, simple, x, seed=1)
