"""Carrying a supernet's state into the supernet of the next stage of a progressive search:
the same network with fewer candidates on some edges and, perhaps, wider partial channels.

Each tensor of the new supernet comes from the old one's tensor of the same role, where it
has one:
- a candidate's layers from the same candidate (by name) of the same edge of the same stage;
  every other layer from the one of the same name;
- a tensor that grew along its channel dimensions (a candidate's layers placed at 1/K of
  the channels for a smaller K) keeps its old entries and fills the new ones with copies of
  entries drawn at random (Net2Net's random mapping, as DrNAS's `wider`). One candidate's
  layers draw one mapping per old and new size, so that a conv's new output channels, the
  batch norm after it and the next conv's new input channels copy the same channels;
- an architecture tensor of one entry per candidate (`edge-candidate`) keeps each surviving
  candidate's entry; the padding columns of an edge with fewer candidates than the widest
  are zero. Other architecture tensors keep their values where their shape is unchanged.
A tensor with no counterpart keeps its fresh initialization. Optimizer states (momentum,
Adam's moments) are carried with their parameters by the same mappings.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from nasdsl.backends.torch.edge import NaiveEdge
from nasdsl.backends.torch.sharing import SharedSourceCell

Take = Callable[[torch.Tensor], torch.Tensor]  # the old tensor (or a state of it) -> the new


class Carry:
    """How each tensor of `new` (by state-dict key) comes from one of `old`; random
    mappings drawn from `generator` (the global one by default)."""

    def __init__(self, old: nn.Module, new: nn.Module, generator: torch.Generator | None = None):
        self._generator = generator
        self._mappings: dict[tuple[str, int, int], torch.Tensor] = {}
        old_state, new_state = old.state_dict(), new.state_dict()
        renamed = _candidate_prefixes(old, new)
        self.sources: dict[str, tuple[str, Take]] = {}
        for key, tensor in new_state.items():
            prefix = next((p for p in renamed if key.startswith(p + ".")), None)
            source = renamed[prefix] + key[len(prefix):] if prefix else key
            if source not in old_state:
                continue
            take = self._take(old_state[source].shape, tensor.shape, prefix or key)
            if take is not None:
                self.sources[key] = (source, take)
        self._columns(old, new)

    # --- what each tensor takes -----------------------------------------------------------------

    def _take(self, before: torch.Size, after: torch.Size, owner: str) -> Take | None:
        """Copy, or widen along the grown channel dimensions (the first two) with `owner`'s
        mappings; None where the rank differs or another dimension changed (no
        counterpart)."""
        if len(before) != len(after) or any(b > a for b, a in zip(before, after)) or \
                before[2:] != after[2:]:
            return None
        grown = [(dim, b, a) for dim, (b, a) in enumerate(zip(before, after)) if a != b]
        indices = [(dim, self._mapping(owner, b, a)) for dim, b, a in grown]

        def take(tensor: torch.Tensor) -> torch.Tensor:
            for dim, index in indices:
                tensor = tensor.index_select(dim, index.to(tensor.device))
            return tensor.clone()
        return take

    def _mapping(self, owner: str, before: int, after: int) -> torch.Tensor:
        """0..before-1, then after-before draws among them: one per owner and sizes."""
        if (owner, before, after) not in self._mappings:
            extra = torch.randint(before, (after - before,), generator=self._generator)
            self._mappings[owner, before, after] = torch.cat([torch.arange(before), extra])
        return self._mappings[owner, before, after]

    def _columns(self, old: nn.Module, new: nn.Module) -> None:
        """The architecture tensors of one entry per candidate: each surviving candidate's
        column, by name, on every edge."""
        for spec in getattr(new, "arch_specs", ()):
            if spec.shape != "edge-candidate" or spec.name not in old.architecture:
                continue
            for kind, parameter in new.architecture[spec.name].items():
                if kind not in old.architecture[spec.name]:
                    continue
                columns, real = _column_map(old.views[kind].edges, new.views[kind].edges)
                key = f"architecture.{spec.name}.kind_{kind}"
                self.sources[key] = (key, lambda t, c=columns, r=real:
                                     t.gather(1, c.to(t.device)) * r.to(t.device))

    # --- applying it ----------------------------------------------------------------------------

    def load(self, old: nn.Module, new: nn.Module) -> None:
        """Set `new`'s carried tensors from `old`'s."""
        old_state = old.state_dict()
        with torch.no_grad():
            new.load_state_dict({**new.state_dict(), **{
                key: take(old_state[source]) for key, (source, take) in self.sources.items()}})

    def optimizer(self, old_net: nn.Module, new_net: nn.Module,
                  old_optimizer: torch.optim.Optimizer, new_optimizer: torch.optim.Optimizer):
        """Carry the per-parameter state of `old_optimizer` (over `old_net`'s parameters)
        into `new_optimizer` (over `new_net`'s): tensors shaped like their parameter by the
        parameter's mapping, the rest (Adam's step count) as they are."""
        old_parameters = dict(old_net.named_parameters())
        for key, parameter in new_net.named_parameters():
            if key not in self.sources:
                continue
            source, take = self.sources[key]
            state = old_optimizer.state.get(old_parameters[source])
            if not state:
                continue
            new_optimizer.state[parameter] = {
                name: (take(value) if value.shape == old_parameters[source].shape
                       else value.clone()) if torch.is_tensor(value) else value
                for name, value in state.items()}


def _candidate_prefixes(old: nn.Module, new: nn.Module) -> dict[str, str]:
    """New module name -> old module name, for each candidate's layers of every edge that
    both supernets have (by its place: `stages.S.edges.I`, inside a partial-channel wrapper
    or not), matched by the candidate's name."""
    old_edges = dict(_edges(old))
    renamed = {}
    for place, (name, module) in _edges(new):
        if place not in old_edges:
            continue
        old_name, before = old_edges[place][0], old_edges[place][1].names
        for index, candidate in enumerate(module.names):
            if candidate in before:
                renamed[f"{name}.ops.{index}"] = f"{old_name}.ops.{before.index(candidate)}"
    return renamed


def _edges(net: nn.Module):
    """(place, (module name, edge)) of every searchable edge's candidates; feature-sharing
    cells, whose layers are indexed by the distinct candidates of a source node, cannot be
    matched by place and are refused."""
    for name, module in net.named_modules():
        if isinstance(module, SharedSourceCell):
            raise ValueError("a feature-sharing supernet's state cannot be carried to another "
                             "space: its layers are indexed by each source's distinct ops")
        if isinstance(module, NaiveEdge):
            yield name.removesuffix(".edge"), (name, module)


def _column_map(before, after) -> tuple[torch.Tensor, torch.Tensor]:
    """(edges, new widest) old column of each new column, and 1 where it is a real one."""
    width = max(len(names) for _, _, names in after)
    columns = torch.zeros(len(after), width, dtype=torch.long)
    real = torch.zeros(len(after), width)
    for row, ((_, _, old_names), (_, _, names)) in enumerate(zip(before, after)):
        for column, name in enumerate(names):
            if name in old_names:
                columns[row, column] = old_names.index(name)
                real[row, column] = 1.0
    return columns, real
