"""Whole supernets from a space's IR: stem, cells (naive or planned edges), layers, head.

Architecture parameters are held apart from the weights: the supernet allocates those a
method declares (`contract.ArchParameter`), one tensor per searchable cell kind, and shows the
method each kind through a `contract.KindView`; a forward takes a `contract.Run` saying how
the cells run.
"""

from __future__ import annotations

import warnings

import attrs
import torch
from torch import nn

from nasdsl.architecture.prune import full_mask, restricted
from nasdsl.backends.torch import budget
from nasdsl.backends.torch.cells import Cell, CellBase
from nasdsl.backends.torch.contract import ALPHA, ArchParameter, KindView, Run
from nasdsl.backends.torch.fits import check_fits
from nasdsl.backends.torch.layers import build_layer
from nasdsl.backends.torch.precision import GradScale
from nasdsl.backends.torch.recompute import recomputed
from nasdsl.backends.torch.sharing import SharedSourceCell
from nasdsl.dsl import space as IR
from nasdsl.dsl.elaborate import narrowed
from nasdsl.errors import NasError
from nasdsl.simplify import budget as choose
from nasdsl.simplify.compiler import RULE_SETS, compile_network, edge_site, network_sites
from nasdsl.simplify.cost import Setting


@attrs.frozen
class BuildOptions:
    """How to build a supernet: simplified edges or naive mixes, how plans are chosen,
    kernel normalization of the convs inside searchable edges (seed 000 Eq. 28)."""

    simplify: bool = True
    setting: Setting = Setting()
    rewrites: frozenset[str] | None = None  # None: the cost model chooses
    tie_params: bool = False
    normalize_kernels: bool = False
    device: str = "cpu"  # cpu, cuda, cuda:N or auto (cuda where available)
    dtype: torch.dtype = torch.float32
    # Partial channel connections: 1/K of a cell's channels through each searchable edge's
    # mix, the rest bypassing it (the supernet places the edges' ops at that width).
    partial_channels: int = 1
    # Feature sharing: one set of candidate layers per source node, not per edge
    # (`sharing.SharedSourceCell`).
    share_source_features: bool = False
    # Mixed precision: the forward under autocast in bf16 or fp16 (the weights, the
    # architecture parameters and whatever a method computes from them outside the forward
    # stay in `dtype`; the logits come back in it). fp16 needs a gradient scale (`AmpScale`).
    precision: str = "fp32"
    channels_last: bool = False  # activations and convolution weights in NHWC
    compile: bool = False  # the forward through torch.compile, eager where it fails
    # The most bytes a training step may keep for backward: plans and recomputed stages
    # chosen to fit (`simplify.budget`); None: the plans as `simplify` and `rewrites` say.
    memory_budget: int | None = None


PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_device(name: str) -> torch.device:
    """The torch device a `--device` value names: cpu, cuda, cuda:N or auto (cuda where this
    machine has it); anything else, or a CUDA device this machine lacks, is a NasError that
    says which devices there are."""
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    here = "cpu" + "".join(f", cuda:{index}" for index in range(count))
    if name == "auto":
        return torch.device("cuda" if count else "cpu")
    kind, _, index = name.partition(":")
    if kind not in ("cpu", "cuda") or (index and not index.isdigit()) or (kind == "cpu" and index):
        raise NasError(f"unknown device '{name}'",
                       hint=f"devices are cpu, cuda, cuda:N or auto; this machine has {here}")
    if kind == "cuda" and int(index or 0) >= count:
        what = "no CUDA device" if not count else f"{count} CUDA device{'s' if count > 1 else ''}"
        raise NasError(f"device '{name}' is not available: this machine has {what}",
                       hint=f"use one of {here}, or auto")
    return torch.device(name)


def _narrowed(space: IR.Space, divisor: int) -> IR.Space:
    """`narrowed`, keeping the candidates `space` was restricted to (a stage of a progressive
    search): narrowing elaborates the space again from its files."""
    narrow = narrowed(space, divisor)
    kept = full_mask(space)
    return narrow if full_mask(narrow) == kept else restricted(narrow, kept)


class ByKind(nn.Module):
    """Parameters keyed by cell-kind name, as a dict. A kind may have any name the language
    allows, `to` and `train` included, so each is stored under a prefix that no module
    attribute has."""

    def __init__(self, tensors: dict[str, torch.Tensor]):
        super().__init__()
        self._names = list(tensors)
        for name, tensor in tensors.items():
            self.register_parameter(f"kind_{name}", nn.Parameter(tensor))

    def __getitem__(self, name: str) -> nn.Parameter:
        if name not in self._names:
            raise KeyError(name)
        return getattr(self, f"kind_{name}")

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def __iter__(self):
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def keys(self) -> list[str]:
        return list(self._names)

    def values(self) -> list[nn.Parameter]:
        return [self[name] for name in self._names]

    def items(self) -> list[tuple[str, nn.Parameter]]:
        return [(name, self[name]) for name in self._names]


class Supernet(nn.Module):
    """The searchable network of a space: `forward(x, run)` with a `contract.Run`.

    `parameters` are the architecture parameters the method declares (DARTS's alpha by
    default); `views[kind]` shows each searchable cell kind to the method; `plans` are the
    compiled plans of the edge sites (None: naive mixes everywhere)."""

    def __init__(self, space: IR.Space, options: BuildOptions = BuildOptions(),
                 parameters: tuple[ArchParameter, ...] = (ALPHA,)):
        super().__init__()
        partial = options.partial_channels
        if partial != 1 and options.share_source_features:
            raise ValueError("feature sharing does not combine with partial channels")
        given, space = space, _narrowed(space, partial)
        network = space.network
        self.options = options
        device = resolve_device(options.device)
        check_fits(network, options.setting, torch.finfo(options.dtype).bits // 8, device)
        # Stages run again in backward (the memory budget's choice), and what was chosen.
        self.recomputed: frozenset[int] = frozenset()
        self.budget_note: str | None = None
        if options.memory_budget is not None:
            self.plans = self._fit_budget(given, network, options)
        else:
            self.plans = compile_network(network, options.setting, options.rewrites,
                                         options.tie_params) if options.simplify else None
        self.stages = nn.ModuleList()
        for stage in network.stages:
            if isinstance(stage, IR.Layer):
                self.stages.append(nn.Sequential(*(build_layer(m) for m in stage.modules)))
            elif options.share_source_features:
                self.stages.append(SharedSourceCell(stage, options.simplify,
                                                    options.normalize_kernels))
            else:
                cell_plans = {index: self.plans[edge_site(stage, edge)]
                              for index, edge in enumerate(stage.edges)} if self.plans else None
                self.stages.append(Cell(stage, cell_plans, options.normalize_kernels))
        # The kinds the search has parameters for: those with searchable edges.
        searched = [kind for kind in space.cell_kinds if kind.edges]
        self.arch_specs = tuple(parameters)
        self.architecture = nn.ModuleDict({spec.name: ByKind({
            kind.name: tensor for kind in searched
            if (tensor := spec.tensor(kind)) is not None}) for spec in parameters})
        # Where the supernet is, for the views' tables, with or without parameters to ask;
        # the views read it from the buffers, not the module, so that no cycle keeps a
        # supernet (and its device memory) alive after its last use.
        self.register_buffer("_anchor", torch.zeros(0), persistent=False)
        if options.precision not in PRECISIONS:
            raise ValueError(f"unknown precision '{options.precision}': {', '.join(PRECISIONS)}")
        self.grad_scale = GradScale() if options.precision == "fp16" else None
        if self.grad_scale is not None:
            self.grad_scale.watch(self.weight_parameters())
        self.to(device=device, dtype=options.dtype)
        if options.channels_last:
            self.to(memory_format=torch.channels_last)
        # Each stage compiled on its own: the loop over stages, which turns a Run into each
        # cell's CellRun, stays in Python (torch.compile cannot trace frozen attrs classes
        # being made). Not registered as modules: the compiled ones hold the same stages.
        # Static shapes: a cell's code serves cells of other shapes, and dynamic shapes
        # there fail in inductor's backward ("Cannot convert expression to float").
        self._runners = [torch.compile(stage, dynamic=False) for stage in self.stages] \
            if options.compile else list(self.stages)
        self.views = {kind.name: KindView(
            kind, space, {spec.name: self.architecture[spec.name][kind.name]
                          for spec in parameters if kind.name in self.architecture[spec.name]},
            tuple(index for index, stage in enumerate(network.stages)
                  if isinstance(stage, IR.Cell) and stage.kind.name == kind.name),
            lambda buffers=self._buffers: buffers["_anchor"].device)
            for kind in searched}

    def _fit_budget(self, given: IR.Space, network: IR.Network,
                    options: BuildOptions) -> dict:
        """The plans, and the stages recomputed in backward, that fit `options.memory_budget`
        at the least modelled time (`simplify.budget`); a NasError where nothing fits."""
        costs = budget_costs(given, options)
        choice = choose.fit(costs, options.memory_budget)
        self.recomputed = choice.recomputed
        self.budget_note = choose.describe(choice, costs.stages, options.memory_budget)
        return {site: choice.plans[site] for site in network_sites(network)}

    def weight_parameters(self):
        """The network's weights: every parameter but the architecture parameters."""
        arch = {id(p) for p in self.arch_parameters()}
        return [p for p in self.parameters() if id(p) not in arch]

    def arch_parameters(self):
        return list(self.architecture.parameters())

    def forward(self, x: torch.Tensor, run: Run = Run()) -> torch.Tensor:
        """The logits, every cell run as `run` says, in the precision and memory format the
        options say (the logits in `dtype`)."""
        if self.options.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        if self.grad_scale is not None:
            x, run = self.grad_scale.out_of(x), self.grad_scale.run_out_of(run)
        lower = PRECISIONS[self.options.precision]
        with torch.autocast(x.device.type, dtype=lower, enabled=lower is not None):
            logits = self._logits(x, run)
        logits = logits.to(self.options.dtype)
        return logits if self.grad_scale is None else self.grad_scale.into(logits)

    def _logits(self, x: torch.Tensor, run: Run) -> torch.Tensor:
        """The last stage's output; where torch.compile fails in the forward, the eager one
        (`fall_back_to_eager`)."""
        try:
            return self.features(x, run)[-1]
        except torch._dynamo.exc.TorchDynamoException as error:
            if not self.fall_back_to_eager(error):
                raise
            return self.features(x, run)[-1]

    def fall_back_to_eager(self, error: Exception) -> bool:
        """After torch.compile failed (an op or a construct it cannot trace, no C++
        compiler on the machine; in the forward, or in a backward, which compiles when it
        first runs): a warning saying so, and the eager stages from then on. False where
        the stages were not compiled (the error is another's)."""
        if self._runners == list(self.stages):
            return False
        lines = str(error).strip().splitlines()
        warnings.warn(f"--compile: torch.compile failed ({type(error).__name__}: "
                      f"{lines[0][:200] if lines else ''}); the supernet runs eagerly",
                      stacklevel=3)
        self._runners = list(self.stages)
        return True

    def features(self, x: torch.Tensor, run: Run = Run()) -> list[torch.Tensor]:
        """The output of every stage, the last being the logits."""
        outputs: list[torch.Tensor] = []
        for index, (stage, runner) in enumerate(zip(self.stages, self._runners)):
            if isinstance(stage, CellBase):
                start = outputs or [x]
                inputs = ([start[0]] * stage.kind.inputs + start)[-stage.kind.inputs:]
                cell_run = run.cell(index, stage.kind.name)
                outputs.append(recomputed(stage, runner, inputs, cell_run)
                               if index in self.recomputed else runner(inputs, cell_run))
            else:
                outputs.append(runner(outputs[-1] if outputs else x))
        return outputs


def budget_costs(space: IR.Space, options: BuildOptions) -> choose.Costed:
    """What the memory budget chooses from, for the supernet `options` build of `space`:
    every stage, with the memory the cost model does not model measured on the naive
    supernet at a small batch, and every edge site's plans (all the simplifier offers, the
    forced rewrites' or the naive mix alone, as `options` say) with their modelled costs."""
    if options.share_source_features:
        raise NasError("a memory budget needs a supernet whose edges hold their own "
                       "candidates; this method shares them between edges",
                       hint="leave out --memory-budget for this method")
    lower = PRECISIONS[options.precision] or options.dtype
    setting = attrs.evolve(options.setting, dtype_bytes=torch.finfo(lower).bits // 8)
    device = resolve_device(options.device)
    # The probe draws its weights and input from generators of its own: a budget leaves the
    # search's random stream as it was.
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        probe = Supernet(space, attrs.evolve(
            options, simplify=False, memory_budget=None, compile=False,
            setting=attrs.evolve(options.setting, batch=budget.PROBE_BATCH)))
        stages = budget.stages(probe, _narrowed(space, options.partial_channels).network,
                               setting)
    rule_sets = RULE_SETS if options.simplify and options.rewrites is None else \
        (tuple(sorted(options.rewrites or ())) if options.simplify else (),)
    return choose.costed(stages, setting, rule_sets, options.tie_params)
