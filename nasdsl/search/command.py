"""`nasdsl run`: arguments to a configuration, the search, the report."""

from __future__ import annotations

import json
import time
from pathlib import Path

from nasdsl.errors import NasError
from nasdsl.search.build import nb201_shaped
from nasdsl.search.config import SearchConfig
from nasdsl.search.loop import Search
from nasdsl.search.results import CONFIG, RESULT, write_json


def config_from_args(args) -> SearchConfig:
    if args.file is None:
        raise NasError("nasdsl run needs a space", hint="nasdsl run spaces/nb201.nas, or "
                                                        "--resume RUN_DIR")
    return SearchConfig(
        space=args.file, method=args.method, dataset=args.dataset, data_dir=args.data_dir,
        subset=args.subset, seed=args.seed, epochs=args.epochs, batch=args.batch,
        train_portion=args.train_portion, lr=args.lr, lr_min=args.lr_min,
        momentum=args.momentum, weight_decay=args.weight_decay, grad_clip=args.grad_clip,
        arch_lr=args.arch_lr, arch_weight_decay=args.arch_weight_decay,
        second_order=args.second_order, beta_decay_max=args.beta_decay, tau_max=args.tau_max,
        tau_min=args.tau_min, partial_k=args.partial_k, arch_warmup=args.arch_warmup,
        simplify=args.simplify, rewrites=args.rewrites,
        kernel_norm=args.kernel_norm, objective=args.objective,
        overrides=tuple(parse_override(item) for item in args.set), device=args.device,
        benchmark=args.benchmark, method_options=method_options(args, [args.method]))


def add_method_options(parser) -> None:
    """An argument group per method for the options it declares (--rome-version ...)."""
    from nasdsl.methods import METHODS, method_names
    seen = set()
    for name in method_names():
        fresh = [option for option in METHODS[name].options if option.name not in seen]
        if not fresh:
            continue
        group = parser.add_argument_group(f"{name} options")
        for option in fresh:
            seen.add(option.name)
            group.add_argument(f"--{option.name}", dest=_dest(option.name), type=option.type,
                               choices=option.choices, default=None,
                               metavar=option.name.upper().replace("-", "_"),
                               help=f"{option.help} (default {option.default})")


def method_options(args, methods: list[str]) -> tuple[tuple[str, object], ...]:
    """The method options given on the command line; an error for one that none of
    `methods` takes."""
    from nasdsl.methods import METHODS, get_method
    taken = {option.name for method in methods for option in get_method(method).options}
    given = []
    for name in sorted({option.name for cls in METHODS.values() for option in cls.options}):
        value = getattr(args, _dest(name), None)
        if value is None:
            continue
        if name not in taken:
            owners = sorted(cls.name for cls in METHODS.values()
                            if any(option.name == name for option in cls.options))
            raise NasError(f"--{name} is an option of {', '.join(owners)}, not of "
                           f"{', '.join(methods)}", hint=f"use it with --method {owners[0]}")
        given.append((name, value))
    return tuple(given)


def _dest(name: str) -> str:
    return "method_option_" + name.replace("-", "_")


def parse_override(item: str) -> tuple[str, int]:
    name, _, value = item.partition("=")
    if not name or not value.strip().lstrip("-").isdigit():
        raise NasError(f"--set takes NAME=NUMBER, not {item!r}", hint="e.g. --set C=8")
    return name.strip(), int(value)


def resumed_config(run_dir: Path) -> SearchConfig:
    path = run_dir / CONFIG
    if not path.is_file():
        raise NasError(f"{run_dir} is not a run directory: it has no {CONFIG}")
    fields = json.loads(path.read_text())
    fields["overrides"] = tuple(tuple(pair) for pair in fields["overrides"])
    fields["arch_betas"] = tuple(fields["arch_betas"])
    fields["method_options"] = tuple(tuple(pair) for pair in fields.get("method_options", ()))
    return SearchConfig(**fields)


def run_command(args) -> int:
    if args.resume:
        run_dir = Path(args.resume)
        config = resumed_config(run_dir)
    else:
        config = config_from_args(args)
        name = f"{Path(config.space).stem}-{config.method}-{time.strftime('%Y%m%d-%H%M%S')}"
        run_dir = Path(args.out or Path("runs") / name)
    search = Search(config, run_dir, progress=not args.no_progress)
    benchmark = _benchmark(config, search.space)  # before training: a wrong one fails now
    result = search.run()
    print(_summary(result))
    if benchmark is not None:
        _report_benchmark(benchmark, result)
    return 0


def _summary(result) -> str:
    lines = [f"{'epoch':>5} {'train loss':>10} {'train acc':>9} {'valid acc':>9} "
             f"{'seconds':>8}  architecture"]
    for entry in result.log:
        lines.append(f"{entry['epoch']:>5} {entry['train_loss']:>10.4f} "
                     f"{100 * entry['train_acc']:>8.2f}% {100 * entry['valid_acc']:>8.2f}% "
                     f"{entry['seconds']:>8.1f}  {entry['arch']}")
    lines += ["", f"derived architecture: {result.arch_text}",
              f"run directory: {result.run_dir}"]
    return "\n".join(lines)


def _benchmark(config: SearchConfig, space):
    """The NAS-Bench-201 benchmark the derived cell will be looked up in, opened and checked
    against the space's cell; None without one. `--benchmark` on a space whose derived cells
    have no arch string is an error; the environment variable applies where they do."""
    from nasdsl.benchmarks.nb201 import ENV_VAR, open_benchmark
    if not nb201_shaped(space):
        if config.benchmark is not None:
            raise NasError(f"--benchmark looks up NAS-Bench-201 cells, and {config.space} is not "
                           "NAS-Bench-201-shaped (one cell kind of one input, every edge kept)",
                           hint=f"leave out --benchmark (or unset {ENV_VAR})")
        return None
    benchmark = open_benchmark(config.benchmark)
    if benchmark is not None:
        benchmark.check_cell(space.cell_kinds[0])
    return benchmark


def _report_benchmark(benchmark, result) -> None:
    """The derived architecture's figures beside the benchmark's optimum, printed and added
    to result.json."""
    from nasdsl.benchmarks.nb201 import format_lookup
    figures, optimum = benchmark.lookup(result.arch_text), benchmark.optimum()
    print(format_lookup(result.arch_text, figures, optimum))
    path = result.run_dir / RESULT
    write_json(path, {**json.loads(path.read_text()),
                      "benchmark": {"figures": figures, "optimum": optimum}})
