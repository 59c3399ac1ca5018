"""The shared search loop (seed 000 Eq. 1): weights on one half of the training set,
architecture parameters on the other, as the method says; a checkpoint and a log line at the
end of every epoch, so that a killed run resumes to the same result.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import attrs
import torch

from nasdsl.architecture.derive import Architecture, derived_text, to_genotype, to_nb201
from nasdsl.architecture.layers import layers_form, to_layers
from nasdsl.architecture.prune import check_mask, full_mask, restricted
from nasdsl.architecture.vertices import to_vertices, vertices_form
from nasdsl.backends.torch.carry import Carry
from nasdsl.backends.torch.measure import saved_bytes
from nasdsl.dsl.space import Space
from nasdsl.errors import NasError
from nasdsl.files import write_json, write_text
from nasdsl.search import data_feed
from nasdsl.search.build import assemble, nb201_shaped, optimizers, supernet
from nasdsl.search.config import SearchConfig, flag, options
from nasdsl.search.distributed import World
from nasdsl.search.run_dir import (CONFIG, DERIVED, RESULT, config_to_json, load_checkpoint,
                                   made_by, random_state, restore_random_state,
                                   save_checkpoint, write_log)
from nasdsl.search.step import Optimizers, search_step


class NonFiniteLoss(NasError):
    """The loss, or a weight, statistic or architecture parameter, became NaN or infinite;
    the last good checkpoint is kept."""


@attrs.frozen
class SearchResult:
    run_dir: Path
    architecture: Architecture
    arch_text: str  # an NB201 arch string, a DARTS genotype, a macro space's layers text or
    # a vertices text (cells whose vertices carry the ops)
    nb201: bool  # the space is NB201-shaped: arch_text can be looked up in the benchmark
    log: tuple[dict, ...]


def arch_text(space: Space, arch: Architecture) -> str:
    if nb201_shaped(space):
        return to_nb201(arch)
    if vertices_form(space):
        return to_vertices(arch, space)
    return to_layers(arch, space) if layers_form(space) else to_genotype(arch, space)


class Search:
    """One search run in a run directory; `run()` continues from its checkpoint if any."""

    def __init__(self, config: SearchConfig, run_dir: Path, progress: bool = True,
                 world: World = World()):
        self.config = config
        self.run_dir = Path(run_dir)
        self.world = world  # the processes of the search; only the main one writes
        self.progress = progress and world.main
        torch.manual_seed(config.seed)
        self.feed = data_feed.DataFeed(config)
        batch = self.feed.weight_batches.batch_size
        if batch % world.size:
            raise NasError(f"the global batch of {batch} does not split evenly over "
                           f"{world.size} processes", hint=f"a --batch divisible by {world.size}")
        if world.main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        parts = assemble(config, self.feed.classes, (self.feed.channels, self.feed.size),
                         lambda: (batch for batch, _ in self.feed.search_batches(0)),
                         self.run_dir if world.main else None, world=world)
        self.method, self.space, self.net = parts.method, parts.space, parts.net
        # Each process prepares (prunes) the space alike, from the same batches.
        world.check_same_object(full_mask(self.space), "pruned space")
        self.device = parts.device
        self.made_by = made_by(config, parts.space_digest)
        self.weight_optimizer, self.arch_optimizer = parts.weight_optimizer, parts.arch_optimizer
        self.scheduler = self._scheduler()
        # A progressive search's stage after the first searches the space restricted to
        # `stage_mask` (None: the whole space).
        self.first_space, self.stage_mask = self.space, None
        self.log: list[dict] = []
        self.start_epoch = 0

    def _scheduler(self):
        return torch.optim.lr_scheduler.CosineAnnealingLR(
            self.weight_optimizer, self.config.epochs, eta_min=self.config.lr_min)

    # --- stages -------------------------------------------------------------------------------

    def _build_stage(self, mask) -> None:
        """The supernet, optimizers and schedule of the stage that searches the first stage's
        space restricted to `mask` (as the method's `build_options` now says)."""
        self.stage_mask = mask
        self.space = restricted(self.first_space, mask)
        self.net = supernet(self.config, self.method, self.space, self.device, self.world)
        self.weight_optimizer, self.arch_optimizer = optimizers(self.config, self.net, self.space,
                                                                self.world)
        self.scheduler = self._scheduler()

    def _next_stage(self) -> None:
        """Rebuild the supernet for the stage beginning now, carrying the state over: the
        weights and architecture parameters, both optimizers' states, the schedule."""
        mask = self.method.stage_mask(self.net, self.space)
        check_mask(self.space, mask)
        old = (self.net, self.weight_optimizer, self.arch_optimizer, self.scheduler)
        self._build_stage(mask)
        carry = Carry(old[0], self.net)
        carry.load(old[0], self.net)
        carry.optimizer(old[0], self.net, old[1], self.weight_optimizer)
        carry.optimizer(old[0], self.net, old[2], self.arch_optimizer)
        self.scheduler.load_state_dict(old[3].state_dict())
        for group, before in zip(self.weight_optimizer.param_groups, old[1].param_groups):
            group["lr"] = before["lr"]  # where the schedule has brought it
        self.activation_mb = self._activation_mb()

    # --- checkpoints ----------------------------------------------------------------------------

    def _state(self, epoch: int) -> dict:
        return {"made_by": self.made_by, "epoch": epoch, "net": self.net.state_dict(),
                "weight_optimizer": self.weight_optimizer.state_dict(),
                "arch_optimizer": self.arch_optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(), "stage_mask": self.stage_mask,
                **random_state(self.device), "log": self.log}

    def _restore(self) -> None:
        state = load_checkpoint(self.run_dir, self.made_by)
        if state is None:
            return
        if state.get("stage_mask") is not None:  # a later stage's supernet
            self.method.start_epoch(state["epoch"])
            self._build_stage(state["stage_mask"])
        self.net.load_state_dict(state["net"])
        self.weight_optimizer.load_state_dict(state["weight_optimizer"])
        self.arch_optimizer.load_state_dict(state["arch_optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        restore_random_state(state, self.device)
        self.log = list(state["log"])
        self.start_epoch = state["epoch"] + 1

    # --- the loop -------------------------------------------------------------------------------

    def run(self, stop_after: int | None = None) -> SearchResult | None:
        """Search to the last epoch, or only through epoch `stop_after` (as a run killed then
        would have: its checkpoint and log written, no result), and return the result."""
        if self.world.main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            if not (self.run_dir / CONFIG).exists():  # written once: it describes the whole run
                write_json(self.run_dir / CONFIG, config_to_json(self.config))
        self._restore()
        self.activation_mb = self.log[-1]["activation_mb"] if self.log else self._activation_mb()
        last = self.config.epochs if stop_after is None else min(stop_after + 1, self.config.epochs)
        for epoch in range(self.start_epoch, last):
            started = time.perf_counter()
            if self.device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(self.device)
            self.method.start_epoch(epoch)
            if epoch in self.method.stage_starts():
                self._next_stage()
            figures = self._train_epoch(epoch)
            figures.update(self._evaluate())
            arch = self.method.derive(self.net, self.space) \
                if self.method.derives_each_epoch else None
            self.log.append({
                "epoch": epoch, **figures, "lr": self.scheduler.get_last_lr()[0],
                "weights": {name: [[round(v, 4) for v in row] for row in w.detach().cpu().tolist()]
                            for name, w in self.method.eval_weights(self.net).items()},
                "arch": None if arch is None else arch_text(self.space, arch),
                "activation_mb": self.activation_mb,
                **self._peak_cuda(), "seconds": round(time.perf_counter() - started, 3)})
            self.scheduler.step()
            self._check_state(epoch)
            self.world.check_same(self.net.arch_parameters(), "architecture parameters", epoch)
            if self.world.main:
                save_checkpoint(self.run_dir, self._state(epoch))
                write_log(self.run_dir, self.log)
            self.world.barrier()  # the checkpoint exists before any process goes on
        return self._finish() if last == self.config.epochs else None

    def _train_epoch(self, epoch: int) -> dict:
        self.net.train()
        totals = {"train_loss": 0.0, "train_acc": 0.0, "arch_loss": 0.0}
        steps = arch_steps = 0
        batches = self.feed.search_batches(epoch)
        optimizers = Optimizers(self.weight_optimizer, self.arch_optimizer, self.config.grad_clip,
                                self.world)
        for (x, y), (xa, ya) in self.feed.progress(batches, epoch, self.progress):
            x, y, xa, ya = (self.world.shard(t).to(self.device) for t in (x, y, xa, ya))
            result = search_step(self.method, self.net, (x, y), (xa, ya), optimizers,
                                 arch=self.method.arch_steps_in(epoch))
            if result.arch_loss is not None:
                self._check(result.arch_loss, epoch, steps, "architecture")
                totals["arch_loss"] += result.arch_loss
                arch_steps += 1
            self._check(result.train_loss, epoch, steps, "training")
            totals["train_loss"] += result.train_loss
            totals["train_acc"] += result.train_acc
            steps += 1
        figures = {key: round(value / max(steps, 1), 6) for key, value in totals.items()}
        if not arch_steps:  # warm-up, or a method without architecture steps
            figures["arch_loss"] = None  # nothing to report, not a loss of zero
        return figures

    def _evaluate(self) -> dict:
        """Accuracy of the supernet (the method's evaluation run) on the held-out half, with
        rank 0's batch-norm statistics on every process."""
        self.world.broadcast_buffers(self.net)
        accuracy, loss = self._score(lambda: self.method.eval_run(self.net))
        return {"valid_loss": round(loss, 6), "valid_acc": round(accuracy, 6)}

    @torch.no_grad()
    def _score(self, run, batches: int | None = None) -> tuple[float, float]:
        """(accuracy, mean loss) of the supernet in evaluation mode on the first `batches`
        batches of the held-out half (all when None), each forward as `run()` says."""
        self.net.eval()
        correct = total = 0
        loss = 0.0
        for index, (x, y) in enumerate(self.feed.valid_batches()):
            if batches is not None and index == batches:
                break
            x, y = self.world.shard(x).to(self.device), self.world.shard(y).to(self.device)
            logits = self.net(x, run())
            loss += torch.nn.functional.cross_entropy(logits, y, reduction="sum").item()
            correct += (logits.argmax(1) == y).sum().item()
            total += len(y)
        correct, total, loss = self.world.sum([correct, total, loss])
        return correct / max(total, 1), loss / max(total, 1)

    def _activation_mb(self) -> float:
        """Bytes saved for backward in one training forward of a batch, in MiB; measured
        without side effects (random state, BN statistics), so that a run is the same with
        or without it."""
        x = self.world.shard(next(iter(self.feed.valid_batches()))[0])  # this process's
        before = {name: value.clone() for name, value in self.net.state_dict().items()}
        self.net.train()
        with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
            bytes_ = saved_bytes(lambda: self.method.logits(self.net, x.to(self.device)),
                                 exclude=self.net)
        self.net.load_state_dict(before)
        return round(bytes_ / 2**20, 2)

    def _peak_cuda(self) -> dict:
        if self.device.type != "cuda":
            return {}
        return {"peak_cuda_mb": round(torch.cuda.max_memory_allocated(self.device) / 2**20, 1)}

    def _check(self, loss: float, epoch: int, step: int, which: str) -> None:
        if not math.isfinite(loss):
            self._stop(f"the {which} loss became {loss} at epoch {epoch}, step {step}")

    def _check_state(self, epoch: int) -> None:
        """Before a checkpoint is kept as good: every weight, running statistic, architecture
        parameter and optimizer state finite (BN's running variance can overflow while the
        losses still read finite)."""
        tensors = {f"the network's {name}": value for name, value in self.net.state_dict().items()}
        for which, optimizer in (("weight", self.weight_optimizer),
                                 ("architecture", self.arch_optimizer)):
            for index, state in optimizer.state_dict()["state"].items():
                tensors.update({f"the {which} optimizer's {key} of parameter {index}": value
                                for key, value in state.items() if torch.is_tensor(value)})
        for name, value in tensors.items():
            if value.is_floating_point() and not torch.isfinite(value).all():
                self._stop(f"{name} became non-finite in epoch {epoch}")

    def _stop(self, what: str) -> None:
        """Stop the run, saying what will help: resuming replays the same steps (the run is
        deterministic), so the remedy is other settings in a new run."""
        last = self.log[-1]["epoch"] if self.log else None
        kept = (f"the checkpoint after epoch {last} is kept in {self.run_dir} (resuming it "
                "with the same settings would reach the same values)") if last is not None \
            else "no epoch had finished, so nothing is kept"
        values = {flag(field): getattr(self.config, field.name) for field in options()}
        values.update({f"--{option.name}": self.method.option(option.name)
                       for option in self.method.options})
        causes = ", ".join(f"{name} {values[name]}" for name in self.method.unstable_settings)
        raise NonFiniteLoss(f"{what}; the run stops, and {kept}",
                            hint=f"the likeliest causes are steps too large ({causes}): start a "
                                 "new run with smaller ones")

    def _finish(self) -> SearchResult:
        arch = self.method.select(self.net, self.space, self._score)
        text = arch_text(self.space, arch)
        if self.world.main:
            write_text(self.run_dir / DERIVED, derived_text(self.space, arch))
            write_json(self.run_dir / RESULT, {"arch": text, "epochs": len(self.log),
                                               "method": self.config.method,
                                               "space": self.config.space})
        return SearchResult(self.run_dir, arch, text, nb201_shaped(self.space), tuple(self.log))
