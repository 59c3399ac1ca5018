"""Searches on several processes (torchrun, gloo on the CPU): every method family keeps its
processes identical and writes its run directory once; a 2-process run equals the
1-process run on the same global batch where no module depends on the batch, and with batch
norm under --sync-bn; kill and resume under torchrun, with the same or another number of
processes."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from nasdsl.errors import NasError
from nasdsl.search.distributed import World
from tests.paths import SPACES

NO_BATCH_NORM = Path(__file__).with_name("no_batch_norm.nas")
TINY = ("--set", "C=4", "--set", "N=1", "--subset", "128", "--batch", "16", "--no-progress")


def torchrun(processes: int, *args, wait: bool = True):
    """`torchrun --standalone --nproc_per_node=N -m nasdsl ARGS`, finished or started."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               f"--nproc_per_node={processes}", "-m", "nasdsl", *map(str, args)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if not wait:
        return subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, start_new_session=True)
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def log(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]


def state(run_dir: Path) -> dict:
    return torch.load(run_dir / "checkpoint.pt", weights_only=False)["net"]


@pytest.mark.slow
@pytest.mark.parametrize("method", ["darts", "gdas", "pc-darts", "zero-one-shot"])
def test_two_processes_search_every_method_family(tmp_path, method):
    """Softmax mixing, sampling, partial channels and pruning on 2 processes: the run
    finishes (every epoch checks that both hold the same architecture parameters), prints
    its summary once, and writes one run directory with every file."""
    out = torchrun(2, "run", SPACES / "nb201.nas", "--method", method, "--epochs", "2",
                   "--arch-warmup", "0", "--out", tmp_path / "run", *TINY) \
        if method in ("pc-darts", "zero-one-shot") else \
        torchrun(2, "run", SPACES / "nb201.nas", "--method", method, "--epochs", "2",
                 "--out", tmp_path / "run", *TINY)
    assert out.count("derived architecture:") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    files = {p.name for p in (tmp_path / "run").iterdir()}
    assert {"config.json", "log.jsonl", "checkpoint.pt", "result.json", "derived.nas"} <= files
    assert [entry["epoch"] for entry in log(tmp_path / "run")] == [0, 1]


@pytest.mark.parametrize("method", ["darts", "gdas"])
def test_two_processes_equal_one_on_a_space_without_batch_norm(tmp_path, method):
    """Without batch-dependent modules, a 2-process search on the global batch logs the
    1-process run's losses and architectures and ends with its parameters (float
    tolerance): gradients are averaged, and both processes draw GDAS's samples alike."""
    args = ("run", NO_BATCH_NORM, "--method", method, "--epochs", "2", *TINY[4:])
    torchrun(1, *args, "--out", tmp_path / "one")
    torchrun(2, *args, "--out", tmp_path / "two")
    assert_same_runs(tmp_path / "one", tmp_path / "two")


def test_two_processes_equal_one_with_batch_norm_under_sync_bn(tmp_path):
    """With --sync-bn, NB201's batch norm (with running statistics in the stem, the
    residual reductions and the head; without, in the cells) normalizes over the global
    batch: a 2-process DARTS search logs the 1-process run's losses and architectures and
    ends with its parameters and running statistics (without --sync-bn they differ)."""
    args = ("run", SPACES / "nb201.nas", "--method", "darts", "--epochs", "2", *TINY)
    torchrun(1, *args, "--out", tmp_path / "one")
    torchrun(2, *args, "--sync-bn", "--out", tmp_path / "two")
    assert_same_runs(tmp_path / "one", tmp_path / "two")


def assert_same_runs(one: Path, two: Path) -> None:
    """Two runs logged the same architectures and figures and ended with the same state
    (float tolerance)."""
    first_log, second_log = log(one), log(two)
    assert [e["arch"] for e in first_log] == [e["arch"] for e in second_log]
    for a, b in zip(first_log, second_log):
        for key in ("train_loss", "train_acc", "valid_loss", "valid_acc"):
            assert a[key] == pytest.approx(b[key], abs=1e-5), key
    first, second = state(one), state(two)
    for key in first:
        torch.testing.assert_close(second[key], first[key], rtol=1e-4, atol=1e-6)


@pytest.mark.slow
def test_kill_and_resume_under_torchrun(tmp_path):
    """A 2-process run killed after its first checkpoint and resumed with torchrun (2
    processes, or 1) ends with the uninterrupted run's log and parameters."""
    args = ("run", NO_BATCH_NORM, "--epochs", "4", "--subset", "512", "--batch", "16",
            "--no-progress")
    torchrun(2, *args, "--out", tmp_path / "whole")
    for processes in (2, 1):
        split = tmp_path / f"split{processes}"
        running = torchrun(2, *args, "--out", split, wait=False)
        while not (split / "checkpoint.pt").exists() and running.poll() is None:
            time.sleep(0.02)
        os.killpg(running.pid, signal.SIGKILL)
        running.wait()
        assert len(log(split)) < 4, "the run finished before it could be killed"
        torchrun(processes, "run", "--resume", split, "--break-lock", "--no-progress")
        strip = lambda entries: [{k: v for k, v in e.items() if k != "seconds"}  # noqa: E731
                                 for e in entries]
        whole, resumed = strip(log(tmp_path / "whole")), strip(log(split))
        assert [e["arch"] for e in resumed] == [e["arch"] for e in whole]
        for a, b in zip(whole, resumed):
            assert a["train_loss"] == pytest.approx(b["train_loss"], abs=1e-5)
        for key, value in state(tmp_path / "whole").items():
            torch.testing.assert_close(state(split)[key], value, rtol=1e-4, atol=1e-6)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _world_checks(rank: int, port: int, results) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=2)
    world = World(rank, 2)
    try:
        batch = torch.arange(10)
        shard = world.shard(batch).tolist()
        means = world.average([torch.tensor([float(rank)]), None, torch.full((2,), 2.0 * rank)])
        world.check_same([torch.ones(3)], "architecture parameters", 0)  # equal: no error
        try:
            world.check_same([torch.ones(3) * (1 + rank)], "architecture parameters", 4)
            error = None
        except NasError as caught:
            error = caught.message
        try:
            world.check_same_object({"cell": (("a", "b"),) if rank else (("a",),)}, "pruned space")
        except NasError as caught:
            error += " | " + caught.message
        results[rank] = (shard, [None if m is None else m.tolist() for m in means], error)
    finally:
        dist.destroy_process_group()


def test_world_shards_averages_and_catches_processes_that_differ():
    """Two gloo processes: each takes its half of a batch, averages (None kept), and both
    stop when one holds other architecture parameters (naming it and the difference) or
    another pruned space."""
    results = mp.Manager().dict()
    mp.spawn(_world_checks, args=(free_port(), results), nprocs=2)
    assert results[0][0] == [0, 1, 2, 3, 4] and results[1][0] == [5, 6, 7, 8, 9]
    assert results[0][1] == results[1][1] == [[0.5], None, [1.0, 1.0]]
    for rank in (0, 1):
        assert "after epoch 4, process 1 holds other architecture parameters than process 0 " \
               "(largest difference 1)" in results[rank][2]
        assert "process 1 has another pruned space than process 0" in results[rank][2]
