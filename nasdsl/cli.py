"""The `nasdsl` command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nasdsl.arguments import add_plan_choice, add_set, add_space, positive
from nasdsl.bench.command import add_arguments as add_bench_arguments
from nasdsl.bench.command import bench_command
from nasdsl.dsl.elaborate import load
from nasdsl.dsl.summary import summarize
from nasdsl.errors import NasError
from nasdsl.plots import plot_run, report
from nasdsl.search.command import add_arguments as add_run_arguments
from nasdsl.train.command import add_arguments as add_train_arguments
from nasdsl.search.command import add_method_options, parse_override
from nasdsl.simplify.compiler import parse_rewrites
from nasdsl.simplify.cost import Setting
from nasdsl.simplify.explain import explain

EXIT_USER_ERROR = 2


def main(argv: list[str] | None = None) -> int:
    from nasdsl.methods import BROKEN_PLUGINS
    parser = _parser()
    args = parser.parse_args(argv)
    # A broken plugin the command asks for is its error; any other is worth a warning.
    asked = {getattr(args, "method", None), *str(getattr(args, "methods", "")).split(",")}
    for name, error in BROKEN_PLUGINS.items():
        if name not in asked:
            print(f"warning: {error.render().removeprefix('error: ')}", file=sys.stderr)
    try:
        return args.command(args)
    except NasError as error:
        print(error.render(), file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nasdsl", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    check = commands.add_parser("check", help="parse and check .nas files; report every error")
    check.add_argument("files", nargs="+", metavar="FILE",
                       help="a .nas path or a shipped space name")
    check.set_defaults(command=_check)

    show = commands.add_parser("show", help="summarize a space: ops, cells, network, size, "
                                            "and what one search step costs")
    add_space(show)
    show.add_argument("--batch", type=positive, default=8,
                      help="batch of the measured training step (default 8)")
    show.add_argument("--no-cost", action="store_true",
                      help="skip building the supernets and measuring a step")
    add_set(show)
    show.set_defaults(command=_show)

    simplify = commands.add_parser(
        "simplify", help="simplify each distinct searchable edge (TopoNAS) and explain how")
    add_space(simplify)
    simplify.add_argument("--explain", action="store_true", help="also print each plan's tree")
    add_plan_choice(simplify)
    simplify.add_argument("--target", choices=("cpu", "cuda"), default="cpu")
    simplify.add_argument("--batch", type=positive, default=64)
    simplify.add_argument("--tie-params", action="store_true",
                          help="also share modules with parameters (ties their weights: a "
                               "different supernet, outside the exactness guarantees)")
    add_set(simplify)
    simplify.set_defaults(command=_simplify)

    run = commands.add_parser("run", help="search a space with a one-shot method")
    add_run_arguments(run)

    train = commands.add_parser(
        "train", help="train a derived architecture from scratch under a protocol's preset")
    add_train_arguments(train)

    bench = commands.add_parser(
        "bench", help="measure one search step per method, naive against simplified")
    add_bench_arguments(bench)
    add_method_options(bench)
    bench.set_defaults(command=bench_command)

    plot = commands.add_parser("plot", help="draw a run directory's plots again: losses and "
                                            "accuracies, architecture weights, benchmark")
    plot.add_argument("run_dir", metavar="RUN_DIR", help="a directory that `nasdsl run` wrote")
    plot.set_defaults(command=_plot)
    return parser


def _overrides(args) -> dict[str, int | float]:
    return dict(parse_override(item) for item in args.set)


def _check(args) -> int:
    status = 0
    for file in args.files:
        try:
            space = load(file)
        except NasError as error:
            print(error.render(), file=sys.stderr)
            status = EXIT_USER_ERROR
            continue
        for warning in space.warnings:
            print(warning.render(), file=sys.stderr)
        count = len(space.warnings)
        print(f"{file}: ok" + (f" ({count} warning{'s' if count != 1 else ''})" if count else ""))
    return status


def _show(args) -> int:
    space = load(args.file, overrides=_overrides(args))
    for warning in space.warnings:
        print(warning.render(), file=sys.stderr)
    print(summarize(space), end="")
    if space.network is not None and not args.no_cost:
        from nasdsl.backends.torch.report import supernet_costs  # torch loads only when needed
        print(supernet_costs(space, args.batch), end="")
    return 0


def _simplify(args) -> int:
    space = load(args.file, overrides=_overrides(args))
    rewrites = parse_rewrites(args.rewrites) if args.rewrites is not None else None
    setting = Setting(batch=args.batch, target=args.target, objective=args.objective)
    print(explain(space, setting, rewrites, args.tie_params, args.explain), end="")
    return 0


def _plot(args) -> int:
    report(plot_run(Path(args.run_dir)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
