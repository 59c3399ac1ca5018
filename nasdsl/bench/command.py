"""`nasdsl bench`: arguments to settings, a row per method and supernet, the table and files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nasdsl.arguments import Bytes, add_plan_choice, add_set, add_space, positive
from nasdsl.bench.measure import Settings, machine, measure
from nasdsl.backends.torch.network import PRECISIONS
from nasdsl.bench.report import table, to_csv, to_json
from nasdsl.errors import NasError
from nasdsl.files import write_text
from nasdsl.methods import get_method
from nasdsl.search.command import method_options, parse_override
from nasdsl.search.run_dir import check_output_file


def add_arguments(parser) -> None:
    add_space(parser)
    parser.add_argument("--methods", default="darts", metavar="LIST",
                        help="comma-separated search methods (default darts)")
    parser.add_argument("--batch", type=positive, default=32, help="batch size (default 32)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument("--repeats", type=positive, default=3,
                        help="timed steps per row; the median is reported (default 3)")
    add_plan_choice(parser)  # of the simplified rows
    parser.add_argument("--no-flops", dest="count_flops", action="store_false",
                        help="skip counting FLOPs (counting is slow on CPU for merged kernels)")
    parser.add_argument("--kernel-norm", choices=("auto", "off", "both"), default="auto",
                        help="rows with kernel normalization (Eq. 28): auto adds a simplified "
                             "one, both adds naive and simplified ones, off none")
    parser.add_argument("--precision", default="fp32", metavar="LIST",
                        help="comma-separated precisions of the rows: fp32, bf16, fp16 "
                             "(default fp32; each adds the supernets' rows in it)")
    parser.add_argument("--memory-budget", default="", metavar="LIST",
                        help="comma-separated amounts of activation memory (e.g. 1GiB,512MiB): "
                             "each adds a row of the supernet fitted to it (plans and "
                             "recomputed cells), its recomputation's peak counted")
    parser.add_argument("--channels-last", action="store_true",
                        help="activations and convolution weights in NHWC")
    add_set(parser)
    parser.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    parser.add_argument("--csv", metavar="FILE", help="also write the rows as CSV")


def settings_from_args(args) -> Settings:
    methods = tuple(name.strip() for name in args.methods.split(",") if name.strip())
    for name in methods:
        get_method(name)  # an unknown name fails here, with a suggestion
    precisions = tuple(name.strip() for name in args.precision.split(",") if name.strip())
    unknown = [name for name in precisions if name not in PRECISIONS]
    if unknown or not precisions:
        raise NasError(f"--precision takes fp32, bf16 or fp16, not {args.precision!r}",
                       hint="e.g. --precision fp32,bf16")
    budgets = []
    for text in (part for part in args.memory_budget.split(",") if part.strip()):
        try:
            budgets.append(Bytes().parse(text))
        except argparse.ArgumentTypeError as error:
            raise NasError(f"--memory-budget {error}", hint="e.g. --memory-budget 1GiB,512MiB")
    return Settings(space=args.file, methods=methods, batch=args.batch,
                    device=args.device, repeats=args.repeats,
                    rewrites=args.rewrites, objective=args.objective,
                    kernel_norm=args.kernel_norm, count_flops=args.count_flops,
                    overrides=tuple(parse_override(item) for item in args.set),
                    method_options=method_options(args, list(methods)),
                    precisions=precisions, channels_last=args.channels_last,
                    memory_budgets=tuple(budgets))


def bench_command(args) -> int:
    settings = settings_from_args(args)
    for option, path in (("--json", args.json), ("--csv", args.csv)):
        if path:
            check_output_file(Path(path), option)  # before the minutes of measuring
    rows = []
    for method in settings.methods:
        prepared = None
        for variant in settings.variants():
            print(f"measuring {method}, {variant.label} ...", file=sys.stderr, flush=True)
            row, prepared = measure(settings, method, variant, prepared)
            rows.append(row)
    where = machine(settings.device)
    print(table(settings, where, rows), end="")
    if args.json:
        write_text(Path(args.json), to_json(settings, where, rows))
    if args.csv:
        write_text(Path(args.csv), to_csv(rows))
    return 0
