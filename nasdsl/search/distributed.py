"""A search on several processes (torch.distributed, launched by `torchrun`): data-parallel
over the global batch.

`--batch` is the global batch: every process draws the same batches (their order and
augmentation come from generators seeded by the epoch alone) and computes on its slice,
1/N of each. Gradients are averaged over the processes before anything uses them, the
weights' before clipping, the architecture parameters' before their optimizer steps, and
those a method computes with `autograd.grad` where it says so (`Method.average`), so the
processes stay identical and a run on N processes computes what one process computes on
the same global batch, wherever no module depends on the batch. Batch norm's statistics
are per slice (rank 0's running statistics are handed to all after every epoch), or, with
`--sync-bn`, over the global batch (backends.torch.sync_bn): then the N-process run is the
1-process run with batch norm too. The learning rates are those of the global batch:
nothing is rescaled. Every process seeds the global generator alike, so sampling methods
draw the same samples everywhere.
"""

from __future__ import annotations

import os

import attrs
import torch
import torch.distributed as dist

from nasdsl.errors import NasError


@attrs.frozen
class World:
    """The processes of a search: this one's `rank` of `size` (one process: 0 of 1)."""

    rank: int = 0
    size: int = 1

    @property
    def main(self) -> bool:
        """Whether this process writes the run directory, the log and the progress."""
        return self.rank == 0

    def shard(self, tensor: torch.Tensor) -> torch.Tensor:
        """This process's slice of a global batch (slices differ by at most one row)."""
        return tensor if self.size == 1 else torch.tensor_split(tensor, self.size)[self.rank]

    def average(self, tensors):
        """The mean over the processes of each tensor (None stays None: a gradient that no
        process has; the processes agree on which, since they run the same samples)."""
        tensors = list(tensors)
        present = [t for t in tensors if t is not None]
        if self.size == 1 or not present:
            return tensors
        flat = torch.cat([t.detach().reshape(-1).to(torch.float64) for t in present])
        dist.all_reduce(flat)
        flat /= self.size
        out, offset = [], 0
        for tensor in tensors:
            if tensor is None:
                out.append(None)
                continue
            out.append(flat[offset:offset + tensor.numel()].view_as(tensor).to(tensor.dtype))
            offset += tensor.numel()
        return out

    def average_gradients(self, parameters) -> None:
        """Replace each parameter's gradient by its mean over the processes."""
        parameters = [p for p in parameters if p.grad is not None]
        for parameter, mean in zip(parameters, self.average(p.grad for p in parameters)):
            parameter.grad.copy_(mean)

    def sum(self, values: list[float]) -> list[float]:
        """Numbers summed over the processes."""
        if self.size == 1:
            return list(values)
        total = torch.tensor(values, dtype=torch.float64)
        dist.all_reduce(total)
        return total.tolist()

    def mean(self, values: list[float]) -> list[float]:
        return [value / self.size for value in self.sum(values)]

    def broadcast_buffers(self, module: torch.nn.Module) -> None:
        """Rank 0's buffers (batch norm's running statistics) on every process."""
        if self.size == 1:
            return
        for buffer in module.buffers():
            if buffer.numel():
                dist.broadcast(buffer, 0)

    def check_same(self, tensors, what: str, epoch: int) -> None:
        """Every process holds rank 0's values of `tensors`, or a NasError on every process
        (so that none waits on the others) naming the largest difference."""
        tensors = [t.detach() for t in tensors]
        if self.size == 1 or not tensors:
            return
        mine = torch.cat([t.reshape(-1).to(torch.float64) for t in tensors])
        first = mine.clone()
        dist.broadcast(first, 0)
        gap = torch.tensor([(mine - first).abs().max().item(), float(self.rank)],
                           dtype=torch.float64)
        gaps = [torch.zeros_like(gap) for _ in range(self.size)]
        dist.all_gather(gaps, gap)
        worst = max(gaps, key=lambda g: g[0].item())
        if worst[0].item() > 0:
            raise NasError(f"after epoch {epoch}, process {int(worst[1])} holds other {what} "
                           f"than process 0 (largest difference {worst[0].item():.3g}); the "
                           "run stops", hint="a method drew different samples on different "
                                             "processes, or computed a gradient it did not "
                                             "average (Method.average)")

    def check_same_object(self, value, what: str) -> None:
        """Every process holds an equal `value` (a picklable object), or a NasError on every
        process naming the first that does not."""
        if self.size == 1:
            return
        values = [None] * self.size
        dist.all_gather_object(values, value)
        differing = [rank for rank, other in enumerate(values) if other != values[0]]
        if differing:
            raise NasError(f"process {differing[0]} has another {what} than process 0; the "
                           "run stops", hint="the method's preparation depends on something "
                                             "that differs between processes")

    def broadcast_object(self, value):
        """Rank 0's `value` (any picklable object) on every process."""
        if self.size == 1:
            return value
        box = [value]
        dist.broadcast_object_list(box, 0)
        return box[0]

    def barrier(self) -> None:
        if self.size > 1:
            dist.barrier()

    def close(self) -> None:
        """Leave the process group, the run done."""
        if self.size > 1:
            dist.barrier()
            dist.destroy_process_group()


def from_environment(device: str) -> World:
    """The world `torchrun` describes in the environment (WORLD_SIZE, RANK), its process
    group joined (gloo on the CPU, nccl on CUDA); one process without it."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size == 1:
        return World()
    if not dist.is_initialized():
        backend = "nccl" if device.startswith("cuda") or (
            device == "auto" and torch.cuda.is_available()) else "gloo"
        if backend == "nccl" and not torch.cuda.is_available():
            raise NasError("a search on CUDA under torchrun needs CUDA devices")
        dist.init_process_group(backend)
    return World(dist.get_rank(), dist.get_world_size())


def local_device(device: str, world: World) -> str:
    """One process per device: under torchrun, `cuda` and `auto` mean this process's GPU
    (LOCAL_RANK); `cpu` stays."""
    if world.size == 1 or device == "cpu" or (device == "auto" and not torch.cuda.is_available()):
        return device
    if device.startswith("cuda:"):
        raise NasError(f"--device {device} names one GPU, and torchrun runs {world.size} "
                       "processes", hint="--device cuda: each process takes its own "
                                         "(LOCAL_RANK)")
    return f"cuda:{int(os.environ.get('LOCAL_RANK', world.rank))}"
