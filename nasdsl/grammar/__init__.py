"""The .nas grammar, loaded by package path."""

from __future__ import annotations

import functools
from importlib import resources

import lark


def grammar_text() -> str:
    return resources.files(__package__).joinpath("nas.lark").read_text(encoding="utf-8")


@functools.cache
def lark_parser() -> lark.Lark:
    """The LALR parser for .nas text; built once per process."""
    return lark.Lark(grammar_text(), parser="lalr", strict=True, propagate_positions=True,
                     maybe_placeholders=True)
