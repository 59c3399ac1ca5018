"""Argument types the command line's parsers share: numeric ranges, --set."""

from __future__ import annotations

import argparse
import math
import re
from typing import Protocol

import attrs

from nasdsl.errors import NasError


class ValueType(Protocol):
    """What a setting's type offers beyond a plain str or int: `Range`, or a method's own."""

    def describe(self) -> str:
        """What it accepts, in --help and in errors."""

    def check(self, name: str, value):
        """`value`, or a NasError naming the setting `name` and what it accepts."""

    def parse(self, text: str):
        """The command line's text as a value (an argparse type)."""


@attrs.frozen
class Range:
    """The values a numeric setting may take: whole numbers or reals (always finite), with
    optional bounds, each included or not. One object parses the command line's text
    (`parse`, an argparse type), checks a value from elsewhere (`check`: a configuration read
    back, a Python caller) and says what it accepts (`describe`, in --help and in errors)."""

    kind: type = float
    low: float | None = None
    high: float | None = None
    low_open: bool = False  # `low` itself is not allowed
    high_open: bool = False

    def describe(self) -> str:
        what = "a whole number" if self.kind is int else "a number"
        if self.low is not None and self.high is not None:
            return (f"{what} in {'(' if self.low_open else '['}{_show(self.low)}, "
                    f"{_show(self.high)}{')' if self.high_open else ']'}")
        if self.low is not None:
            return f"{what} {'>' if self.low_open else '>='} {_show(self.low)}"
        if self.high is not None:
            return f"{what} {'<' if self.high_open else '<='} {_show(self.high)}"
        return what

    def problem(self, value) -> str | None:
        """Why `value` is not in the range, or None."""
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (
                self.kind is int and not isinstance(value, int)) or not math.isfinite(value):
            return f"must be {self.describe()}"
        below = self.low is not None and (value < self.low or (self.low_open and value == self.low))
        above = self.high is not None and (value > self.high or
                                           (self.high_open and value == self.high))
        return f"must be {self.describe()}" if below or above else None

    def check(self, name: str, value):
        """`value`, or a NasError naming the setting and its range."""
        problem = self.problem(value)
        if problem:
            raise NasError(f"{name} {problem}, not {value!r}")
        return value

    def parse(self, text: str):
        """The command line's text as a number in the range (an argparse type)."""
        try:
            value = int(text) if self.kind is int else float(text)
        except ValueError:
            value = text
        problem = self.problem(value)
        if problem:
            raise argparse.ArgumentTypeError(f"{problem}, not {text}")
        return value


def _show(bound: float) -> str:
    return f"{bound:g}" if isinstance(bound, float) else f"{bound:,}" if bound > 10**6 else str(bound)


POSITIVE = Range(int, low=1)  # a batch, a count of epochs or repeats


_UNITS = {"": 1, "b": 1, "k": 2**10, "kib": 2**10, "kb": 10**3, "m": 2**20, "mib": 2**20,
          "mb": 10**6, "g": 2**30, "gib": 2**30, "gb": 10**9, "t": 2**40, "tib": 2**40,
          "tb": 10**12}


def format_bytes(count: int) -> str:
    """A byte count as people read it: 2.00 GiB, 512.0 MiB, 1.5 KiB, 100 bytes."""
    if abs(count) >= 2**30:
        return f"{count / 2**30:,.2f} GiB"
    if abs(count) >= 2**20:
        return f"{count / 2**20:,.1f} MiB"
    if abs(count) >= 2**10:
        return f"{count / 2**10:,.1f} KiB"
    return f"{count} bytes"


@attrs.frozen
class Bytes:
    """An amount of memory: a whole number of bytes, written with a unit as people write it
    (2GiB, 1.5G, 512MiB, 800MB; K, M, G and T are binary, KB, MB, GB and TB decimal)."""

    def describe(self) -> str:
        return "an amount of memory such as 2GiB or 512MiB"

    def problem(self, value) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            return f"must be {self.describe()}"
        return None

    def check(self, name: str, value):
        problem = self.problem(value)
        if problem:
            raise NasError(f"{name} {problem}, not {value!r}")
        return value

    def parse(self, text: str) -> int:
        match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:e[0-9]+)?)\s*([a-zA-Z]*)\s*", text)
        unit = match and match.group(2).lower()
        if not match or unit not in _UNITS:
            raise argparse.ArgumentTypeError(
                f"must be {self.describe()} (units B, KiB, MiB, GiB, TiB, or KB, MB, GB, TB), "
                f"not {text}")
        count = int(float(match.group(1)) * _UNITS[unit])
        if count < 1:
            raise argparse.ArgumentTypeError(f"must be at least one byte, not {text}")
        return count


def positive(text: str) -> int:
    """A whole number of at least 1, as the command line gives it."""
    return POSITIVE.parse(text)


def add_space(parser) -> None:
    """The FILE a command reads."""
    parser.add_argument("file", metavar="FILE", help="a .nas path or a shipped space name")


def add_plan_choice(parser) -> None:
    """--rewrites and --objective: how the simplified supernet's plans are chosen (`nasdsl
    run` takes them from the configuration's fields, with the same meanings)."""
    from nasdsl.simplify.cost import OBJECTIVE_HELP, OBJECTIVES
    parser.add_argument("--rewrites", metavar="LIST",
                        help="force these rewrites (pms,fms,reparam | all | none) instead of "
                             "letting the cost model choose")
    parser.add_argument("--objective", choices=OBJECTIVES, default="cost", help=OBJECTIVE_HELP)


def add_set(parser) -> None:
    """--set NAME=VALUE, repeatable: the network's `let`s a command overrides."""
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="override a `let` of the network, e.g. --set C=8 --set N=1 "
                             "(a whole number, or a real such as 0.25)")
