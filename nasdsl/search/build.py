"""What a search is made of, given its configuration: the method, the space it searches (as
the method loads and prepares it), the supernet and the two optimizers. `nasdsl run` and
`nasdsl bench` assemble them here alike, so that a benchmark measures what a search runs."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from pathlib import Path

import attrs
import torch

from nasdsl.backends.torch.network import BuildOptions, Supernet, resolve_device
from nasdsl.backends.torch.sync_bn import synchronize_batch_norm
from nasdsl.dsl.elaborate import load
from nasdsl.dsl.printer import print_program
from nasdsl.dsl.space import Space
from nasdsl.errors import NasError
from nasdsl.methods import get_method
from nasdsl.methods.base import Method
from nasdsl.search.config import SearchConfig
from nasdsl.search.distributed import World
from nasdsl.simplify.compiler import parse_rewrites
from nasdsl.simplify.cost import Setting


def nb201_shaped(space: Space) -> bool:
    """One cell kind of one input whose every edge is kept: NB201's arch strings apply (not
    to a macro space of one layer, nor to a cell whose vertices carry the ops)."""
    kind = space.cell_kinds[0] if len(space.cell_kinds) == 1 else None
    return (kind is not None and kind.inputs == 1 and kind.derive.top is None
            and not kind.layer and not kind.node_ops)


@attrs.frozen
class SearchParts:
    method: Method
    space: Space
    net: Supernet
    weight_optimizer: torch.optim.SGD
    arch_optimizer: torch.optim.Adam
    device: torch.device
    space_digest: str  # of the space's text as loaded, before the method prepared it


def space_digest(space: Space) -> str:
    """A SHA-256 of the space's canonical text (its files, imports first): what a checkpoint
    records, so that resuming after the .nas file changed is caught."""
    text = "\n".join(print_program(program) for program in space.programs)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def assemble(config: SearchConfig, classes: int, image: tuple[int, int],
             batches: Callable[[], Iterable], run_dir: Path | None,
             prepared: Space | None = None, world: World = World()) -> SearchParts:
    """The parts of a search on images of `image` = (channels, size) in `classes` classes;
    `batches()` gives training batches to methods that look at data before the search.
    `prepared`: the space as this method prepared it before (pruning is done once)."""
    method = get_method(config.method)(config)
    if world.size > 1:
        method.averager = world.average
    device = resolve_device(config.device)
    loaded = loaded_space(config, classes, image)
    space = prepared or method.prepare_space(loaded, batches, device, run_dir)
    net = supernet(config, method, space, device, world)
    return SearchParts(method, space, net, *optimizers(config, net, space, world), device,
                       space_digest(loaded))


def supernet(config: SearchConfig, method: Method, space: Space, device: torch.device,
             world: World = World()) -> Supernet:
    """The method's supernet of `space` as the configuration asks; with --sync-bn on several
    processes, its batch norm normalizes over the global batch (on one process, plain batch
    norm does already)."""
    net = method.supernet(space, build_options(config, device))
    if config.sync_bn and world.size > 1:
        synchronize_batch_norm(net)
    return net


def optimizers(config: SearchConfig, net: Supernet, space: Space,
               world: World = World()) -> tuple[torch.optim.SGD, torch.optim.Adam]:
    """The weight optimizer (SGD) and the architecture optimizer (Adam) of a supernet; on
    several processes the architecture step averages its gradients first (the method takes
    it; the weights' are averaged by the search step, before clipping)."""
    weight_optimizer = torch.optim.SGD(
        net.weight_parameters(), config.lr, momentum=config.momentum,
        weight_decay=config.resolved_weight_decay(nb201_shaped(space)))
    # One group, perhaps empty: a method may declare no architecture parameters.
    arch_optimizer = torch.optim.Adam(
        [{"params": net.arch_parameters()}], config.arch_lr, betas=config.arch_betas,
        weight_decay=config.arch_weight_decay)
    if world.size > 1:
        arch_optimizer.register_step_pre_hook(lambda optimizer, args, kwargs: (
            world.average_gradients(p for group in optimizer.param_groups
                                    for p in group["params"])))
    if net.grad_scale is not None:  # fp16: a step whose gradients overflowed is skipped
        net.grad_scale.guard(weight_optimizer)
        net.grad_scale.guard(arch_optimizer)
    return weight_optimizer, arch_optimizer


def loaded_space(config: SearchConfig, classes: int, image: tuple[int, int]) -> Space:
    """The space the configuration names, for this data, before the method prepares it."""
    space = load(config.space, overrides=dict(config.overrides), image=image, classes=classes)
    if space.network is None:
        raise NasError(f"{config.space} has no network to search",
                       hint="a space to search needs a `network` definition")
    if not any(kind.edges for kind in space.cell_kinds):
        raise NasError(f"{config.space} has nothing to search: every edge has one op",
                       hint="an edge is searched when it has two candidates or more; a "
                            "derived space is trained, not searched")
    return space


def build_options(config: SearchConfig, device: torch.device) -> BuildOptions:
    """The supernet the configuration asks for, before the method adjusts it."""
    setting = Setting(batch=config.batch, target=device.type, objective=config.objective)
    rewrites = parse_rewrites(config.rewrites) if config.rewrites is not None else None
    return BuildOptions(simplify=config.simplify is not False, setting=setting,
                        rewrites=rewrites, normalize_kernels=config.kernel_norm,
                        device=str(device), precision=config.precision,
                        channels_last=config.channels_last, compile=config.compile,
                        memory_budget=config.memory_budget)
