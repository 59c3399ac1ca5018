"""ROME (Wang, Chu et al., "Robustifying Memory-Efficient NAS via Topology Disentanglement and
Gradient Accumulation", seed 001, Alg. 1): single-path search like GDAS, with the topology
searched apart from the operations and gradients accumulated over K sampled sub-models.

Topology disentanglement (Sec. 3.3-3.4). Besides the operation parameters alpha (a row per
edge, `alpha`), topology parameters `beta` say which input edges each intermediate node
keeps; a sub-model z samples its edges first and their operations second.
- ROME-v2 (`--rome-version 2`, the default): a beta per edge; a node keeps
  the 2 input edges ranked first by log softmax(beta) + g, g ~ Gumbel(0, 1): Gumbel-Top2
  (Eq. 7-8), which draws two edges without replacement (Sec. 3.5).
- ROME-v1 (`--rome-version 1`): a beta per pair of input edges; a node keeps
  the pair drawn by Gumbel-Max over its pairs (Eq. 4-5), so B_ij = sum of the drawn
  indicators I_j^(i,k) over the pairs holding e_ij (Eq. 6).
Every node so has in-degree 2 (Eq. 1), as in the derived cell. The 2 is the kind's `derive
top 2`; a kind that derives `all` (NB201) has no topology to search: it keeps every edge and
samples only operations. Each kept edge runs one operation drawn with the hard Gumbel-softmax
(Eq. 2-3). Gates and operation weights are hard 0/1 forward, with straight-through gradients
from their relaxations (Eq. 3, Eq. 7, relaxed Eq. 5); unsampled candidates and left-out edges
add their zero-valued weights as scalars (GDAS's reference code; `NaiveEdge.forward`, and
the node terms of `Rome.run`), so that their gradients reach alpha and beta too. Only the
kept edges, and on each only its sampled candidate, are computed.

`none` (Sec. 4.1). A node that keeps exactly 2 edges cannot keep a `none` one, so ROME
searches DARTS's space without `none`. Rather than reject a space holding it, ROME masks it
out of sampling and derivation, together with any op the kind's derivation excludes, so that
every sub-model is an architecture ROME can derive: `spaces/darts.nas` runs as it is, and on
NB201 `none` is never chosen either.

Gradient accumulation (Sec. 3.6, Eq. 11-12; K = 7, `--rome-k`). The architecture step samples
K sub-models on the validation batch and averages their gradients (Eq. 11); the weight step
samples another K on the training batch and sums theirs (Eq. 12 has no 1/K: each sub-model
trains its operations as fully as a step of its own would). Each sub-model's backward runs
before the next one's forward, so memory stays that of one sub-model.

Temperature. The seed says only that tau "gradually decreases" (Eq. 3). ROME builds on GDAS
(without its two components it is GDAS, Table 6), so tau falls linearly from --tau-max (10)
to --tau-min (0.1) over the epochs, GDAS's schedule, for operations and edges alike.

Derivation (Alg. 1 line 14): z* = argmax_z p(z; alpha, beta), p(z) = prod over the kept edges
of p(e; beta) p(o | e; alpha) (Eq. 9). It factorizes over nodes: a node keeps the edge set S
that maximizes p(S; beta) prod_{e in S} max_o p(o | e; alpha), each kept edge its likeliest
operation; p(S) is the pair's probability (v1, Eq. 4) or that of drawing S without replacement
(v2, Sec. 3.5). The supernet is evaluated on z*; the logged weights are the probability that a
sub-model runs op o on edge e, p(e in z) p(o | e).

Simplification. A sub-model runs one candidate per kept edge, and no simplified plan computes
less (a plan computes what candidates share for all of them), so ROME is `single_path` and
its supernet keeps the naive mix, as GDAS's. Forced rewrites (--rewrites) run the plan at the one-hot weights,
which equals the sampled candidate (vertex exactness) but computes more.
"""

from __future__ import annotations

import itertools
import weakref

import attrs
import torch
import torch.nn.functional as F

from nasdsl.architecture.derive import Architecture, DerivedCell
from nasdsl.architecture.topology import edge_sets
from nasdsl.arguments import POSITIVE
from nasdsl.backends.torch.contract import (ALPHA, ArchParameter, KindView, Run, candidate_masks,
                                         masked)
from nasdsl.backends.torch.network import Supernet
from nasdsl.errors import NasError
from nasdsl.methods import register
from nasdsl.methods.base import Option
from nasdsl.methods.gdas import Annealed

# --- sampling ------------------------------------------------------------------------------------

def gumbel_noise(like: torch.Tensor) -> torch.Tensor:
    """Gumbel(0, 1) samples of `like`'s shape: g = -log(-log u), u ~ U(0, 1) (footnote 3)."""
    return -torch.empty_like(like).exponential_().log()


def straight_through(hard: torch.Tensor, soft: torch.Tensor) -> torch.Tensor:
    """`hard` in value, the gradient of `soft`."""
    return hard - soft.detach() + soft


def hard_gumbel_softmax(logits: torch.Tensor, tau: float) -> torch.Tensor:
    """Per row, one-hot at argmax(log softmax(logits) + g) (Eq. 2) with the gradient of the
    relaxation softmax((log softmax(logits) + g) / tau) (Eq. 3); -inf entries are never drawn."""
    scores = torch.log_softmax(logits, -1) + gumbel_noise(logits)
    hard = F.one_hot(scores.argmax(-1), logits.shape[-1]).to(logits.dtype)
    return straight_through(hard, torch.softmax(scores / tau, -1))


def gumbel_top_k(logits: torch.Tensor, valid: torch.Tensor, k: int | torch.Tensor,
                 tau: float) -> torch.Tensor:
    """Per row, the indicator of the k valid entries ranked first by log softmax(logits) + g
    (Gumbel-Top2 for k = 2, Eq. 7-8; Gumbel-Max for k = 1, Eq. 5), k one or one per row, all of
    them where a row has no more, with the gradient of the relaxation
    softmax((log softmax(logits) + g) / tau)."""
    scores = torch.log_softmax(masked(logits, valid), -1) + gumbel_noise(logits)
    ranks = scores.argsort(-1, descending=True).argsort(-1)
    k = torch.as_tensor(k, device=ranks.device).unsqueeze(-1)
    hard = (ranks < k).to(scores.dtype) * valid
    return straight_through(hard, torch.softmax(scores / tau, -1))


def without_replacement(p: torch.Tensor, chosen: tuple[int, ...]) -> torch.Tensor:
    """Probability that draws without replacement from the categorical `p` pick exactly the
    positions `chosen`, in any order: for two, p_i p_k / (1 - p_i) + p_k p_i / (1 - p_k), what
    Gumbel-Top2 draws (Sec. 3.5)."""
    total = p.new_zeros(())
    for order in itertools.permutations(chosen):
        probability, drawn = p.new_ones(()), p.new_zeros(())
        for position in order:
            probability = probability * p[position] / (1 - drawn).clamp_min(1e-30)
            drawn = drawn + p[position]
        total = total + probability
    return total


@attrs.frozen
class KindLayout:
    """What ROME samples in one cell kind, as tensors on the supernet's device."""

    allowed: torch.Tensor  # (edges, candidates): ops a sub-model may run and derivation keep
    sets: tuple[tuple[tuple[int, ...], ...], ...]  # per node, the edge sets it may keep
    # The topology choices, None where the kind keeps every edge: per node a row of indices
    # into the topology parameters (its edges for v2, its pairs for v1), padded where `valid`
    # is False; `members` (choices, edges) says which edges a choice keeps; `picks` (nodes,)
    # how many choices are drawn at each node.
    groups: torch.Tensor | None = None
    valid: torch.Tensor | None = None
    members: torch.Tensor | None = None
    picks: torch.Tensor | None = None
    feeds: torch.Tensor | None = None  # (edges, nodes): the node each edge feeds


def samplable(derivable: torch.Tensor, zero: torch.Tensor) -> torch.Tensor:
    """The candidates ROME may sample and derive: not `none`, not excluded by the kind's
    derivation rule (masks as `contract.candidate_masks` gives them)."""
    return derivable & ~zero


def kind_layout(view: KindView, version: int) -> KindLayout:
    kind = view.kind
    allowed = samplable(view.derivable, view.zero)
    sets = tuple(tuple(edge_sets(kind, node)) for node in view.choosing)
    if kind.derive.top is None:
        return KindLayout(allowed, sets)
    device, dtype = view["alpha"].device, view["alpha"].dtype
    if version == 2:
        choices = [list(view.incoming[node]) for node in view.choosing]
        members = torch.eye(len(view.edges), dtype=dtype)
        picks = torch.tensor([kind.keeps(node) for node in view.choosing])
    else:
        choices = [[j for j, (owner, _) in enumerate(view.edge_sets) if owner == node]
                   for node in view.choosing]
        members = torch.zeros(len(view.edge_sets), len(view.edges), dtype=dtype)
        for j, (_, chosen) in enumerate(view.edge_sets):
            members[j, list(chosen)] = 1.0
        picks = torch.ones(len(view.choosing), dtype=torch.long)
    width = max(len(row) for row in choices)
    groups = torch.tensor([row + [0] * (width - len(row)) for row in choices])
    valid = torch.tensor([[True] * len(row) + [False] * (width - len(row)) for row in choices])
    # Which node each edge feeds, as a (edges, nodes) 0/1 matrix over `view.nodes`.
    feeds = torch.zeros(len(view.edges), len(view.nodes), dtype=dtype)
    for position, node in enumerate(view.nodes):
        feeds[list(view.incoming[node]), position] = 1.0
    return KindLayout(allowed, sets, groups.to(device), valid.to(device),
                      members.to(device), picks.to(device), feeds.to(device))


@attrs.frozen
class SubModel:
    """One sampled architecture z, per cell kind: hard operation weights (edges, candidates),
    the candidate each edge runs (-1: the edge is left out) and the hard edge gates B (None
    where every edge is kept)."""

    weights: dict[str, torch.Tensor]
    sampled: dict[str, torch.Tensor]
    gates: dict[str, torch.Tensor | None]


# --- the method ----------------------------------------------------------------------------------

@register
class Rome(Annealed):
    name = "rome"
    single_path = True
    options = (*Annealed.options,
        Option("rome-version", int, 2,
               "ROME's edge sampling: 2 = Gumbel-Top2 over each node's input edges (seed 001 "
               "Eq. 7-8), 1 = Gumbel-Max over each node's pairs of input edges (Eq. 4-6)",
               choices=(1, 2)),
        Option("rome-k", POSITIVE, 7,
               "ROME: sub-models sampled per step for each gradient accumulation, of the "
               "architecture (averaged, Eq. 11) and of the weights (summed, Eq. 12)"),
    )

    def __init__(self, config):
        self._layouts: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        super().__init__(config)

    @property
    def version(self) -> int:
        return self.option("rome-version")

    @property
    def samples(self) -> int:
        """K, the sub-models of one accumulation."""
        return self.option("rome-k")

    # --- the supernet ------------------------------------------------------------------------

    def arch_parameters(self):
        """alpha, and the topology parameters beta: per edge (v2) or per set of input edges
        a node may keep (v1)."""
        return (ALPHA, ArchParameter("beta", "edge" if self.version == 2 else "edge-set"))

    def prepare_space(self, space, batches, device, run_dir):
        """The space as loaded, once every edge is known to have an op ROME may sample."""
        for kind in (kind for kind in space.cell_kinds if kind.edges):
            masks = candidate_masks(kind, space)
            allowed = samplable(masks["derivable"], masks["zero"])
            for (src, dst, _), row in zip(kind.edges, allowed):
                if not row.any():
                    raise NasError(
                        f"ROME cannot search {kind.place(src, dst)} of cell '{kind.name}': it "
                        "samples neither `none` (seed 001 Sec. 4.1) nor ops the derivation "
                        "excludes, and the edge has no other candidate",
                        hint="give the edge another candidate, or search it with gdas")
        return space

    def layout(self, net: Supernet, name: str) -> KindLayout:
        layouts = self._layouts.setdefault(net, {})
        if name not in layouts:
            layouts[name] = kind_layout(net.views[name], self.version)
        return layouts[name]

    # --- sampling ----------------------------------------------------------------------------

    def sample(self, net: Supernet) -> SubModel:
        """A sub-model z (Alg. 1 lines 4-5): edges by Eq. 6 (v1) or Eq. 7-8 (v2), then an
        operation per edge by Eq. 3."""
        weights, sampled, gates = {}, {}, {}
        for name, view in net.views.items():
            layout = self.layout(net, name)
            weights[name] = hard_gumbel_softmax(view.masked(view["alpha"], layout.allowed),
                                                self.tau)
            chosen_ops = weights[name].detach().argmax(-1)
            if layout.groups is None:
                gates[name] = None
                sampled[name] = chosen_ops
                continue
            beta = view["beta"]
            drawn = gumbel_top_k(beta[layout.groups], layout.valid, layout.picks, self.tau)
            per_choice = beta.new_zeros(beta.shape).index_put(
                (layout.groups[layout.valid],), drawn[layout.valid])
            gates[name] = per_choice @ layout.members  # B_ij (Eq. 6 for v1)
            kept = gates[name].detach() > 0.5
            sampled[name] = torch.where(kept, chosen_ops, torch.full_like(chosen_ops, -1))
        return SubModel(weights, sampled, gates)

    def run(self, net) -> Run:
        """A sampled sub-model (`sample`), run as `sub_model_run` says."""
        return self.sub_model_run(net, self.sample(net))

    def sub_model_run(self, net: Supernet, sub: SubModel) -> Run:
        """Only the sub-model's edges and candidates run. Its kept edges are scaled by their
        hard gates (1 in value), and the gates of the edges it leaves out (0 in value) are
        added to the nodes, so that the straight-through gradients of every gate reach beta,
        as the unsampled candidates' weights reach alpha (Eq. 6-8)."""
        gated = {name: gate for name, gate in sub.gates.items() if gate is not None}
        left_out = {name: (gate * (sub.sampled[name] < 0)) @ self.layout(net, name).feeds
                    for name, gate in gated.items()}
        return Run(sub.weights, sampled=sub.sampled, edge_weights=gated, node_terms=left_out)

    # --- the two accumulated steps ------------------------------------------------------------

    def weight_backward(self, net, x, y) -> tuple[float, float]:
        """Eq. 12: the weight gradients of K sub-models z'_k, summed; returns their mean loss
        and accuracy."""
        losses, accuracies = [], []
        for _ in range(self.samples):
            logits = self.logits(net, x)
            loss = F.cross_entropy(logits, y)
            loss.backward()
            losses.append(loss.item())
            accuracies.append((logits.argmax(1) == y).float().mean().item())
        return sum(losses) / len(losses), sum(accuracies) / len(accuracies)

    def arch_step(self, net, train_batch, valid_batch, arch_optimizer, weight_optimizer) -> float:
        """Eq. 11: one step on the architecture gradients of K sub-models z_k, averaged, on
        the validation batch; returns their mean loss."""
        arch_optimizer.zero_grad(set_to_none=True)
        count = self.samples
        total = 0.0
        for _ in range(count):
            loss = self.arch_loss(net, *valid_batch)
            (loss / count).backward()
            total += loss.item()
        arch_optimizer.step()
        return total / count

    # --- the distribution p(z; alpha, beta) and its mode ---------------------------------------

    def op_probabilities(self, net: Supernet, name: str) -> torch.Tensor:
        """p(o | e; alpha): a softmax over the ops ROME may sample (0 elsewhere)."""
        view = net.views[name]
        return torch.softmax(view.masked(view["alpha"], self.layout(net, name).allowed), dim=-1)

    def set_probabilities(self, net: Supernet, name: str) -> list[torch.Tensor]:
        """Per intermediate node, p(S; beta) of each edge set S it may keep (layout order):
        the pair's softmax probability (v1, Eq. 4), the probability that Gumbel-Top2 draws
        S (v2, Sec. 3.5), or 1 for the full set of a kind that keeps every edge."""
        layout = self.layout(net, name)
        if layout.groups is None:
            return [net.views[name]["alpha"].new_ones(1) for _ in layout.sets]
        beta = net.views[name]["beta"]
        found = []
        for row, valid, sets in zip(layout.groups, layout.valid, layout.sets):
            p = torch.softmax(beta[row[valid]], dim=0)
            if self.version == 1:
                found.append(p)
                continue
            position = {int(edge): k for k, edge in enumerate(row[valid])}
            found.append(torch.stack([
                without_replacement(p, tuple(position[edge] for edge in chosen))
                for chosen in sets]))
        return found

    def edge_probabilities(self, net: Supernet, name: str) -> torch.Tensor:
        """p(e in z; beta), the marginal of each edge: the sum of p(S) over the sets S that
        keep it (for v2, p_1 + sum_i p_i p_1 / (1 - p_i), Sec. 3.5)."""
        layout = self.layout(net, name)
        marginal = net.views[name]["alpha"].new_zeros(len(net.views[name].edges))
        for sets, probabilities in zip(layout.sets, self.set_probabilities(net, name)):
            for chosen, probability in zip(sets, probabilities):
                marginal[list(chosen)] += probability
        return marginal

    @torch.no_grad()
    def eval_weights(self, net):
        """p(e in z) p(o | e): how likely a sub-model runs op o on edge e (what is logged)."""
        return {name: self.op_probabilities(net, name) * self.edge_probabilities(net, name)[:, None]
                for name in net.views}

    @torch.no_grad()
    def argmax_architecture(self, net: Supernet) -> dict[str, list[tuple[int, int]]]:
        """z* = argmax_z p(z; alpha, beta) (Alg. 1 line 14, Eq. 9) as (edge, op) pairs per
        kind: per node the set S maximizing log p(S) + sum_{e in S} max_o log p(o | e), ties
        to the earlier set; on each kept edge its likeliest op, ties to the earlier op."""
        chosen = {}
        for name in net.views:
            best, op = self.op_probabilities(net, name).max(dim=-1)
            log_best = best.log()
            layout = self.layout(net, name)
            kept = []
            for sets, probabilities in zip(layout.sets, self.set_probabilities(net, name)):
                scores = [float(probability.log() + log_best[list(edges)].sum())
                          for edges, probability in zip(sets, probabilities)]
                winner = max(range(len(sets)), key=lambda j: (scores[j], -j))
                kept += [(edge, int(op[edge])) for edge in sets[winner]]
            chosen[name] = kept
        return chosen

    def derive(self, net, space) -> Architecture:
        arch = self.argmax_architecture(net)
        cells = []
        for kind in space.cell_kinds:
            kept = [(kind.edges[edge][0], kind.edges[edge][1], kind.edges[edge][2][op])
                    for edge, op in arch.get(kind.name, ())]
            cells.append(DerivedCell(kind.name, tuple(
                edge for node in kind.intermediate
                for edge in (*kind.fixed_into(node), *(e for e in kept if e[1] == node)))))
        return Architecture(tuple(cells))

    def eval_run(self, net) -> Run:
        """The supernet as the derived architecture z*: its edges, one op each."""
        weights, sampled = {}, {}
        for name, kept in self.argmax_architecture(net).items():
            weights[name] = torch.zeros_like(net.views[name]["alpha"])
            sampled[name] = torch.full((len(net.views[name].edges),), -1, dtype=torch.long,
                                       device=weights[name].device)
            for edge, op in kept:
                weights[name][edge, op] = 1.0
                sampled[name][edge] = op
        return Run(weights, sampled=sampled)
