"""Measuring what a training step costs, machine-independent figures first (the wall time
and the CUDA allocator's peak are `nasdsl bench`'s, over repeated steps).

- `saved_bytes`: the peak, over a forward pass or a whole step, of the bytes of tensors
  autograd keeps for backward, each storage counted once, parameters left out (they are not
  activations);
- `flops`: FLOPs of forward and backward as torch's FlopCounterMode counts them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import torch
from torch.utils.flop_counter import FlopCounterMode


def parameter_count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


class _SavedTensors:
    """Live bytes of the storages autograd holds for backward, and their peak. A tensor is
    live from when autograd saves it until the graph that saved it is freed (after its
    backward, or when the outputs are dropped)."""

    def __init__(self, skip: set[int]):
        self.skip = skip
        self.holders: Counter[int] = Counter()
        self.live = self.peak = 0

    def pack(self, tensor: torch.Tensor):
        storage = tensor.untyped_storage()
        if storage.data_ptr() in self.skip:
            return tensor
        return _Held(self, tensor, storage.data_ptr(), storage.nbytes())

    def hold(self, key: int, nbytes: int) -> None:
        if self.holders[key] == 0:
            self.live += nbytes
            self.peak = max(self.peak, self.live)
        self.holders[key] += 1

    def release(self, key: int, nbytes: int) -> None:
        self.holders[key] -= 1
        if self.holders[key] == 0:
            del self.holders[key]
            self.live -= nbytes


class _Held:
    """A saved tensor as autograd stores it while the measurement runs."""

    __slots__ = ("tracker", "tensor", "key", "nbytes")

    def __init__(self, tracker: _SavedTensors, tensor: torch.Tensor, key: int, nbytes: int):
        self.tracker, self.tensor, self.key, self.nbytes = tracker, tensor, key, nbytes
        tracker.hold(key, nbytes)

    def __del__(self):
        self.tracker.release(self.key, self.nbytes)


def _storages(module: torch.nn.Module | None) -> set[int]:
    """The storages of a module's parameters and buffers (none for None)."""
    if module is None:
        return set()
    return {t.untyped_storage().data_ptr() for t in (*module.parameters(), *module.buffers())}


def _unpack(saved):
    return saved.tensor if isinstance(saved, _Held) else saved


def saved_bytes(run: Callable[[], object], exclude: torch.nn.Module | None = None) -> int:
    """The peak bytes saved for backward while `run()` executes: a forward pass (then all it
    saved), or a whole search step with its backward passes (then the largest set alive at
    once). Storages of `exclude`'s parameters and buffers are not counted."""
    tracker = _SavedTensors(_storages(exclude))
    with torch.autograd.graph.saved_tensors_hooks(tracker.pack, _unpack):
        run()
    return tracker.peak


def saved_bytes_per_module(run: Callable[[], object], modules: list[torch.nn.Module],
                           exclude: torch.nn.Module | None = None
                           ) -> tuple[list[int], list[int]]:
    """While `run()` executes a forward through `modules` in turn: the bytes each of them
    saves for backward (a storage counted where it is first saved), and the bytes of the
    tensors each takes in (each storage once)."""
    tracker = _SavedTensors(_storages(exclude))
    saved, taken = [0] * len(modules), [0] * len(modules)
    before = {}

    def enter(index, args):
        tensors = [t for a in args for t in (a if isinstance(a, (list, tuple)) else [a])
                   if isinstance(t, torch.Tensor)]
        storages = {t.untyped_storage().data_ptr(): t.untyped_storage().nbytes() for t in tensors}
        taken[index] = sum(storages.values())
        before[index] = tracker.live

    def leave(index):
        saved[index] = tracker.live - before[index]

    handles = [hook for index, module in enumerate(modules) for hook in (
        module.register_forward_pre_hook(lambda _, args, index=index: enter(index, args)),
        module.register_forward_hook(lambda *_, index=index: leave(index)))]
    try:
        with torch.autograd.graph.saved_tensors_hooks(tracker.pack, _unpack):
            run()
    finally:
        for handle in handles:
            handle.remove()
    return saved, taken


def flops(step: Callable[[], None]) -> int:
    """FLOPs counted while running `step()` (include the backward call in it)."""
    counter = FlopCounterMode(display=False)
    with counter:
        step()
    return counter.get_total_flops()



def step_figures(net, run, batch: int, channels: int, size: int) -> tuple[int, float]:
    """Bytes saved for backward and FLOPs of one forward + backward of `net` on a random
    batch, each forward run as `run()` says (a `contract.Run`), as `nasdsl show` and the
    benchmarks report them."""
    x = torch.randn(batch, channels, size, size)
    saved = saved_bytes(lambda: net(x, run()), exclude=net)
    counted = flops(lambda: net(x, run()).sum().backward())
    net.zero_grad(set_to_none=True)
    return saved, counted
