"""One benchmark row: a method's supernet (naive or simplified) assembled as a search would
assemble it, and one full search step on random data measured — activation bytes saved for
backward (peak over the step), FLOPs of the step, the median wall time over repeats, and on
CUDA the allocator's peak and CUDA-event time."""

from __future__ import annotations

import platform
import statistics
import time
from collections.abc import Callable

import attrs
import torch

from nasdsl.arguments import format_bytes
from nasdsl.backends.torch.budget import recomputation_peak
from nasdsl.backends.torch.measure import flops, parameter_count, saved_bytes
from nasdsl.dsl.space import Space
from nasdsl.search.build import assemble
from nasdsl.search.config import SearchConfig
from nasdsl.search.step import Optimizers, search_step


@attrs.frozen
class Variant:
    """Which supernet of a method a row measures."""

    label: str
    simplify: bool
    kernel_norm: bool
    precision: str = "fp32"
    memory_budget: int | None = None


NAIVE = Variant("naive", simplify=False, kernel_norm=False)
SIMPLIFIED = Variant("simplified", simplify=True, kernel_norm=False)
NAIVE_KN = Variant("naive+kn", simplify=False, kernel_norm=True)
SIMPLIFIED_KN = Variant("simplified+kn", simplify=True, kernel_norm=True)


@attrs.frozen
class Settings:
    space: str
    methods: tuple[str, ...] = ("darts",)
    batch: int = 32
    device: str = "cpu"
    repeats: int = 3
    rewrites: str | None = None  # None: the cost model chooses
    objective: str = "cost"
    kernel_norm: str = "auto"  # auto: a simplified+kn row; both: +kn rows for both; off
    overrides: tuple[tuple[str, int], ...] = ()
    classes: int = 10
    image: tuple[int, int] = (3, 32)  # channels, size: CIFAR-10's
    method_options: tuple[tuple[str, object], ...] = ()
    seed: int = 0
    # FlopCounterMode sends every op through Python, which is slow on merged-kernel plans
    # (many small kernel-building ops): scripts that report no FLOPs leave it out.
    count_flops: bool = True
    precisions: tuple[str, ...] = ("fp32",)  # each adds its rows, labelled but for fp32
    channels_last: bool = False
    memory_budgets: tuple[int, ...] = ()  # each adds a row of the supernet fitted to it

    def variants(self) -> tuple[Variant, ...]:
        base = {"off": (NAIVE, SIMPLIFIED), "auto": (NAIVE, SIMPLIFIED, SIMPLIFIED_KN),
                "both": (NAIVE, NAIVE_KN, SIMPLIFIED, SIMPLIFIED_KN)}[self.kernel_norm]
        base += tuple(Variant(f"budget {format_bytes(budget)}", simplify=True,
                              kernel_norm=False, memory_budget=budget)
                      for budget in self.memory_budgets)
        return tuple(variant if precision == "fp32" else attrs.evolve(
            variant, label=f"{variant.label} {precision}", precision=precision)
            for precision in self.precisions for variant in base)


@attrs.frozen
class Row:
    method: str
    variant: str
    weights: int
    arch_params: int
    activation_bytes: int
    flops: int | None  # None where not counted
    step_seconds: float  # median over the repeats
    # The method runs one sampled candidate per edge (GDAS, ROME): its simplified supernet is
    # the naive one unless rewrites are forced.
    single_path: bool = False
    peak_cuda_bytes: int | None = None
    cuda_seconds: float | None = None  # median CUDA-event time of a step


def measure(settings: Settings, method: str, variant: Variant,
            prepared: Space | None = None) -> tuple[Row, Space]:
    """One row, and the space the method searched, to pass as `prepared` to its other rows
    (a method that prunes before searching prunes once)."""
    config = SearchConfig(
        space=settings.space, method=method, batch=settings.batch, seed=settings.seed,
        simplify=variant.simplify, rewrites=settings.rewrites if variant.simplify else None,
        kernel_norm=variant.kernel_norm, objective=settings.objective,
        overrides=settings.overrides, device=settings.device,
        method_options=settings.method_options, precision=variant.precision,
        channels_last=settings.channels_last, memory_budget=variant.memory_budget)
    torch.manual_seed(settings.seed)
    channels, size = settings.image

    def random_batch(device="cpu"):
        return (torch.randn(settings.batch, channels, size, size, device=device),
                torch.randint(settings.classes, (settings.batch,), device=device))

    parts = assemble(config, settings.classes, settings.image,
                     lambda: (random_batch() for _ in range(4)), run_dir=None, prepared=prepared)
    device, net = parts.device, parts.net
    net.train()
    train, arch = random_batch(device), random_batch(device)
    optimizers = Optimizers(parts.weight_optimizer, parts.arch_optimizer, config.grad_clip)

    def step():
        search_step(parts.method, net, train, arch, optimizers)

    # The first step also warms up. Recomputed stages' backward brings their insides back,
    # which the saved bytes do not see: the largest of them counts on top.
    activation = saved_bytes(step, exclude=net) + recomputation_peak(
        net, lambda: net(train[0], parts.method.run(net)))
    counted = flops(step) if settings.count_flops else None
    seconds, cuda_seconds, peak = _time_steps(step, settings.repeats, device)
    arch_count = sum(p.numel() for p in net.arch_parameters())
    return Row(method, variant.label, parameter_count(net) - arch_count, arch_count,
               activation, counted, seconds, parts.method.single_path, peak,
               cuda_seconds), parts.space


def _time_steps(step: Callable[[], None], repeats: int, device: torch.device):
    """Median wall seconds of `repeats` steps; on CUDA also the median CUDA-event seconds and
    the allocator's peak over them."""
    cuda = device.type == "cuda"
    walls, events = [], []
    if cuda:
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    for _ in range(repeats):
        if cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
        began = time.perf_counter()
        step()
        if cuda:
            end.record()
            torch.cuda.synchronize(device)
            events.append(start.elapsed_time(end) / 1000)
        walls.append(time.perf_counter() - began)
    if not cuda:
        return statistics.median(walls), None, None
    return (statistics.median(walls), statistics.median(events),
            torch.cuda.max_memory_allocated(device))


def machine(device: str) -> str:
    """The machine the figures come from, in words."""
    words = [platform.processor() or platform.machine(), f"{torch.get_num_threads()} threads",
             f"torch {torch.__version__}"]
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next((line.split(":", 1)[1].strip() for line in cpuinfo
                          if line.startswith("model name")), None)
        if model:
            words[0] = model
    except OSError:
        pass
    if device != "cpu" and torch.cuda.is_available():
        words.append(torch.cuda.get_device_name())
    return ", ".join(words)
