"""fp16's dynamic gradient scale, kept at the supernet's boundary.

fp16 gradients of small losses underflow, so the gradient entering the fp16 forward (at the
logits) is multiplied by a scale S, and every gradient leaving it is divided by S: into the
weights (a hook on each) and into whatever the forward was given that requires a gradient
(the input, the run's mixing weights, edge weights and node terms, which methods compute
from their architecture parameters). Every gradient outside the supernet is therefore the
unscaled one, however a method computes it (`backward` or `autograd.grad`, first or second
order), and a method needs to know nothing of fp16. An optimizer step whose gradients
overflowed is skipped (its gradients dropped) and S halved; after `interval` good steps S
doubles: torch.amp.GradScaler's rule and defaults. S and the count of good steps are
buffers, so checkpoints keep them.
"""

from __future__ import annotations

import attrs
import torch
from torch import nn

from nasdsl.backends.torch.contract import Run


class _ScaledGradient(torch.autograd.Function):
    """The identity, whose backward multiplies the gradient by `factor`."""

    @staticmethod
    def forward(ctx, tensor: torch.Tensor, factor: float) -> torch.Tensor:
        ctx.factor = factor
        return tensor.view_as(tensor)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return grad * ctx.factor, None


class GradScale(nn.Module):
    def __init__(self, scale: float = 2.0**16, growth: float = 2.0, backoff: float = 0.5,
                 interval: int = 2000):
        super().__init__()
        self.growth, self.backoff, self.interval = growth, backoff, interval
        self.register_buffer("scale", torch.tensor(scale))
        self.register_buffer("good_steps", torch.tensor(0))
        self._value = scale  # S as a Python number: hooks read it without a device sync
        self.register_load_state_dict_post_hook(lambda module, _: module._refresh())

    def _refresh(self) -> None:
        self._value = float(self.scale)

    # --- the boundary -----------------------------------------------------------------------

    def into(self, logits: torch.Tensor) -> torch.Tensor:
        """The logits, their gradient multiplied by S on its way into the forward."""
        return _ScaledGradient.apply(logits, self._value) if logits.requires_grad else logits

    def out_of(self, tensor: torch.Tensor) -> torch.Tensor:
        """A tensor given to the forward, its gradient divided by S on its way out."""
        return _ScaledGradient.apply(tensor, 1.0 / self._value) \
            if tensor.requires_grad else tensor

    def run_out_of(self, run: Run) -> Run:
        """`run` with each of its tables' tensors passed through `out_of`."""
        def table(entries):
            return None if entries is None else {key: self.out_of(value) if
                                                 value.is_floating_point() else value
                                                 for key, value in entries.items()}
        return attrs.evolve(run, weights=table(run.weights), edge_weights=table(run.edge_weights),
                            node_terms=table(run.node_terms))

    def watch(self, parameters) -> None:
        """Divide the gradient of each of `parameters` by S as it is computed."""
        for parameter in parameters:
            parameter.register_hook(lambda grad: grad / self._value)

    # --- the steps ------------------------------------------------------------------------------

    def guard(self, optimizer: torch.optim.Optimizer) -> None:
        """Skip `optimizer`'s steps whose gradients are not all finite, adjusting S."""
        optimizer.register_step_pre_hook(lambda opt, args, kwargs: self._check(opt))

    def _check(self, optimizer: torch.optim.Optimizer) -> None:
        gradients = [p.grad for group in optimizer.param_groups for p in group["params"]
                     if p.grad is not None]
        if not gradients:
            return
        finite = bool(torch.stack([torch.isfinite(g).all() for g in gradients]).all())
        with torch.no_grad():
            if not finite:
                for group in optimizer.param_groups:
                    for parameter in group["params"]:
                        parameter.grad = None  # the step leaves every parameter as it is
                self.scale.mul_(self.backoff)
                self.good_steps.zero_()
            else:
                self.good_steps.add_(1)
                if int(self.good_steps) == self.interval:
                    self.scale.mul_(self.growth)
                    self.good_steps.zero_()
        self._refresh()
