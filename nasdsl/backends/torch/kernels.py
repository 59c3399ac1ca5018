"""Kernels of linear chains, for merged convolutions (seed 000 Eq. 14-16).

Every kernel-expressible module becomes a dense (c_out, c_in, e, e) kernel: a grouped conv
is block-diagonal, a dilated one has zeros between its taps, identity is a centred delta,
zero is zeros, average pooling (counting the padding) is 1/k^2 on the diagonal. A chain composes into one
kernel because at most one of its modules is wider than 1x1. Kernels are built from the
layers' parameters at every call, so gradients reach them.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from nasdsl.backends.torch.layers import kernel_of
from nasdsl.dsl import modules as M
from nasdsl.errors import NasError


def dense_kernel(module: M.Module, layer: nn.Module, channels: int, like: torch.Tensor
                 ) -> torch.Tensor:
    """The dense kernel of one module given its torch layer."""
    kernel = KERNELS.get(type(module))
    if kernel is None:
        raise NasError(f"module kind '{module.kind}' says it is kernel expressible but has no "
                       "kernel", hint="register one: nasdsl.backends.torch.kernels."
                       "register_kernel(kind, kernel), kernel(module, layer, channels, like) "
                       "giving a (c_out, c_in, e, e) tensor")
    return kernel(module, layer, channels, like)


def register_kernel(kind: type[M.Module], kernel: Callable) -> None:
    """Make `kernel(module, layer, channels, like)` the dense kernel of a kernel-expressible
    module kind: a (c_out, c_in, e, e) tensor of `like`'s dtype and device, odd e, built from
    the layer's parameters so that gradients reach them."""
    KERNELS[kind] = kernel


def _conv_kernel(module: M.Conv, layer, channels, like):
    weight = kernel_of(layer)
    if module.groups > 1:
        weight = _block_diagonal(weight, module.groups, module.c_in)
    return _dilate(weight, module)


def _eye(channels: int, like: torch.Tensor) -> torch.Tensor:
    return torch.eye(channels, dtype=like.dtype, device=like.device)


def _avg_pool_kernel(module: M.AvgPool, layer, channels, like):
    """1 / k^2 over the window: an even one is the odd window of `extent` without its first
    row and column."""
    window = module.kernel
    kernel = like.new_zeros(channels, channels, module.extent, module.extent)
    start = module.extent - window
    kernel[:, :, start:, start:] = (_eye(channels, like) / window**2)[:, :, None, None]
    return kernel


def _branches_kernel(module: M.Branches, layer, channels, like):
    """A sum of branches, each one kernel: the sum of their kernels, centred."""
    kernels = [chain_kernel(branch, list(layers), channels, like)[0]
               for branch, layers in zip(module.branches, layer.branches)]
    return sum(pad_to(kernel, module.extent) for kernel in kernels)


def _shuffle_kernel(module: M.ChannelShuffle, layer, channels, like):
    """The permutation as a 1x1 kernel: output channel i * groups + g is input g * n + i."""
    order = torch.arange(channels, device=like.device).view(module.groups, -1).t().flatten()
    return _eye(channels, like)[order][:, :, None, None]


KERNELS: dict[type, Callable] = {
    M.Conv: _conv_kernel,
    M.Zero: lambda module, layer, channels, like: like.new_zeros(
        module.out_channels(channels), channels, 1, 1),
    M.Identity: lambda module, layer, channels, like: _eye(channels, like)[:, :, None, None],
    M.AvgPool: _avg_pool_kernel,
    M.Branches: _branches_kernel,
    M.ChannelShuffle: _shuffle_kernel,
}


def _depthwise(module: M.Module) -> bool:
    return isinstance(module, M.Conv) and module.groups == module.c_in == module.c_out > 1


def _dilate(weight: torch.Tensor, module: M.Conv) -> torch.Tensor:
    """The kernel as a square dense one of the conv's extent: zeros between a dilated conv's
    taps, and on both sides of a non-square kernel's shorter axis."""
    height, width = module.kernel_size
    if module.dilation == 1 and height == width:
        return weight
    extent, step = module.extent, module.dilation
    dense = weight.new_zeros(*weight.shape[:2], extent, extent)
    top, left = ((extent - step * (side - 1) - 1) // 2 for side in (height, width))
    dense[:, :, top:top + step * (height - 1) + 1:step, left:left + step * (width - 1) + 1:step] \
        = weight
    return dense


def _block_diagonal(weight: torch.Tensor, groups: int, c_in: int) -> torch.Tensor:
    c_out, per_group, *spatial = weight.shape
    out_per_group = c_out // groups
    dense = weight.new_zeros(c_out, c_in, *spatial)
    if per_group == 1 and out_per_group == 1:  # depthwise: the common case, no loop
        index = torch.arange(c_out, device=weight.device)
        dense[index, index] = weight[:, 0]
        return dense
    for g in range(groups):
        rows = slice(g * out_per_group, (g + 1) * out_per_group)
        dense[rows, g * per_group:(g + 1) * per_group] = weight[rows]
    return dense


def chain_kernel(steps, layers, channels: int, like: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The one kernel of a chain of kernel-expressible modules (identity when empty), and
    its bias: only the chain's last module may have one (zero padding would break a bias
    passed through a later spatial kernel)."""
    kernel = None
    for module, layer in zip(steps, layers):
        if kernel is None and _depthwise(module):
            # Kept per channel, (c, e, e): composing it with a pointwise conv is then a
            # broadcast product instead of a product with a block-diagonal dense kernel.
            kernel = _dilate(kernel_of(layer), module)[:, 0]
            continue
        current = dense_kernel(module, layer, channels if kernel is None else kernel.shape[0],
                               like)
        kernel = current if kernel is None else compose(kernel, current)
    if kernel is not None and kernel.dim() == 3:  # a depthwise conv alone: its diagonal
        index = torch.arange(kernel.shape[0], device=kernel.device)
        dense = kernel.new_zeros(kernel.shape[0], *kernel.shape)
        dense[index, index] = kernel
        kernel = dense
    if kernel is None:
        kernel = _eye(channels, like)[:, :, None, None]
    bias = getattr(layers[-1], "bias", None) if layers else None
    return kernel, bias


def compose(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """The kernel of `second` applied after `first`; one of them is 1x1. A 3-dimensional
    `first` is a depthwise kernel, one (e, e) kernel per channel."""
    if first.dim() == 3:
        if second.shape[-1] == 1:
            return second[:, :, 0, 0, None, None] * first[None]
        first = torch.diag_embed(first.permute(1, 2, 0)).permute(2, 3, 0, 1)
    if second.shape[-1] == 1:
        return torch.einsum("om,mihw->oihw", second[:, :, 0, 0], first)
    return torch.einsum("omhw,mi->oihw", second, first[:, :, 0, 0])


def pad_to(kernel: torch.Tensor, extent: int) -> torch.Tensor:
    margin = (extent - kernel.shape[-1]) // 2
    return F.pad(kernel, (margin,) * 4) if margin else kernel
