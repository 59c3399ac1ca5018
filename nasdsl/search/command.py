"""`nasdsl run`: arguments to a configuration, the search, the report."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import attrs

from nasdsl.arguments import add_set
from nasdsl.errors import NasError
from nasdsl.grammar import number
from nasdsl.plots import plot_run, report
from nasdsl.search.build import nb201_shaped
from nasdsl.files import write_json
from nasdsl.search.config import SearchConfig, flag, options
from nasdsl.search.loop import Search
from nasdsl.search.run_dir import RESULT, RunDirectory, read_config


def add_arguments(parser) -> None:
    """`nasdsl run`'s arguments: its settings as the configuration declares them (a setting
    left out is not in the namespace, so that --resume can tell what was given), --set, the
    run directory's options and the methods' options."""
    from nasdsl.methods import method_names
    parser.add_argument("file", metavar="FILE", nargs="?",
                        help="a .nas path or a shipped space name (not needed with --resume)")
    add_settings(parser, SearchConfig, method_names())
    add_set(parser)
    add_run_directory_options(parser)
    add_method_options(parser)
    parser.set_defaults(command=run_command)


def add_run_directory_options(parser) -> None:
    """The options of a run directory, a search's or a training's, and its progress bars."""
    parser.add_argument("--out", metavar="DIR", help="the run directory (default runs/NAME)")
    parser.add_argument("--resume", metavar="RUN_DIR",
                        help="continue a run that was stopped, with the settings it started with")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the run in --out if it holds another configuration's")
    parser.add_argument("--break-lock", action="store_true",
                        help="clear a lock on the run directory left by a process no longer "
                             "running")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def add_settings(parser, cls: type, methods: list[str] = ()) -> None:
    """An option for each setting that the configuration class `cls` declares; one left
    out is not in the namespace, so that --resume can tell what was given."""
    for field in options(cls):
        parser.add_argument(flag(field), dest=field.name, default=argparse.SUPPRESS,
                            **_argument(field, methods))


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


def given_settings(args, cls: type = SearchConfig) -> dict:
    """The declared settings of `cls` the command line gave, by field name."""
    return {field.name: getattr(args, field.name) for field in options(cls)
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
            if option.kind is bool:
                group.add_argument(f"--{option.name}", dest=_dest(option.name), default=None,
                                   action=argparse.BooleanOptionalAction, help=option.describe())
                continue
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


def parse_override(item: str) -> tuple[str, int | float]:
    """--set NAME=VALUE: a whole number or a real, as the language writes them."""
    name, _, text = item.partition("=")
    value = number(text.strip())
    if not name.strip() or value is None:
        raise NasError(f"--set takes NAME=NUMBER, not {item!r}", hint="e.g. --set C=8 or "
                       "--set rate=0.25")
    return name.strip(), value


def run_command(args) -> int:
    """Check everything the command line names (settings, device, method, run directory)
    before any work, take the run directory, search, report."""
    return in_run_directory(args, _take_run_directory, _search)


def in_run_directory(args, take, work) -> int:
    """`work(args, config, path, world)` on every process of the run (one, or those torchrun
    started), in the run directory that `take(args)` takes on the main process, which the
    others learn (with its configuration) from it; they write nothing. The directory is
    released afterwards, whatever happens."""
    from nasdsl.search.distributed import from_environment, local_device
    world = from_environment(getattr(args, "device", "cpu"))
    taken = take(args) if world.main else None
    path, config = world.broadcast_object(
        (taken[0].path, taken[1]) if taken else None)
    config = attrs.evolve(config, device=local_device(config.device, world))
    try:
        work(args, config, path, world)
    finally:
        if taken:
            taken[0].release()
    world.close()
    return 0


def _search(args, config: SearchConfig, path: Path, world) -> None:
    from nasdsl.backends.torch.network import resolve_device
    resolve_device(config.device)
    search = Search(config, path, progress=not args.no_progress, world=world)
    benchmark = None
    if world.main:
        for note in (*search.feed.notes, search.net.budget_note):
            if note:
                print(f"note: {note}", file=sys.stderr)
        benchmark = _benchmark(config, search.space)  # before training: fails now
    result = search.run()
    if world.main:  # while the run directory is still this run's
        print(_summary(result))
        if benchmark is not None:
            _report_benchmark(benchmark, result)
        report(plot_run(result.run_dir))


def _take_run_directory(args) -> tuple[RunDirectory, SearchConfig]:
    """The run directory (a new one, or --resume's) taken, and the configuration it holds."""
    from nasdsl.methods import get_method
    if args.resume:
        return _resume(args)
    config = config_from_args(args)
    name = f"{Path(config.space).stem}-{config.method}-{time.strftime('%Y%m%d-%H%M%S')}"
    return RunDirectory.for_new_run(
        Path(args.out or Path("runs") / name), config, overwrite=args.overwrite,
        break_lock=args.break_lock, run_files=get_method(config.method).run_files), config


def _resume(args) -> tuple[RunDirectory, SearchConfig]:
    """The run directory of --resume, taken, and its configuration; whatever else the
    command line gives must agree with it."""
    from nasdsl.dsl.sources import resolve
    from nasdsl.methods import get_method
    if args.out is not None or args.overwrite:
        raise NasError("--resume continues a run in its own directory",
                       hint="leave out --out and --overwrite")
    recorded = read_config(Path(args.resume))
    given = given_settings(args)
    if args.file is not None and resolve(args.file).resolve() != resolve(recorded.space).resolve():
        given["space"] = args.file
    if args.set:
        given["overrides"] = tuple(parse_override(item) for item in args.set)
    method = get_method(given.get("method", recorded.method))
    kept = dict(recorded.method_options)
    changed = [f"--{name} {kept.get(name, _default(method, name))!r} there, {value!r} here"
               for name, value in method_options(args, [method.name])
               if kept.get(name, _default(method, name)) != value]
    if changed:
        raise NasError(f"--resume {args.resume} continues the run with its own settings, and "
                       "these differ: " + "; ".join(changed))
    return RunDirectory.for_resume(Path(args.resume), given, break_lock=args.break_lock,
                                   run_files=method.run_files)


def _default(method, name: str):
    return next(option.default for option in method.options if option.name == name)


def _summary(result) -> str:
    lines = [f"{'epoch':>5} {'train loss':>10} {'train acc':>9} {'valid acc':>9} "
             f"{'seconds':>8}  architecture"]
    for entry in result.log:
        lines.append(f"{entry['epoch']:>5} {entry['train_loss']:>10.4f} "
                     f"{100 * entry['train_acc']:>8.2f}% {100 * entry['valid_acc']:>8.2f}% "
                     f"{entry['seconds']:>8.1f}  {entry['arch'] or '(chosen at the end)'}")
    lines += ["", f"derived architecture: {result.arch_text}",
              f"run directory: {result.run_dir}"]
    return "\n".join(lines)


def _benchmark(config: SearchConfig, space):
    """The NAS-Bench-201 benchmark the derived cell will be looked up in, opened and checked
    against the space's cell; None without one. `--benchmark` on a space whose derived cells
    have no arch string is an error; the environment variable applies where they do."""
    from nasdsl.nb201 import ENV_VAR, open_benchmark
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
    from nasdsl.nb201 import format_lookup
    figures, optimum = benchmark.lookup(result.arch_text), benchmark.optimum()
    print(format_lookup(result.arch_text, figures, optimum))
    path = result.run_dir / RESULT
    write_json(path, {**json.loads(path.read_text()),
                      "benchmark": {"figures": figures, "optimum": optimum}})
