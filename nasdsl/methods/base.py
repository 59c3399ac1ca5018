"""The interface between a search method and the shared search loop and supernet.

A method decides how mixing weights come from the architecture parameters, which losses the
two levels of the bi-level problem minimize (seed 000 Eq. 1), and how the architecture step
is taken. The loop owns everything else: data, optimizers, schedules, logging, checkpoints.
A method declares the architecture parameters it needs (`arch_parameters`) and the supernet
structure it wants (`build_options`: partial channels, feature sharing); it sees the supernet
only through `net.views` (a `contract.KindView` per searchable cell kind), its parameter
lists, and `net(x, run)` with a `contract.Run` (`run` says how a training forward runs).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, ClassVar

import attrs
import torch
import torch.nn.functional as F

from nasdsl.architecture.derive import Architecture, derive
from nasdsl.architecture.prune import Mask
from nasdsl.arguments import ValueType
from nasdsl.backends.torch.contract import ALPHA, ArchParameter, Run, softmax_weights
from nasdsl.backends.torch.network import BuildOptions, Supernet
from nasdsl.dsl.space import Space
from nasdsl.errors import NasError

Score = Callable[[Callable[[], Run], "int | None"], tuple[float, float]]


@attrs.frozen
class Option:
    """A setting of one method, offered by `nasdsl run` and `nasdsl bench` as --NAME: a
    string, a whole number, or a value of a declared type such as a `Range` of numbers,
    perhaps among `choices`; one check (`check`) applies to the command line's value and to
    a configuration's alike."""

    name: str  # e.g. "rome-version"
    kind: type | ValueType  # str, int, or a value type (a Range of numbers, ...)
    default: Any
    help: str
    choices: tuple | None = None

    def parse(self, text: str):
        """The command line's text as this option's value (an argparse type; a flag, for a
        boolean option, is added with BooleanOptionalAction instead)."""
        if not isinstance(self.kind, type):
            return self.kind.parse(text)
        try:
            return self.kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a {self.kind.__name__}, not {text}") \
                from None

    def check(self, value):
        """`value`, or a NasError saying what --NAME takes."""
        if not isinstance(self.kind, type):
            self.kind.check(f"--{self.name}", value)
        if self.choices is not None and value not in self.choices:
            raise NasError(f"--{self.name} is one of {', '.join(map(str, self.choices))}, "
                           f"not {value!r}")
        return value

    def describe(self) -> str:
        """The help text with the valid values and the default."""
        valid = f"{self.kind.describe()}; " if not isinstance(self.kind, type) else \
            f"one of {', '.join(map(str, self.choices))}; " if self.choices else ""
        return f"{self.help} ({valid}default {self.default})"


class Method:
    name: ClassVar[str]
    options: ClassVar[tuple[Option, ...]] = ()
    # The settings (`--flag`s, of the search or of the method) whose values most likely make
    # this method's losses or weights diverge: what a run stopped by a NaN suggests changing.
    unstable_settings: ClassVar[tuple[str, ...]] = ("--lr", "--arch-lr", "--grad-clip")
    # Files the method writes into the run directory besides the search's own.
    run_files: ClassVar[tuple[str, ...]] = ()
    # Whether a step runs one sampled candidate per edge: then no simplified plan computes
    # less than the naive mix, and the supernet is built naive unless rewrites are forced.
    single_path: ClassVar[bool] = False
    # Whether the method has an architecture step (random-ws has none: its architecture
    # comes from `select`), and whether `derive` says at every epoch what it has reached.
    has_arch_step: ClassVar[bool] = True
    derives_each_epoch: ClassVar[bool] = True

    # Under torchrun, the mean over the processes of a list of tensors (set by the search);
    # None: one process.
    averager: Callable[[list], list] | None = None

    def __init__(self, config):
        self.config = config
        self.start_epoch(0)

    def average(self, tensors) -> list:
        """The tensors (None entries kept) averaged over the search's processes: what a
        method applies to the gradients it computes with `autograd.grad`, and to any number
        it decides on from a batch, so that every process takes the same step (each sees
        its slice of the batch). The loop averages the gradients of `backward` itself."""
        return list(tensors) if self.averager is None else self.averager(tensors)

    def option(self, name: str):
        """The value of one of this method's options: the configuration's (checked), or the
        default."""
        option = next(option for option in self.options if option.name == name)
        given = dict(self.config.method_options)
        return option.check(given[name]) if name in given else option.default

    # --- how the supernet is built -------------------------------------------------------------

    def arch_parameters(self) -> tuple[ArchParameter, ...]:
        """The architecture parameters the supernet allocates for this method."""
        return (ALPHA,)

    def build_options(self, options: BuildOptions) -> BuildOptions:
        """`options` as this method's supernet needs them (partial channels, sharing)."""
        return options

    def supernet(self, space: Space, options: BuildOptions = BuildOptions()) -> Supernet:
        """The supernet this method searches `space` with: built as `build_options` adjusts
        `options`, holding the parameters `arch_parameters` declares. A single-path method's
        is naive unless rewrites are forced: no plan computes less than its one candidate
        (a plan computes what candidates share for all of them)."""
        if self.single_path and options.rewrites is None:
            options = attrs.evolve(options, simplify=False)
        return Supernet(space, self.build_options(options), self.arch_parameters())

    def prepare_space(self, space: Space, batches: Callable[[], Iterable], device: torch.device,
                      run_dir: Path | None) -> Space:
        """The space the supernet is built from, given the loaded one; `batches()` iterates
        over training batches (x, y) for methods that look at data first (pruning at
        initialization); files the method writes go to `run_dir` when there is one."""
        return space

    # --- stages: a progressive search rebuilds its supernet between them ------------------------

    def stage_starts(self) -> tuple[int, ...]:
        """The epochs at which a new stage begins (none: the search is one stage). Before
        each, the loop calls `start_epoch` with it, builds the supernet of the space that
        `stage_mask` leaves (as `build_options` now says: a stage may change the partial
        channels), and carries the weights, architecture parameters and optimizer states
        over by name (`backends.torch.carry`)."""
        return ()

    def stage_mask(self, net: Supernet, space: Space) -> Mask:
        """The candidates the beginning stage keeps on each edge of each cell kind, given the
        supernet and the space of the stage that ends."""
        raise NotImplementedError(f"{self.name} declares stages but no stage_mask")

    # --- hooks the loop calls ----------------------------------------------------------------

    @property
    def warmup_epochs(self) -> int:
        """Epochs of weight training before the architecture steps begin."""
        return 0

    def arch_steps_in(self, epoch: int) -> bool:
        """Whether epoch `epoch` takes architecture steps: after the warm-up."""
        return epoch >= self.warmup_epochs

    def start_epoch(self, epoch: int) -> None:
        """Set per-epoch schedules (temperatures, regularization strength)."""
        self.epoch = epoch

    def mixing_weights(self, net: Supernet) -> dict[str, torch.Tensor]:
        return softmax_weights(net.views)

    def run(self, net: Supernet) -> Run:
        """How a training forward runs the cells: the mixing weights, and whatever else the
        method samples or gates."""
        return Run(self.mixing_weights(net))

    def logits(self, net: Supernet, x: torch.Tensor) -> torch.Tensor:
        return net(x, self.run(net))

    def weight_loss(self, net: Supernet, x, y) -> torch.Tensor:
        return F.cross_entropy(self.logits(net, x), y)

    def arch_loss(self, net: Supernet, x, y) -> torch.Tensor:
        return F.cross_entropy(self.logits(net, x), y) + self.regularizer(net)

    def regularizer(self, net: Supernet) -> torch.Tensor:
        return torch.zeros((), device=next(net.parameters()).device)

    def weight_backward(self, net: Supernet, x, y) -> tuple[float, float]:
        """Gradients of the weight loss on a training batch (accumulated into `.grad`; the
        loop zeroes them before, clips and steps after); returns the loss and the batch
        accuracy."""
        logits = self.logits(net, x)
        loss = F.cross_entropy(logits, y)
        loss.backward()
        return loss.item(), (logits.argmax(1) == y).float().mean().item()

    def arch_step(self, net: Supernet, train_batch, valid_batch, arch_optimizer,
                  weight_optimizer) -> float:
        """First-order: one step on the architecture loss of a validation batch."""
        arch_optimizer.zero_grad(set_to_none=True)
        loss = self.arch_loss(net, *valid_batch)
        loss.backward()
        arch_optimizer.step()
        return loss.item()

    def eval_weights(self, net: Supernet) -> dict[str, torch.Tensor]:
        """The weights used to evaluate the supernet and to derive: the softmax."""
        return softmax_weights(net.views)

    def eval_run(self, net: Supernet) -> Run:
        """How the supernet runs when it is evaluated."""
        return Run(self.eval_weights(net))

    def derive(self, net: Supernet, space: Space) -> Architecture:
        """The architecture the search has reached: derivation from the evaluation weights
        (logged at the end of every epoch where `derives_each_epoch`)."""
        weights = self.eval_weights(net)
        return derive(space, {name: w.detach().cpu().tolist() for name, w in weights.items()})

    def select(self, net: Supernet, space: Space, score: Score) -> Architecture:
        """The architecture the search ends with, chosen once after the last epoch.
        `score(run, batches)` is the supernet's (accuracy, loss) in evaluation mode on the
        first `batches` held-out batches (all: None), each forward run as `run()` returns;
        a method that ranks sampled architectures with the shared weights uses it. By
        default, `derive`."""
        return self.derive(net, space)


def path_run(net: Supernet, chosen: dict[str, torch.Tensor]) -> Run:
    """A run of one candidate per edge, `chosen[kind]` (edges,) its column (-1: the edge is
    left out), with one-hot weights (zero rows for left-out edges): a single path."""
    weights = {name: F.one_hot(columns.clamp_min(0), net.views[name].mask.shape[1]).float()
               * (columns >= 0).unsqueeze(1) for name, columns in chosen.items()}
    return Run(weights, sampled=dict(chosen))


def linear_schedule(high: float, low: float, epoch: int, epochs: int) -> float:
    """A value falling linearly from `high` at the first epoch to `low` at the last (GDAS's
    temperature)."""
    return high - (high - low) * epoch / max(epochs - 1, 1)
