"""Searchable edges in torch: the naive mix and a compiled plan, with the same parameters.

Both hold the candidates' layers in the same place (`ops.<candidate>.<position>`), so their
parameter names, shapes and checkpoints are identical; a plan only changes which layers run
and how their outputs are combined. A plan is evaluated by a small interpreter with one
method per node kind.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from nasdsl.backends.torch.kernels import chain_kernel, pad_to
from nasdsl.backends.torch.layers import build_layer
from nasdsl.dsl.space import Op
from nasdsl.simplify.plan import (Apply, Branch, Merged, Mix, Plan, PlanInterpreter, Weight,
                                  recomputable, weights_of)

# Below this a group's probability p(I_S) counts as zero: its conditional weights are then 0
# (not 0/0), and the group's output is multiplied by p(I_S) = 0 anyway.
_TINY = 1e-30


def add_all(terms: list[torch.Tensor]) -> torch.Tensor:
    """The sum of the terms, without the extra activation-sized tensor that `sum` makes of
    0 + the first (terms are tensors, or scalars after at least one tensor)."""
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total


class NaiveEdge(nn.Module):
    """y = sum_i w_i op_i(x) over every candidate (DARTS's MixedOp)."""

    def __init__(self, ops: tuple[Op, ...], normalize_kernels: bool = False):
        super().__init__()
        self.names = tuple(op.name for op in ops)
        self.ops = nn.ModuleList(
            nn.Sequential(*(build_layer(m, normalize_kernels) for m in op.modules)) for op in ops)

    def forward(self, x: torch.Tensor, weights: torch.Tensor,
                sampled: torch.Tensor | None = None,
                active: torch.Tensor | None = None) -> torch.Tensor:
        """The mix; with `sampled` (one-hot weights), only that candidate runs, as GDAS's
        reference code does: the other weights, zero in value, are added as scalars so that
        they keep their straight-through gradients. With `active` (a bool per candidate),
        only the active candidates run, each times its weight (a derived sub-graph)."""
        if sampled is not None:
            chosen = int(sampled)
            return weights[chosen] * self.ops[chosen](x) + (weights.sum() - weights[chosen])
        if active is not None:
            return self._active(x, weights, active)
        return add_all([w * op(x) for w, op in zip(weights, self.ops)])

    def _active(self, x: torch.Tensor, weights: torch.Tensor,
                active: torch.Tensor) -> torch.Tensor:
        return add_all([weights[k] * self.ops[k](x) for k in active.nonzero().flatten().tolist()])


class PlanEdge(NaiveEdge):
    """The same candidates' layers, evaluated as the plan says."""

    def __init__(self, ops: tuple[Op, ...], plan: Plan, normalize_kernels: bool = False):
        super().__init__(ops, normalize_kernels)
        self.plan = plan
        self.stride = max((m.stride for op in ops for m in op.modules), default=1)
        self._weights = weights_of(plan.root)
        numerators = torch.zeros(len(self._weights), len(ops))
        denominators = torch.zeros(len(self._weights), len(ops))
        for row, weight in enumerate(self._weights):
            numerators[row, sorted(weight.num)] = 1.0
            if weight.den is not None:
                denominators[row, sorted(weight.den)] = 1.0
        self.register_buffer("_numerators", numerators, persistent=False)
        self.register_buffer("_denominators", denominators, persistent=False)
        self.register_buffer("_unnormalized", (denominators.sum(1) == 0).to(numerators.dtype),
                             persistent=False)
        self._row = {weight: row for row, weight in enumerate(self._weights)}

    def forward(self, x: torch.Tensor, weights: torch.Tensor,
                sampled: torch.Tensor | None = None,
                active: torch.Tensor | None = None) -> torch.Tensor:
        """The plan with these weights; a sampled candidate changes nothing here, since the
        plan at one-hot weights computes that candidate (vertex exactness). Active
        candidates run by themselves, as in the naive edge: a plan is made for weights on
        the simplex, and a sub-graph's sum of several candidates is not on it (a plan with
        tied parameters runs with the inactive weights zeroed: its candidates' own layers
        are not all trained)."""
        if active is not None and not self.plan.tied:
            return self._active(x, weights, active)
        if active is not None:
            weights = weights * active.to(weights.device, weights.dtype)
        weights = weights.to(x.dtype)
        numerators = self._numerators.to(x.dtype) @ weights
        denominators = self._denominators.to(x.dtype) @ weights + self._unnormalized.to(x.dtype)
        ratios = numerators / denominators.clamp_min(_TINY)
        return _Interpreter(self, ratios).run(self.plan.root, x)


class _Interpreter(PlanInterpreter):
    """Evaluates plan nodes against an edge's layers and one forward's weight ratios."""

    def __init__(self, edge: PlanEdge, ratios: torch.Tensor):
        self.edge = edge
        self.ratios = ratios

    def weight(self, weight: Weight) -> torch.Tensor:
        return self.ratios[self.edge._row[weight]]

    def apply(self, node: Apply, x):
        return self.edge.ops[node.candidate][node.position](x)

    def mix(self, node: Mix, x):
        total = None
        for branch in node.branches:
            if self.edge.plan.recompute and recomputable(branch):
                out = checkpoint(self._weighted, branch, x, use_reentrant=False)
            else:
                out = self._weighted(branch, x)
            total = out if total is None else total + out
        if total is None:  # every candidate was `zero`
            stride = self.edge.stride
            return x[:, :, ::stride, ::stride].mul(0.0)
        return total

    def _weighted(self, branch: Branch, x):
        out = self.run(branch.node, x)
        return out if branch.weight is None else self.weight(branch.weight) * out

    def merged(self, node: Merged, x):
        """One conv with kernel sum_t w_t K_t and bias sum_t w_t b_t (Eq. 14-16). Building
        the kernel is recomputed in backward rather than keeping each term's kernel-sized
        tensors: they weigh as much as many activations at large channel counts, and
        recomputing them costs kernel-sized work only."""
        kernel, bias = checkpoint(self._merged_kernel, node, x.new_empty(0),
                                  use_reentrant=False)
        return F.conv2d(x, kernel, bias, stride=node.stride, padding=node.extent // 2)

    def _merged_kernel(self, node: Merged, like: torch.Tensor):
        kernel = bias = None
        for term in node.terms:
            layers = [self.edge.ops[s.candidate][s.position] for s in term.steps]
            part, part_bias = chain_kernel([s.module for s in term.steps], layers, node.c_in,
                                           like)
            weight = self.weight(term.weight)
            part = weight * pad_to(part, node.extent)
            kernel = part if kernel is None else kernel + part
            if part_bias is not None:
                bias = weight * part_bias if bias is None else bias + weight * part_bias
        return kernel, bias
