"""The `nasdsl` command line."""

from __future__ import annotations

import argparse
import sys

from nasdsl.dsl.elaborate import load
from nasdsl.dsl.summary import summarize
from nasdsl.errors import NasError

EXIT_USER_ERROR = 2


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
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
    check.add_argument("files", nargs="+", metavar="FILE", help="a .nas path or a shipped space name")
    check.set_defaults(command=_check)

    show = commands.add_parser("show", help="summarize a space: ops, cells, network, size")
    show.add_argument("file", metavar="FILE", help="a .nas path or a shipped space name")
    show.set_defaults(command=_show)
    return parser


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
    space = load(args.file)
    for warning in space.warnings:
        print(warning.render(), file=sys.stderr)
    print(summarize(space), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
