"""EnTranNAS and EnTranNAS-DST (Yang, You et al., seed 004).

EnTranNAS (Sec. 2.2): a few cells are Engine-cells that mix every candidate of every edge
with a temperature softmax, p_k = softmax(alpha_k / tau) (Eq. 5), tau annealed from 5.0 by
0.923 every epoch (Sec. 4.2); the other cells are Transit-cells that run only the
architecture currently derived from alpha, re-derived at every forward: each kept edge runs
its chosen candidate, unweighted (Eq. 6, second line), edges not kept do not run. The
Engine-cells are the first normal and the first reduction cell (Sec. 2.5, ablated in
Table 1): `--engine-cells first`, the first cell of each kind. Only the Engine-cells carry
gradients to alpha; cells of one kind share alpha.

Feature sharing (Sec. 2.3, Eq. 6): the same candidate from node i has one set of
parameters and one output for every j > i (`sharing.SharedSourceCell`), on by default
(`--feature-sharing off` gives the plain supernet, whose Engine-cells then run the
simplifier's plans).

EnTranNAS-DST (Sec. 2.4): the Engine-cell's weights are sparsified per intermediate node j:
connection normalization p^_k^(i,j) = p_k^(i,j) / max_{i<j,k} p_k^(i,j) (Eq. 7), a learnable
threshold t^(j) = sigmoid(beta^(j)) per node, q = ReLU(p^ - t) (Eq. 8), and operation
normalization q^ = q / sum_k q on every edge with a non-zero q (Eq. 9). Connections with
q^ > 0 form S_j (Eq. 10): what the Transit-cells run, and the only connections the
Engine-cell computes. The architecture loss adds lambda * mean_j -log t^(j) (Eq. 11), which
raises the thresholds and so prunes: `--dst-lambda` (0.2, 0.1, 0.05 in Table 4). A node keeps
any number of inputs; at least one, since max p^ = 1 > t.

Choices the paper leaves open or this project's formats impose:
- Candidates excluded from derivation (`derive ... exclude none` in darts.nas) are left out
  of the mix as well: the paper's standard space has the 7 DARTS operations without `none`
  (Sec. 4.2), and a kept `none` connection would mean nothing in S_j.
- Several candidates of one edge may have q^ > 0; the Engine- and Transit-cells run them all,
  as Eq. 9-10 say. The derived architecture written out keeps, on each kept edge, its
  strongest candidate: genotypes, NB201 strings and derived .nas cells hold one op per edge.
- In a cell kind whose rule keeps every edge (`derive all`, NB201), an edge with no kept
  connection is written with its `none` candidate (what NB201 calls a missing edge), or its
  strongest candidate when it has no `none`.
- The per-epoch temperature is tau_0 * decay^epoch for both methods (CIFAR-10, Sec. 4.2);
  the ImageNet DST setting (1.0, 0.9, Sec. 4.3) is `--engine-tau 1 --engine-tau-decay 0.9`.
  The paper's architecture learning rate 6e-4 is `--arch-lr 6e-4`; the bottleneck 1x1 convs
  of Sec. 2.5 are not built.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs
import torch
import torch.nn.functional as F

from nasdsl.architecture.derive import (Architecture, DerivedCell, cell_of, derive_cell,
                                        stand_in_op)
from nasdsl.arguments import Range
from nasdsl.backends.torch.contract import ALPHA, ArchParameter, Run
from nasdsl.backends.torch.network import Supernet
from nasdsl.dsl import space as IR
from nasdsl.errors import NasError
from nasdsl.methods import register
from nasdsl.methods.base import Method, Option

_TINY = 1e-12  # below this, an edge's sum of q counts as zero (Eq. 9 leaves it out)


@register
class EnTranNAS(Method):
    name = "entranas"
    options = (
        Option("engine-cells", str, "first",
               "EnTranNAS's Engine-cells: 'first' (the first cell of each kind, seed 004 "
               "Sec. 2.5), 'last', 'all' (every cell mixes, as DARTS), or cell positions "
               "counted from 0 in network order, e.g. '0,2'; each cell kind needs one"),
        Option("feature-sharing", str, "on",
               "EnTranNAS's feature sharing (seed 004 Eq. 6): one set of layers per "
               "candidate and source node", choices=("on", "off")),
        Option("engine-tau", Range(float, low=0, low_open=True), 5.0,
               "EnTranNAS's initial temperature of the Engine-cells' softmax (seed 004 Eq. 5)"),
        Option("engine-tau-decay", Range(float, 0, 1, low_open=True), 0.923,
               "EnTranNAS's factor on the temperature after every epoch"),
    )

    # --- how the supernet is built -------------------------------------------------------------

    def build_options(self, options):
        return attrs.evolve(options,
                            share_source_features=self.option("feature-sharing") == "on")

    def prepare_space(self, space, batches, device, run_dir):
        """The space unchanged, once the Engine-cells are known to fit it."""
        cells = [(index, stage.kind.name) for index, stage in enumerate(space.network.stages)
                 if isinstance(stage, IR.Cell) and stage.kind.edges]
        engine_cells(self.option("engine-cells"), cells)
        return space

    # --- schedules and weights -----------------------------------------------------------------

    def start_epoch(self, epoch: int) -> None:
        """tau = tau_0 * decay^epoch (Sec. 4.2: 5.0, annealed by 0.923 every epoch)."""
        super().start_epoch(epoch)
        self.tau = self.option("engine-tau") * self.option("engine-tau-decay") ** epoch

    def mixing_weights(self, net: Supernet) -> dict[str, torch.Tensor]:
        """The Engine-cells' weights per cell kind: Eq. 5."""
        return tempered_softmax(net, self.tau)

    def eval_weights(self, net: Supernet) -> dict[str, torch.Tensor]:
        return self.mixing_weights(net)

    def kept(self, net: Supernet, weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The derived sub-graph per cell kind, as a bool per edge and candidate (on the
        CPU): the space's derivation rule applied to the Engine-cells' weights."""
        masks = {}
        for name, w in weights.items():
            kind = net.views[name].kind
            masks[name] = cell_mask(kind, derive_cell(kind, w.detach().cpu().tolist()))
        return masks

    def engine_active(self, kept: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Which candidates the Engine-cells run: all of them (None: no restriction)."""
        return {}

    # --- the forward ---------------------------------------------------------------------------

    def run(self, net: Supernet) -> Run:
        """Per kind the Engine-cells' mix, and per Transit-cell (keyed by stage index) its
        derived sub-graph at weight one (Eq. 6)."""
        engine = self.mixing_weights(net)
        kept = self.kept(net, engine)
        weights: dict[str | int, torch.Tensor] = dict(engine)
        active: dict[str | int, torch.Tensor] = dict(self.engine_active(kept))
        for index, name in transit_stages(net, self.option("engine-cells")):
            weights[index] = kept[name].to(engine[name].device, engine[name].dtype)
            active[index] = kept[name]
        return Run(weights, active=active)

    def eval_run(self, net: Supernet) -> Run:
        """The supernet as it searches: Engine-cells mixing, Transit-cells derived."""
        return self.run(net)


THRESHOLD = ArchParameter("threshold", "node", init="zeros")  # beta of Eq. 8, per node


@register
class EnTranNASDST(EnTranNAS):
    name = "entranas-dst"
    options = EnTranNAS.options + (
        Option("dst-lambda", Range(float, low=0), 0.1,
               "EnTranNAS-DST's weight lambda of the threshold regularizer (seed 004 Eq. 11): "
               "larger prunes more connections"),
    )

    def arch_parameters(self):
        """alpha, and beta, whose sigmoid is each node's threshold (Eq. 8)."""
        return (ALPHA, THRESHOLD)

    def mixing_weights(self, net: Supernet) -> dict[str, torch.Tensor]:
        """q^ per cell kind: Eq. 5, then Eq. 7-9 with each node's threshold."""
        return {name: sparsify(p, {node: net.views[name].rows(node)
                                   for node in net.views[name].incoming},
                               thresholds(net.views[name]["threshold"]))
                for name, p in tempered_softmax(net, self.tau).items()}

    def kept(self, net, weights):
        """S_j of Eq. 10: every connection with q^ > 0."""
        return {name: (w.detach() > 0).cpu() for name, w in weights.items()}

    def engine_active(self, kept):
        """The Engine-cell computes only S_j: the other connections have q^ = 0 and, through
        the ReLU of Eq. 8, no gradient either."""
        return kept

    def regularizer(self, net: Supernet) -> torch.Tensor:
        """Eq. 11: lambda * mean over intermediate nodes of -log t^(j), per cell kind;
        -log sigmoid(beta) = softplus(-beta)."""
        return self.option("dst-lambda") * sum(
            F.softplus(-view["threshold"]).mean() for view in net.views.values())

    def derive(self, net: Supernet, space: IR.Space) -> Architecture:
        q = {name: w.detach().cpu() for name, w in self.mixing_weights(net).items()}
        p = {name: w.detach().cpu() for name, w in tempered_softmax(net, self.tau).items()}
        return Architecture(tuple(
            dst_cell(kind, q[kind.name], p[kind.name], net.views[kind.name].zero.cpu())
            if kind.name in net.views else derive_cell(kind, ()) for kind in space.cell_kinds))


# --- Engine- and Transit-cells -------------------------------------------------------------

def engine_cells(text: str, cells: list[tuple[int, str]]) -> set[int]:
    """The stage indices of the Engine-cells among `cells` (stage index, kind), in the
    network's order, as `--engine-cells` names them."""
    text = text.strip()
    by_kind: dict[str, list[int]] = {}
    for index, kind in cells:
        by_kind.setdefault(kind, []).append(index)
    if text == "first":
        chosen = {indices[0] for indices in by_kind.values()}
    elif text == "last":
        chosen = {indices[-1] for indices in by_kind.values()}
    elif text == "all":
        chosen = {index for index, _ in cells}
    else:
        try:
            positions = [int(part) for part in text.split(",")]
        except ValueError:
            raise NasError(f"--engine-cells takes first, last, all or cell positions, not "
                           f"{text!r}", hint="e.g. --engine-cells 0,2") from None
        if any(not 0 <= position < len(cells) for position in positions):
            raise NasError(f"--engine-cells {text}: the network has cells 0..{len(cells) - 1}")
        chosen = {cells[position][0] for position in positions}
    missing = sorted(kind for kind, indices in by_kind.items() if not chosen & set(indices))
    if missing:
        raise NasError(f"--engine-cells {text} leaves cell kind {', '.join(missing)} without an "
                       "Engine-cell, so its architecture parameters would never learn",
                       hint="name at least one cell of each kind, or use 'first'")
    return chosen


def transit_stages(net: Supernet, text: str) -> list[tuple[int, str]]:
    """(stage index, kind) of the supernet's Transit-cells: every cell not an Engine-cell."""
    cells = sorted((index, name) for name, view in net.views.items() for index in view.stages)
    engines = engine_cells(text, cells)
    return [(index, name) for index, name in cells if index not in engines]


# --- weights ------------------------------------------------------------------------------

def tempered_softmax(net: Supernet, tau: float) -> dict[str, torch.Tensor]:
    """Eq. 5: p_k = exp(alpha_k / tau) / sum_k exp(alpha_k / tau) over each edge's candidates
    that derivation may choose (the others, never derived, are never mixed either)."""
    return {name: torch.softmax(view.masked(view["alpha"], view.derivable) / tau, dim=-1)
            for name, view in net.views.items()}


def thresholds(beta: torch.Tensor) -> torch.Tensor:
    """t^(j) = sigmoid(beta^(j)); kept below 1 so that each node's strongest connection
    survives Eq. 8 in floating point too."""
    return torch.sigmoid(beta).clamp(max=1 - 1e-6)


def sparsify(p: torch.Tensor, incoming: Mapping[int, Sequence[int] | torch.Tensor],
             t: torch.Tensor) -> torch.Tensor:
    """q^ of Eq. 7-9 for one cell kind: rows are edges; `incoming` gives each intermediate
    node's searchable input edges (indices, or an index tensor), in node order, and t one
    threshold per node."""
    q = torch.zeros_like(p)
    for position, edges in enumerate(incoming.values()):
        rows = torch.as_tensor(edges, device=p.device, dtype=torch.long)
        if not len(rows):
            continue  # a node of fixed edges only
        block = p[rows]
        normalized = block / block.max()  # Eq. 7: connection normalization over the node
        q = q.index_put((rows,), F.relu(normalized - t[position]))  # Eq. 8
    return q / q.sum(-1, keepdim=True).clamp_min(_TINY)  # Eq. 9: operation normalization


# --- derived architectures ----------------------------------------------------------------

def cell_mask(kind: IR.CellKind, cell: DerivedCell) -> torch.Tensor:
    """A derived cell as a bool per searchable edge and candidate (its fixed edges run
    anyway). A searchable edge is the only edge between its two nodes."""
    edges = {(src, dst): index for index, (src, dst, _) in enumerate(kind.edges)}
    mask = torch.zeros(len(kind.edges), max(len(names) for _, _, names in kind.edges),
                       dtype=torch.bool)
    for src, dst, op in cell.edges:
        index = edges.get((src, dst))
        if index is None:
            continue  # a fixed edge
        mask[index, kind.edges[index][2].index(op)] = True
    return mask


def dst_cell(kind: IR.CellKind, q: torch.Tensor, p: torch.Tensor,
             zero: torch.Tensor) -> DerivedCell:
    """The derived cell of EnTranNAS-DST: every edge with a connection in S_j (Eq. 10),
    with its strongest one; nodes keep any number of inputs. In order as `derive_cell`:
    per node by strength (ties to the earlier edge), or by edge where every edge is kept.
    `zero` (edges, candidates) marks the candidates that output zeros. An output vertex
    (NAS-Bench-101's), which concatenates what vertices bring, keeps its strongest wire from
    a vertex (by p) where no such wire has a connection."""
    def kept(index: int, names: tuple[str, ...]) -> tuple[float, str] | None:
        row = q[index, :len(names)].tolist()
        if max(row) > 0:
            return max(row), names[row.index(max(row))]
        if index == needed:
            strongest = p[index, :len(names)].tolist()
            return 0.0, names[strongest.index(max(strongest))]
        if kind.derive.top is None:
            return 0.0, names[stand_in_op(kind, index, p[index, :len(names)].tolist(),
                                          zero[index, :len(names)].tolist())]
        return None

    needed = _output_wire(kind, q, p)
    return cell_of(kind, kept, limit=False)


def _output_wire(kind: IR.CellKind, q: torch.Tensor, p: torch.Tensor) -> int | None:
    """The searchable edge an output vertex must keep for want of a connected wire from a
    vertex, or None."""
    if kind.output != "vertex":
        return None
    last = kind.intermediate[-1]
    wires = [index for index, (src, dst, _) in enumerate(kind.edges)
             if dst == last and src >= kind.inputs]
    fixed = any(src >= kind.inputs for src, _, _ in kind.fixed_into(last))
    if fixed or not wires or any(q[index].max() > 0 for index in wires):
        return None
    return max(wires, key=lambda index: (p[index].max().item(), -index))
