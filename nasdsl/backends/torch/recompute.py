"""A stage of a supernet recomputed in backward (checkpointed), the memory budget's coarsest
choice: its forward keeps nothing but its inputs, and runs again when its backward needs the
rest."""

from __future__ import annotations

import contextlib

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint


class _Keep(torch.autograd.Function):
    """The identity, saving its input for backward: a recomputed stage holds on to its
    inputs, and this way they count among the tensors saved for backward, as they stay in
    memory."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return grad


@contextlib.contextmanager
def _buffers_restored(module: nn.Module):
    """Runs the recomputation without leaving a trace in the module's buffers: batch norm
    would otherwise move its running statistics a second time for the same batch."""
    kept = [(buffer, buffer.clone()) for buffer in module.buffers()]
    try:
        yield
    finally:
        with torch.no_grad():
            for buffer, copy in kept:
                buffer.copy_(copy)


def recomputed(stage: nn.Module, runner, inputs: list[torch.Tensor], *rest):
    """`runner(inputs, *rest)` (the stage, or its compiled form), its activations recomputed
    in backward; random draws repeat as they were (torch's checkpoint keeps the RNG state)."""
    kept = [_Keep.apply(x) for x in inputs]
    return checkpoint(runner, kept, *rest, use_reentrant=False,
                      context_fn=lambda: (contextlib.nullcontext(), _buffers_restored(stage)))
