"""Batch norm over the global batch (backends.torch.sync_bn): on one process it is
nn.BatchNorm2d; on two gloo processes, each with its slice of a batch, it computes what
nn.BatchNorm2d computes on the whole batch (outputs, gradients, running statistics); the
conversion keeps every module, parameter and state-dict key."""

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from nasdsl.backends.torch.network import BuildOptions, Supernet
from nasdsl.backends.torch.sync_bn import SyncBatchNorm2d, synchronize_batch_norm
from nasdsl.dsl.elaborate import load
from tests.paths import SPACES
from tests.search.test_distributed import free_port

# (momentum, affine, track_running_stats): every kind of statistics nn.BatchNorm2d keeps
SETTINGS = [(0.1, True, True), (None, True, True), (0.3, False, True), (0.1, True, False)]


def pair(momentum, affine, track, dtype=torch.float64):
    """An nn.BatchNorm2d with non-trivial parameters and running statistics, and a
    SyncBatchNorm2d copy of it."""
    torch.manual_seed(0)
    plain = nn.BatchNorm2d(3, momentum=momentum, affine=affine, track_running_stats=track)
    plain.to(dtype)
    with torch.no_grad():
        for tensor in (*plain.parameters(), *plain.buffers()):
            if tensor.is_floating_point():
                tensor.uniform_(0.5, 1.5)
    synced = SyncBatchNorm2d(3, momentum=momentum, affine=affine, track_running_stats=track)
    synced.to(dtype).load_state_dict(plain.state_dict())
    return plain, synced


def run(bn: nn.Module, x: torch.Tensor, g: torch.Tensor, steps: int = 2):
    """Outputs and input gradients of `steps` training forwards of `bn` on `x` (loss: the
    outputs weighted by `g`), then an evaluation forward's output."""
    outputs = []
    for _ in range(steps):
        x = x.detach().requires_grad_()
        out = bn.train()(x)
        (out * g).sum().backward()
        outputs += [out.detach(), x.grad]
    with torch.no_grad():
        outputs.append(bn.eval()(x))
    return outputs


def batch(dtype=torch.float64):
    torch.manual_seed(1)
    return torch.randn(5, 3, 4, 4, dtype=dtype) * 2 + 3, torch.randn(5, 3, 4, 4, dtype=dtype)


@pytest.mark.parametrize("momentum, affine, track", SETTINGS)
def test_one_process_is_batch_norm(momentum, affine, track):
    """Without a process group, SyncBatchNorm2d gives nn.BatchNorm2d's outputs, gradients
    and running statistics, in training and in evaluation."""
    plain, synced = pair(momentum, affine, track, torch.float32)
    x, g = batch(torch.float32)
    for expected, got in zip(run(plain, x, g), run(synced, x, g)):
        torch.testing.assert_close(got, expected)
    for (name, expected), got in zip(plain.named_parameters(), synced.parameters()):
        torch.testing.assert_close(got.grad, expected.grad, msg=name)
    torch.testing.assert_close(synced.state_dict(), plain.state_dict())


def _global_batch(rank: int, port: int, results) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                           world_size=2)
    try:
        x, g = batch()
        mine = slice(0, 3) if rank == 0 else slice(3, 5)  # uneven slices: 3 rows and 2
        for setting in SETTINGS:
            _, synced = pair(*setting)
            outputs = run(synced, x[mine], g[mine])
            grads = [p.grad for p in synced.parameters()]
            for grad in grads:  # the whole batch's: what every process's slice adds
                dist.all_reduce(grad)
            results[rank, setting] = (outputs, grads, synced.state_dict())
    finally:
        dist.destroy_process_group()


def test_two_processes_are_batch_norm_on_the_whole_batch():
    """Two gloo processes holding 3 and 2 rows of a 5-row batch: each gets nn.BatchNorm2d's
    outputs and input gradients of the whole batch for its rows, their weight gradients add
    up to the whole batch's, and both keep its running statistics (every momentum, affine
    or not, with running statistics or without, in training and evaluation)."""
    results = mp.Manager().dict()
    mp.spawn(_global_batch, args=(free_port(), results), nprocs=2)
    x, g = batch()
    for setting in SETTINGS:
        plain, _ = pair(*setting)
        expected = run(plain, x, g)
        for rank, mine in ((0, slice(0, 3)), (1, slice(3, 5))):
            outputs, grads, state = results[rank, setting]
            for index, (want, got) in enumerate(zip(expected, outputs)):
                torch.testing.assert_close(got, want[mine], msg=f"{setting} output {index}")
            for want, got in zip((p.grad for p in plain.parameters()), grads):
                torch.testing.assert_close(got, want, msg=f"{setting} weight gradient")
            torch.testing.assert_close(state, plain.state_dict(), msg=f"{setting} state")


def test_conversion_keeps_modules_and_state_dict_keys():
    """Converting a supernet makes each of its nn.BatchNorm2d a SyncBatchNorm2d in place:
    the same module objects, parameters and state-dict keys, so a checkpoint of either
    loads into the other."""
    space = load(str(SPACES / "nb201.nas"), overrides={"C": 4, "N": 1})
    torch.manual_seed(0)
    net = Supernet(space, BuildOptions(simplify=False))
    before = net.state_dict()
    layers = [m for m in net.modules() if type(m) is nn.BatchNorm2d]
    parameters = list(net.parameters())
    assert layers
    assert synchronize_batch_norm(net) is net
    assert all(type(m) is SyncBatchNorm2d for m in layers)
    assert not any(type(m) is nn.BatchNorm2d for m in net.modules())
    assert list(net.parameters()) == parameters
    torch.testing.assert_close(net.state_dict(), before)
    assert list(net.state_dict()) == list(before)
