"""Training a derived network from scratch: SGD on the whole training set with the preset's
schedule, augmentation, cutout, drop path and auxiliary head, the test set's accuracy after
every epoch, a checkpoint and a log line at the end of every epoch, so that a killed run
resumes to the same result, as a search does (`search.run_dir` keeps the same rules)."""

from __future__ import annotations

import hashlib
import math
import time
import warnings
from pathlib import Path

import attrs
import torch
import torch.nn.functional as F
from torch.nn.utils import clip_grad_norm_

from nasdsl.backends.torch.cells import CellBase
from nasdsl.backends.torch.derived import DerivedNetwork
from nasdsl.backends.torch.network import resolve_device
from nasdsl.backends.torch.sync_bn import synchronize_batch_norm
from nasdsl.data.augment import Augment
from nasdsl.data.batches import Batches
from nasdsl.data.load import load_dataset
from nasdsl.dsl.space import Space
from nasdsl.errors import NasError
from nasdsl.files import write_json
from nasdsl.search.distributed import World
from nasdsl.search.run_dir import (CONFIG, RESULT, config_to_json, load_checkpoint, made_by,
                                   random_state, restore_random_state, save_checkpoint,
                                   write_log)
from nasdsl.train.architecture import evaluation_space, source_of
from nasdsl.train.config import TrainConfig
from nasdsl.train.presets import get_preset

LOWER = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


class NonFiniteTraining(NasError):
    """The loss or a weight became NaN or infinite; the last good checkpoint is kept."""


@attrs.frozen
class TrainResult:
    run_dir: Path
    test_acc: float
    best_test_acc: float
    log: tuple[dict, ...]


@attrs.frozen(eq=False)
class Built:
    """An evaluation network, the space it was built from, and the digest of the
    architecture's text (what a checkpoint records)."""

    net: DerivedNetwork
    space: Space
    digest: str


def build_network(config: TrainConfig, image: tuple[int, int] | None = None,
                  classes: int | None = None) -> Built:
    """The evaluation network of `config.arch` at the preset's sizes, for images of `image`
    = (channels, size) in `classes` classes (None: the network's own), with the auxiliary
    head where its weight is not 0."""
    preset = get_preset(config.preset)
    source = source_of(config.arch, "imagenet" if preset.imagenet else "cifar")
    space = evaluation_space(source, config.overrides, preset.overrides, image, classes)
    net = DerivedNetwork(space, auxiliary=config.auxiliary_weight > 0)
    return Built(net, space, hashlib.sha256(source.text.encode("utf-8")).hexdigest())


def set_drop_path(net: DerivedNetwork, probability: float) -> None:
    for stage in net.body.stages:
        if isinstance(stage, CellBase):
            stage.drop_path = probability


class Training:
    """One training run in a run directory; `run()` continues from its checkpoint if any."""

    def __init__(self, config: TrainConfig, run_dir: Path, progress: bool = True,
                 world: World = World()):
        self.config, self.run_dir, self.world = config, Path(run_dir), world
        self.progress = progress and world.main
        self.device = resolve_device(config.device)
        if config.batch % world.size:
            raise NasError(f"the global batch of {config.batch} does not split evenly over "
                           f"{world.size} processes", hint=f"a --batch divisible by {world.size}")
        torch.manual_seed(config.seed)
        self.data = load_dataset(config.dataset, config.data_dir, config.subset, config.seed)
        built = build_network(config, (self.data.channels, self.data.image_shape[1]),
                              self.data.classes)
        self.net = built.net
        if config.sync_bn and world.size > 1:
            synchronize_batch_norm(self.net)
        self.net.to(self.device)
        if config.channels_last:
            self.net.to(memory_format=torch.channels_last)
        self.forward = self._compiled() if config.compile else self.net
        self.made_by = made_by(config, built.digest)
        augment = attrs.evolve(Augment.standard(self.data), cutout=config.cutout)
        self.train_batches = Batches.training(self.data, torch.arange(len(self.data.train_labels)),
                                              config.batch, config.seed, augment=augment,
                                              drop_last=True)
        self.test_batches = Batches.evaluation(self.data, config.batch, split="test")
        self.optimizer = torch.optim.SGD(self.net.parameters(), config.lr,
                                         momentum=config.momentum, nesterov=config.nesterov,
                                         weight_decay=config.weight_decay)
        self.scheduler = (torch.optim.lr_scheduler.CosineAnnealingLR(
            self.optimizer, config.epochs, eta_min=config.lr_min)
            if config.schedule == "cosine" else
            torch.optim.lr_scheduler.ExponentialLR(self.optimizer, config.lr_decay))
        # fp16's gradients underflow without a scale; bf16 has fp32's range.
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=config.precision == "fp16")
        self.log: list[dict] = []
        self.start_epoch = 0

    def _compiled(self):
        try:
            return torch.compile(self.net, dynamic=False)
        except Exception as error:  # torch.compile refuses some machines outright
            warnings.warn(f"--compile: torch.compile failed ({error}); training eagerly")
            return self.net

    # --- checkpoints --------------------------------------------------------------------------

    def _state(self, epoch: int) -> dict:
        return {"made_by": self.made_by, "epoch": epoch, "net": self.net.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(), "scaler": self.scaler.state_dict(),
                **random_state(self.device), "log": self.log}

    def _restore(self) -> None:
        state = load_checkpoint(self.run_dir, self.made_by)
        if state is None:
            return
        self.net.load_state_dict(state["net"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        restore_random_state(state, self.device)
        self.log = list(state["log"])
        self.start_epoch = state["epoch"] + 1

    # --- the loop -----------------------------------------------------------------------------

    def run(self, stop_after: int | None = None) -> TrainResult | None:
        """Train to the last epoch, or only through epoch `stop_after` (as a run killed then
        would have), and return the result."""
        if self.world.main and not (self.run_dir / CONFIG).exists():
            self.run_dir.mkdir(parents=True, exist_ok=True)
            write_json(self.run_dir / CONFIG, config_to_json(self.config))
        self._restore()
        epochs = self.config.epochs
        last = epochs if stop_after is None else min(stop_after + 1, epochs)
        for epoch in range(self.start_epoch, last):
            started = time.perf_counter()
            drop_path = self.config.drop_path * epoch / epochs  # DARTS's linear rise
            set_drop_path(self.net, drop_path)
            figures = self._train_epoch(epoch)
            figures.update(self._test())
            self.log.append({"epoch": epoch, **figures, "lr": self.scheduler.get_last_lr()[0],
                             "drop_path": round(drop_path, 6),
                             "seconds": round(time.perf_counter() - started, 3)})
            self.scheduler.step()
            self._check_weights(epoch)
            if self.world.main:
                save_checkpoint(self.run_dir, self._state(epoch))
                write_log(self.run_dir, self.log)
            self.world.barrier()
        return self._finish() if last == epochs else None

    def _autocast(self):
        lower = LOWER[self.config.precision]
        return torch.autocast(self.device.type, dtype=lower, enabled=lower is not None)

    def _inputs(self, x: torch.Tensor, y: torch.Tensor):
        x, y = self.world.shard(x).to(self.device), self.world.shard(y).to(self.device)
        if self.config.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, y

    def _train_epoch(self, epoch: int) -> dict:
        self.net.train()
        loss_total = correct = seen = steps = 0
        batches = self.train_batches.epoch(epoch)
        if self.progress:
            from tqdm import tqdm
            batches = tqdm(batches, total=len(self.train_batches), desc=f"epoch {epoch}",
                           leave=False, unit="step")
        for x, y in batches:
            x, y = self._inputs(x, y)
            self.optimizer.zero_grad(set_to_none=True)
            with self._autocast():
                out = self.forward(x)
            logits, auxiliary = out if isinstance(out, tuple) else (out, None)
            loss = F.cross_entropy(logits.float(), y,
                                   label_smoothing=self.config.label_smoothing)
            if auxiliary is not None:
                loss = loss + self.config.auxiliary_weight * F.cross_entropy(
                    auxiliary.float(), y, label_smoothing=self.config.label_smoothing)
            if not math.isfinite(loss.item()):
                self._stop(f"the training loss became {loss.item()} at epoch {epoch}, "
                           f"step {steps}")
            self.scaler.scale(loss).backward()
            self.world.average_gradients(self.net.parameters())
            self.scaler.unscale_(self.optimizer)
            if self.config.grad_clip:
                clip_grad_norm_(self.net.parameters(), self.config.grad_clip)
            self.scaler.step(self.optimizer)
            self.scaler.update()
            loss_total += loss.item()
            correct += (logits.argmax(1) == y).sum().item()
            seen += len(y)
            steps += 1
        loss_total, correct, seen, steps = self.world.sum([loss_total, correct, seen, steps])
        return {"train_loss": round(loss_total / max(steps, 1), 6),
                "train_acc": round(correct / max(seen, 1), 6)}

    @torch.no_grad()
    def _test(self) -> dict:
        """Loss and accuracy on the test images, with rank 0's batch-norm statistics."""
        self.world.broadcast_buffers(self.net)
        self.net.eval()
        loss = correct = total = 0
        for x, y in self.test_batches:
            x, y = self._inputs(x, y)
            with self._autocast():
                logits = self.forward(x)
            loss += F.cross_entropy(logits.float(), y, reduction="sum").item()
            correct += (logits.argmax(1) == y).sum().item()
            total += len(y)
        loss, correct, total = self.world.sum([loss, correct, total])
        return {"test_loss": round(loss / max(total, 1), 6),
                "test_acc": round(correct / max(total, 1), 6)}

    def _check_weights(self, epoch: int) -> None:
        for name, value in self.net.state_dict().items():
            if value.is_floating_point() and not torch.isfinite(value).all():
                self._stop(f"the network's {name} became non-finite in epoch {epoch}")

    def _stop(self, what: str) -> None:
        last = self.log[-1]["epoch"] if self.log else None
        kept = (f"the checkpoint after epoch {last} is kept in {self.run_dir}"
                if last is not None else "no epoch had finished, so nothing is kept")
        raise NonFiniteTraining(f"{what}; the run stops, and {kept}",
                                hint=f"the likeliest cause is a step too large (--lr "
                                     f"{self.config.lr}, --grad-clip {self.config.grad_clip}): "
                                     "start a new run with smaller ones")

    def _finish(self) -> TrainResult:
        final = self.log[-1]["test_acc"]
        best = max(entry["test_acc"] for entry in self.log)
        if self.world.main:
            write_json(self.run_dir / RESULT, {
                "arch": self.config.arch, "preset": self.config.preset,
                "epochs": len(self.log), "test_acc": final, "best_test_acc": best,
                "parameters": parameter_counts(self.net)})
        return TrainResult(self.run_dir, final, best, tuple(self.log))


def parameter_counts(net: DerivedNetwork) -> dict:
    """The network's weights, without and with its auxiliary head."""
    total = sum(p.numel() for p in net.parameters())
    auxiliary = sum(p.numel() for p in net.auxiliary.parameters()) if net.auxiliary else 0
    return {"without_auxiliary": total - auxiliary, "with_auxiliary": total}
