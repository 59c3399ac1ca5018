"""Argument types the command line's parsers share."""

from __future__ import annotations

import argparse


def positive(text: str) -> int:
    """A whole number of at least 1 (a batch, a count of epochs or repeats)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text}")
    return value


def add_set(parser) -> None:
    """--set NAME=VALUE, repeatable: the network's `let`s a command overrides."""
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="override a `let` of the network, e.g. --set C=8 --set N=1")
