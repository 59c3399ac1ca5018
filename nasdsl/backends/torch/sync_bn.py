"""Batch norm over the global batch of a data-parallel run (torch.distributed), on any
device and backend: torch.nn.SyncBatchNorm takes CUDA input only, and a search on the CPU
runs its processes over gloo.

Where batch norm uses batch statistics (training, or no running statistics kept), each
process sums its slice's values and squares per channel and counts its values; one
all-reduce gives the global sums, and every process normalizes with the global mean and
biased variance. The all-reduce is the differentiable one, so the gradient through the
statistics reaches every process's inputs: with the processes' gradients averaged, as a
data-parallel step does, the step is the one process's step on the whole batch. The running
statistics take the global mean and unbiased variance, as nn.BatchNorm2d takes its batch's.
"""

from __future__ import annotations

import warnings

import torch
import torch.distributed as dist
import torch.distributed.nn.functional as differentiable
from torch import nn


class SyncBatchNorm2d(nn.BatchNorm2d):
    """nn.BatchNorm2d whose batch statistics are those of the global batch when several
    processes run; nn.BatchNorm2d itself on one process and on running statistics. It adds
    no state: parameters, buffers and state-dict keys are nn.BatchNorm2d's."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch_statistics = self.training or self.running_mean is None
        if not (batch_statistics and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        self._check_input_dim(x)
        # Sums of squares lose less in fp32 (bf16 and fp16 inputs under autocast).
        values = x.to(torch.promote_types(x.dtype, torch.float32))
        channels = x.shape[1]
        local = torch.cat([values.sum((0, 2, 3)), values.square().sum((0, 2, 3)),
                           values.new_full((1,), x.numel() // channels)])
        total = _global_sum(local)
        count = total[-1]
        mean = total[:channels] / count
        variance = (total[channels:-1] / count - mean.square()).clamp(min=0)
        if self.training and self.track_running_stats:
            self._update_running_statistics(mean.detach(), variance.detach(), count)
        scale = torch.rsqrt(variance + self.eps)
        shift = -mean * scale
        if self.affine:
            scale, shift = scale * self.weight, shift * self.weight + self.bias
        return (values * scale[:, None, None] + shift[:, None, None]).to(x.dtype)

    @torch.no_grad()
    def _update_running_statistics(self, mean: torch.Tensor, variance: torch.Tensor,
                                   count: torch.Tensor) -> None:
        """nn.BatchNorm2d's update: a moving average with `momentum`, or the cumulative
        average where momentum is None; the variance unbiased over the global count."""
        self.num_batches_tracked.add_(1)
        factor = 1.0 / self.num_batches_tracked.item() if self.momentum is None else self.momentum
        unbiased = variance * count / (count - 1)
        self.running_mean.mul_(1 - factor).add_(mean.to(self.running_mean.dtype), alpha=factor)
        self.running_var.mul_(1 - factor).add_(unbiased.to(self.running_var.dtype), alpha=factor)


@torch.compiler.disable  # torch.distributed.nn.functional raises when traced: run it eagerly
def _global_sum(local: torch.Tensor) -> torch.Tensor:
    """The sum of `local` over the processes, differentiable: its gradient is the sum of
    the processes' gradients."""
    with warnings.catch_warnings():
        # Deprecated in recent torch for _functional_collectives.all_reduce, which is
        # private and has a gradient only in recent torch; this one has had one in every
        # torch the project takes (2.2 on).
        warnings.filterwarnings("ignore", "torch.distributed.nn.functional.all_reduce is "
                                          "deprecated", FutureWarning)
        return differentiable.all_reduce(local)


def synchronize_batch_norm(module: nn.Module) -> nn.Module:
    """Every nn.BatchNorm2d of `module`'s tree made a SyncBatchNorm2d, in place: the same
    module objects (optimizers and compiled stages may hold them already), their
    parameters, buffers and state-dict keys unchanged, so checkpoints load either way."""
    for layer in module.modules():
        if type(layer) is nn.BatchNorm2d:
            layer.__class__ = SyncBatchNorm2d
    return module
