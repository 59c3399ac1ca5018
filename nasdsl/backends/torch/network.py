"""Whole supernets from a space's IR: stem, cells (naive or planned edges), layers, head.

Architecture parameters are held apart from the weights, one tensor per cell kind of shape
(edges, candidates) with a mask for edges that have fewer candidates; a search method turns
them into mixing weights of the same shape and hands those to `forward`.
"""

from __future__ import annotations

import attrs
import torch
import torch.nn.functional as F
from torch import nn

from nasdsl.backends.torch.edge import NaiveEdge, PlanEdge, add_all
from nasdsl.backends.torch.fits import check_fits
from nasdsl.backends.torch.layers import build_layer
from nasdsl.dsl import space as IR
from nasdsl.dsl.cost import Setting
from nasdsl.dsl.plan import Plan
from nasdsl.dsl.simplify import choose_plans, edge_site, network_sites
from nasdsl.dsl.topology import all_edge_sets
from nasdsl.errors import NasError


@attrs.frozen
class BuildOptions:
    """How to build a supernet: simplified edges or naive mixes, how plans are chosen,
    kernel normalization of the convs inside searchable edges (seed 000 Eq. 28)."""

    simplify: bool = True
    setting: Setting = Setting()
    rewrites: frozenset[str] | None = None  # None: the cost model chooses
    tie_params: bool = False
    normalize_kernels: bool = False
    device: str = "cpu"  # cpu, cuda, cuda:N or auto (cuda where available)
    dtype: torch.dtype = torch.float32
    # PC-DARTS: 1/K of a cell's channels through each edge's mix (the space must be loaded
    # with partial=K), and a learnable weight per edge normalized over each node's inputs.
    partial_channels: int = 1
    edge_normalization: bool = False
    # EnTranNAS (seed 004): feature sharing, one set of candidate layers per source node
    # (Eq. 6, `sharing.SharedSourceCell`), and a learnable scalar per intermediate node
    # (EnTranNAS-DST's thresholds beta, Eq. 8), an architecture parameter like edge_arch.
    share_source_features: bool = False
    node_parameters: bool = False
    # ROME-v1 (seed 001 Eq. 4): a topology parameter per set of `derive top` input edges of
    # each node (`topology.all_edge_sets`), in `set_arch`; kinds that derive all have none.
    edge_sets: bool = False


def resolve_device(name: str) -> torch.device:
    """The torch device a `--device` value names: cpu, cuda, cuda:N or auto (cuda where this
    machine has it); anything else, or a CUDA device this machine lacks, is a NasError that
    says which devices there are."""
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    here = "cpu" + "".join(f", cuda:{index}" for index in range(count))
    if name == "auto":
        return torch.device("cuda" if count else "cpu")
    kind, _, index = name.partition(":")
    if kind not in ("cpu", "cuda") or (index and not index.isdigit()) or (kind == "cpu" and index):
        raise NasError(f"unknown device '{name}'",
                       hint=f"devices are cpu, cuda, cuda:N or auto; this machine has {here}")
    if kind == "cuda" and int(index or 0) >= count:
        what = "no CUDA device" if not count else f"{count} CUDA device{'s' if count > 1 else ''}"
        raise NasError(f"device '{name}' is not available: this machine has {what}",
                       hint=f"use one of {here}, or auto")
    return torch.device(name)


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    batch, channels, height, width = x.shape
    return x.view(batch, groups, channels // groups, height, width).transpose(1, 2) \
        .reshape(batch, channels, height, width)


class PartialChannels(nn.Module):
    """PC-DARTS's partial channel connection: the first 1/K of the channels go through the
    edge's mix, the rest bypass it (max-pooled where the edge strides); the two are joined
    and the channels shuffled in K groups."""

    def __init__(self, edge: NaiveEdge, k: int):
        super().__init__()
        self.edge = edge
        self.k = k

    @property
    def ops(self):
        return self.edge.ops

    def forward(self, x: torch.Tensor, weights: torch.Tensor,
                sampled: torch.Tensor | None = None,
                active: torch.Tensor | None = None) -> torch.Tensor:
        part = x.shape[1] // self.k
        mixed = self.edge(x[:, :part], weights, sampled, active)
        rest = x[:, part:]
        if mixed.shape[2] != x.shape[2]:
            rest = F.max_pool2d(rest, 2, 2, ceil_mode=True)
        return channel_shuffle(torch.cat([mixed, rest], dim=1), self.k)


class Cell(nn.Module):
    """One cell: preprocessing of its inputs, its searchable edges (`edges`, mixed as the
    search says) and its fixed edges (`fixed`, each its one op, unweighted), node by node."""

    def __init__(self, cell: IR.Cell, plans: dict[int, Plan] | None, normalize: bool,
                 partial: int = 1):
        super().__init__()
        self._init_common(cell, normalize)
        # A plan without rewrites is the naive mix: NaiveEdge computes it and can run a
        # sampled candidate alone.
        edges = [PlanEdge(edge.candidates, plans[index], normalize)
                 if plans is not None and plans[index].rewrites
                 else NaiveEdge(edge.candidates, normalize)
                 for index, edge in enumerate(cell.edges)]
        self.edges = nn.ModuleList(edge if partial == 1 else PartialChannels(edge, partial)
                                   for edge in edges)

    def _init_common(self, cell: IR.Cell, normalize: bool) -> None:
        """What every cell has, whatever holds its searchable edges' layers: the kind, the
        preprocessing, the fixed edges and which edges enter each node."""
        self.kind = cell.kind
        self.preprocess = nn.ModuleList(
            nn.Sequential(*(build_layer(m) for m in modules)) for modules in cell.preprocess)
        self.fixed = nn.ModuleList(
            nn.Sequential(*(build_layer(m, normalize) for m in edge.candidates[0].modules))
            for edge in cell.fixed)
        self._incoming = {node: [(i, e.src) for i, e in enumerate(cell.edges) if e.dst == node]
                          for node in cell.kind.intermediate}
        self._fixed_into = {node: [(i, e.src) for i, e in enumerate(cell.fixed) if e.dst == node]
                            for node in cell.kind.intermediate}

    drop_path = 0.0  # DARTS's drop path on every edge output but identities, in training

    def forward(self, inputs: list[torch.Tensor], weights: torch.Tensor | None,
                sampled: torch.Tensor | None = None,
                edge_weights: torch.Tensor | None = None,
                active: torch.Tensor | None = None) -> torch.Tensor:
        """`active` (edges, candidates), optional: only the active candidates of an edge
        run, and an edge with none active is left out (a derived sub-graph)."""
        states = [pre(x) for pre, x in zip(self.preprocess, inputs)]
        for node in self.kind.intermediate:
            terms = self._fixed_terms(node, states)
            for i, src in self._incoming[node]:
                if (sampled is None or sampled[i] >= 0) and (active is None or
                                                             bool(active[i].any())):
                    out = self._edge(i, states[src], weights, sampled, active)
                    terms.append(out if edge_weights is None else out * edge_weights[i])
            if sampled is not None and edge_weights is not None:
                # Edges left out of a sampled topology add their gate, zero in value, so that
                # its straight-through gradient still reaches the topology parameters: what
                # NaiveEdge does for unsampled candidates, one level up (ROME, seed 001).
                terms += [edge_weights[i] for i, _ in self._incoming[node] if sampled[i] < 0]
            states.append(add_all(terms))
        if self.kind.output == "concat":
            return torch.cat(states[self.kind.inputs:], dim=1)
        return states[-1]

    def _fixed_terms(self, node: int, states: list[torch.Tensor]) -> list[torch.Tensor]:
        """The outputs of the fixed edges into `node`."""
        return [self._dropped(self.fixed[i](states[src]), self.fixed[i])
                for i, src in self._fixed_into[node]]

    def _edge(self, index: int, x: torch.Tensor, weights: torch.Tensor,
              sampled: torch.Tensor | None, active: torch.Tensor | None = None) -> torch.Tensor:
        edge = self.edges[index]
        out = edge(x, weights[index, :len(edge.ops)], None if sampled is None else sampled[index],
                   None if active is None else active[index, :len(edge.ops)])
        return self._dropped(out)

    def _dropped(self, out: torch.Tensor, layers: nn.Module | None = None) -> torch.Tensor:
        """DARTS's drop path, in training: the output zeroed for a random part of the
        batch and rescaled; an identity (layers all nn.Identity) is spared."""
        if not (self.training and self.drop_path > 0):
            return out
        if layers is not None and all(isinstance(layer, nn.Identity) for layer in layers):
            return out
        keep = 1.0 - self.drop_path
        mask = torch.empty(out.shape[0], 1, 1, 1, device=out.device, dtype=out.dtype)
        return out / keep * mask.bernoulli_(keep)


class ByKind(nn.Module):
    """Parameters keyed by cell-kind name, as a dict. A kind may have any name the language
    allows, `to` and `train` included, so each is stored under a prefix that no module
    attribute has."""

    def __init__(self, tensors: dict[str, torch.Tensor]):
        super().__init__()
        self._names = list(tensors)
        for name, tensor in tensors.items():
            self.register_parameter(f"kind_{name}", nn.Parameter(tensor))

    def __getitem__(self, name: str) -> nn.Parameter:
        if name not in self._names:
            raise KeyError(name)
        return getattr(self, f"kind_{name}")

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def __iter__(self):
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def keys(self) -> list[str]:
        return list(self._names)

    def values(self) -> list[nn.Parameter]:
        return [self[name] for name in self._names]

    def items(self) -> list[tuple[str, nn.Parameter]]:
        return [(name, self[name]) for name in self._names]


class Supernet(nn.Module):
    """The searchable network of a space; `forward(x, weights)` with weights per cell kind."""

    def __init__(self, space: IR.Space, options: BuildOptions = BuildOptions()):
        super().__init__()
        network = space.network
        self.space = space
        self.options = options
        # The kinds the search has parameters for: those with searchable edges.
        self.kinds = {kind.name: kind for kind in space.cell_kinds if kind.edges}
        self.stages = nn.ModuleList()
        partial = options.partial_channels
        device = resolve_device(options.device)
        check_fits(network, options.setting, torch.finfo(options.dtype).bits // 8, device,
                   partial)
        plans = choose_plans(network_sites(network, partial), options.setting, options.rewrites,
                             options.tie_params) if options.simplify else {}
        for stage in network.stages:
            if isinstance(stage, IR.Layer):
                self.stages.append(nn.Sequential(*(build_layer(m) for m in stage.modules)))
                continue
            if options.share_source_features:
                self.stages.append(_shared_source_cell(stage, options))
                continue
            cell_plans = {index: plans[edge_site(stage, edge, partial)]
                          for index, edge in enumerate(stage.edges)} if plans else None
            self.stages.append(Cell(stage, cell_plans, options.normalize_kernels,
                                    options.partial_channels))
        self.arch = ByKind({
            name: nn.Parameter(1e-3 * torch.randn(len(kind.edges), _widest(kind)))
            for name, kind in self.kinds.items()})
        self.edge_arch = ByKind({
            name: nn.Parameter(1e-3 * torch.randn(len(kind.edges)))
            for name, kind in self.kinds.items()} if options.edge_normalization else {})
        self.node_arch = ByKind({
            name: nn.Parameter(torch.zeros(kind.nodes))
            for name, kind in self.kinds.items()} if options.node_parameters else {})
        self.set_arch = ByKind({
            name: nn.Parameter(1e-3 * torch.randn(len(all_edge_sets(kind))))
            for name, kind in self.kinds.items()
            if options.edge_sets and kind.derive.top is not None})
        for name, kind in self.kinds.items():
            mask = torch.zeros(len(kind.edges), _widest(kind), dtype=torch.bool)
            for index, (_, _, names) in enumerate(kind.edges):
                mask[index, :len(names)] = True
            self.register_buffer(f"mask_{name}", mask, persistent=False)
        self.to(device=device, dtype=options.dtype)

    def mask(self, kind: str) -> torch.Tensor:
        return getattr(self, f"mask_{kind}")

    def weight_parameters(self):
        """The network's weights: every parameter but the architecture parameters."""
        arch = {id(p) for p in self.arch_parameters()}
        return [p for p in self.parameters() if id(p) not in arch]

    def arch_parameters(self):
        return [*self.arch.parameters(), *self.edge_arch.parameters(),
                *self.node_arch.parameters(), *self.set_arch.parameters()]

    def forward(self, x: torch.Tensor, weights: dict[str, torch.Tensor],
                sampled: dict[str, torch.Tensor] | None = None,
                edge_weights: dict[str, torch.Tensor] | None = None,
                active: dict[str | int, torch.Tensor] | None = None) -> torch.Tensor:
        """Logits for mixing `weights` per cell kind; `sampled` (an index per edge) marks
        one-hot weights of which only the sampled candidate need run, and an index of -1 an
        edge that is left out (a sampled topology); `edge_weights` scale each edge's output
        (PC-DARTS's edge normalization); `active` (a bool per edge and candidate, may stay
        on the CPU) runs only the active candidates of each edge, each times its weight, and
        leaves out an edge with none active (a derived sub-graph, EnTranNAS's Transit-cells).

        Every table is keyed by cell kind; an entry keyed by a stage index (the cell's
        position in `stages`) overrides its kind's entry for that one cell, so that cells of
        one kind, which share their architecture parameters, can run differently (EnTranNAS:
        the Engine-cell mixes, the Transit-cells run the derived sub-graph)."""
        return self.features(x, weights, sampled, edge_weights, active)[-1]

    def features(self, x: torch.Tensor, weights: dict[str, torch.Tensor],
                 sampled: dict[str, torch.Tensor] | None = None,
                 edge_weights: dict[str, torch.Tensor] | None = None,
                 active: dict[str | int, torch.Tensor] | None = None) -> list[torch.Tensor]:
        """The output of every stage, the last being the logits."""
        outputs: list[torch.Tensor] = []
        for index, stage in enumerate(self.stages):
            if isinstance(stage, Cell):
                start = outputs or [x]
                inputs = ([start[0]] * stage.kind.inputs + start)[-stage.kind.inputs:]
                kind = stage.kind.name
                outputs.append(stage(inputs, *(_entry(table, index, kind) for table in
                                               (weights, sampled, edge_weights, active))))
            else:
                outputs.append(stage(outputs[-1] if outputs else x))
        return outputs


def _entry(table: dict | None, index: int, kind: str):
    """One cell's entry of an optional table: by its stage index, else by its kind."""
    if not table:
        return None
    return table[index] if index in table else table.get(kind)


def _shared_source_cell(stage: IR.Cell, options: BuildOptions) -> Cell:
    """A cell with EnTranNAS's feature sharing; simplification there is the exact sharing of
    parameter-free prefixes (per-edge plans mix inside the edge, which sharing rules out)."""
    from nasdsl.backends.torch.sharing import SharedSourceCell  # it subclasses Cell
    if options.partial_channels != 1:
        raise ValueError("feature sharing does not combine with partial channels")
    return SharedSourceCell(stage, options.simplify, options.normalize_kernels)


def _widest(kind: IR.CellKind) -> int:
    return max(len(names) for _, _, names in kind.edges)


def softmax_weights(net: Supernet) -> dict[str, torch.Tensor]:
    """DARTS's mixing weights: a softmax over each edge's candidates (masked)."""
    return {name: torch.softmax(alpha.masked_fill(~net.mask(name), float("-inf")), dim=-1)
            for name, alpha in net.arch.items()}
