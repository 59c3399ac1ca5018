"""One step of the search (seed 000 Eq. 1): the architecture step on a batch of the
architecture half, as the method takes it, then the weight step on a batch of the weight half.
The search loop and `nasdsl bench` both take steps through here, so that what the benchmark
measures is what a search runs."""

from __future__ import annotations

import math

import attrs
import torch
from torch.nn.utils import clip_grad_norm_

from nasdsl.search.distributed import World


@attrs.frozen
class StepResult:
    train_loss: float
    train_acc: float
    arch_loss: float | None  # None: no architecture step (warm-up)


@attrs.frozen
class Optimizers:
    weights: torch.optim.Optimizer
    arch: torch.optim.Optimizer
    grad_clip: float
    world: World = World()  # the processes whose gradients and losses are averaged


def search_step(method, net, train_batch, arch_batch, optimizers: Optimizers,
                arch: bool = True) -> StepResult:
    """Both steps on batches already on the network's device (this process's slices of
    them); `arch=False` during warm-up (a method without an architecture step takes only the
    weight step). The losses are the means over the processes; the weights' gradients are
    averaged before they are clipped."""
    world = optimizers.world
    arch_loss = None
    if arch and method.has_arch_step:
        arch_loss = _eager_on_failure(net, optimizers, lambda: method.arch_step(
            net, train_batch, arch_batch, optimizers.arch, optimizers.weights))
        arch_loss = world.mean([arch_loss])[0]
    optimizers.weights.zero_grad(set_to_none=True)
    loss, accuracy = world.mean(_eager_on_failure(
        net, optimizers, lambda: method.weight_backward(net, *train_batch)))
    if math.isfinite(loss):  # alike on every process: the mean
        world.average_gradients(net.weight_parameters())
        clip_grad_norm_(net.weight_parameters(), optimizers.grad_clip)
        optimizers.weights.step()
    return StepResult(loss, accuracy, arch_loss)


def _eager_on_failure(net, optimizers: Optimizers, phase):
    """`phase()`; where a compiled supernet's backward fails to compile, the supernet runs
    eagerly from then on and the phase is taken again, its gradients cleared first (the
    compiled forward's batch-norm statistics and random draws stay spent)."""
    try:
        return phase()
    except torch._dynamo.exc.TorchDynamoException as error:
        if not net.fall_back_to_eager(error):
            raise
        optimizers.weights.zero_grad(set_to_none=True)
        optimizers.arch.zero_grad(set_to_none=True)
        return phase()
