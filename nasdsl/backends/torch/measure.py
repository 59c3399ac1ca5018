"""Measuring what a training step costs (DESIGN section 6), machine-independent figures first.

- `saved_bytes`: bytes of the tensors autograd keeps for backward during a forward pass,
  each storage counted once, parameters left out (they are not activations);
- `flops`: FLOPs of forward and backward as torch's FlopCounterMode counts them;
- `peak_cuda_bytes`: the CUDA allocator's peak over a step, where CUDA is used.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.utils.flop_counter import FlopCounterMode


def parameter_count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def saved_bytes(forward: Callable[[], torch.Tensor], exclude: torch.nn.Module | None = None) -> int:
    """Bytes saved for backward while running `forward()`; storages of `exclude`'s parameters
    and buffers are not counted."""
    skip = set()
    if exclude is not None:
        skip = {t.untyped_storage().data_ptr()
                for t in (*exclude.parameters(), *exclude.buffers())}
    storages: dict[int, int] = {}

    def pack(tensor: torch.Tensor):
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in skip:
            storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        forward()
    return sum(storages.values())


def flops(step: Callable[[], None]) -> int:
    """FLOPs counted while running `step()` (include the backward call in it)."""
    counter = FlopCounterMode(display=False)
    with counter:
        step()
    return counter.get_total_flops()


def peak_cuda_bytes(step: Callable[[], None], device: torch.device) -> int:
    torch.cuda.reset_peak_memory_stats(device)
    step()
    torch.cuda.synchronize(device)
    return torch.cuda.max_memory_allocated(device)


def step_figures(net, weights, batch: int, channels: int, size: int) -> tuple[int, float]:
    """Bytes saved for backward and FLOPs of one forward + backward of `net` on a random
    batch, as `nasdsl show` and the benchmarks report them."""
    x = torch.randn(batch, channels, size, size)
    saved = saved_bytes(lambda: net(x, weights()), exclude=net)
    counted = flops(lambda: net(x, weights()).sum().backward())
    net.zero_grad(set_to_none=True)
    return saved, counted
