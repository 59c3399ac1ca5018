"""The .nas grammar, loaded by package path."""

from __future__ import annotations

import functools
import math
import re
from importlib import resources

import lark


def grammar_text() -> str:
    return resources.files(__package__).joinpath("nas.lark").read_text(encoding="utf-8")


def number(text: str) -> int | float | None:
    """The value of `text` read as the language reads a literal (a whole number, or a real
    like 0.25 or 1e-3), perhaps negative; None if it is neither, or too large for a float."""
    sign, digits = (-1, text[1:]) if text.startswith("-") else (1, text)
    patterns = _number_patterns()
    if patterns["INT"].fullmatch(digits):
        return sign * int(digits)
    if patterns["REAL"].fullmatch(digits) and math.isfinite(float(digits)):
        return sign * float(digits)
    return None


@functools.cache
def _number_patterns() -> dict[str, re.Pattern]:
    return {t.name: re.compile(t.pattern.to_regexp()) for t in lark_parser().terminals
            if t.name in ("INT", "REAL")}


@functools.cache
def lark_parser() -> lark.Lark:
    """The LALR parser for .nas text; built once per process."""
    return lark.Lark(grammar_text(), parser="lalr", strict=True, propagate_positions=True,
                     maybe_placeholders=True)
