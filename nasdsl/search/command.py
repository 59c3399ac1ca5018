"""`nasdsl run`: arguments to a configuration, the search, the report."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import attrs

from nasdsl.arguments import add_set
from nasdsl.errors import NasError
from nasdsl.search.build import nb201_shaped
from nasdsl.search.config import SearchConfig, flag, options
from nasdsl.search.loop import Search
from nasdsl.search.results import CONFIG, RESULT, write_json


def add_arguments(parser) -> None:
    """`nasdsl run`'s arguments: its settings as the configuration declares them (a setting
    left out is not in the namespace, so that --resume can tell what was given), --set, the
    run directory's options and the methods' options."""
    from nasdsl.methods import method_names
    parser.add_argument("file", metavar="FILE", nargs="?",
                        help="a .nas path or a shipped space name (not needed with --resume)")
    for field in options():
        parser.add_argument(flag(field), dest=field.name, default=argparse.SUPPRESS,
                            **_argument(field, method_names()))
    add_set(parser)
    parser.add_argument("--out", metavar="DIR", help="the run directory (default runs/NAME)")
    parser.add_argument("--resume", metavar="RUN_DIR", help="continue a run that was stopped")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_method_options(parser)
    parser.set_defaults(command=run_command)


def _argument(field, methods: list[str]) -> dict:
    """add_argument's keywords for one declared setting: its type from its range or its
    default, its choices, its help with the range and the default."""
    meta, default = field.metadata, field.default
    help = meta["help"] + (f": {', '.join(methods)}" if field.name == "method" else "")
    shown = [meta["range"].describe()] if meta["range"] is not None else []
    if default is not None:
        shown.append(f"default {str(default).lower() if isinstance(default, bool) else default}")
    keywords = {"help": help + (f" ({'; '.join(shown)})" if shown else "")}
    if isinstance(default, bool) or field.type in ("bool | None", "bool"):
        keywords["action"] = argparse.BooleanOptionalAction
        return keywords
    keywords["metavar"] = flag(field)[2:].upper().replace("-", "_")
    if meta["range"] is not None:
        keywords["type"] = meta["range"].parse
    elif meta["choices"]:
        keywords.update(choices=meta["choices"], metavar="|".join(meta["choices"]))
    return keywords


def given_settings(args) -> dict:
    """The declared settings the command line gave, by field name."""
    return {field.name: getattr(args, field.name) for field in options()
            if hasattr(args, field.name)}


def config_from_args(args) -> SearchConfig:
    if args.file is None:
        raise NasError("nasdsl run needs a space", hint="nasdsl run spaces/nb201.nas, or "
                                                        "--resume RUN_DIR")
    given = given_settings(args)
    method = given.get("method", attrs.fields(SearchConfig).method.default)
    return SearchConfig(space=args.file, overrides=tuple(parse_override(item) for item in args.set),
                        method_options=method_options(args, [method]), **given)


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
            group.add_argument(f"--{option.name}", dest=_dest(option.name), type=option.parse,
                               choices=option.choices, default=None,
                               metavar=option.name.upper().replace("-", "_"),
                               help=option.describe())


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
