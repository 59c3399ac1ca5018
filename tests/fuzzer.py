"""The checker's fuzzer: seeded mutations of .nas text, at the character and the byte level.

Besides hypothesis's slice edits (tests/strategies.py), what a fuzzer found to hurt a checker:
bytes that are not UTF-8, line separators the lexer does not count, nesting deep enough for
Python's recursion limit, numbers too large for a float, and sizes that are absurd but valid
(a hundred nodes, ten thousand cells, chains of chains that double at every level). Each
mutation draws from one `random.Random`, so a seed names its input.
"""

from __future__ import annotations

import random
import re

# Characters that are one column to the lexer but not to str.splitlines or a terminal.
ODD_CHARACTERS = ("\f", "\v", "\x1c", "\x85", "\u2028", "\u2029", "\t", "\r", "\x00", "\ufeff",
                  "é", "😀")
ODD_BYTES = (b"\xff", b"\xc3", b"\xe2\x80", b"\x80\x80", b"\xed\xa0\x80")
_NUMBER = re.compile(r"\b\d+\b")


def _slice(rng: random.Random, text: str, longest: int = 40) -> tuple[int, int]:
    start = rng.randrange(len(text) + 1)
    return start, min(len(text), start + rng.randrange(longest + 1))


def _numbers(text: str) -> list[re.Match]:
    return list(_NUMBER.finditer(text))


def delete(rng, text):
    start, end = _slice(rng, text)
    return text[:start] + text[end:]


def duplicate(rng, text):
    start, end = _slice(rng, text)
    return text[:end] + text[start:end] + text[end:]


def repeat(rng, text):
    """A slice repeated hundreds of times: long chains, many candidates, many statements."""
    start, end = _slice(rng, text, 30)
    return text[:end] + text[start:end] * rng.choice((100, 1000, 3000)) + text[end:]


def swap(rng, text):
    start, end = _slice(rng, text)
    after = min(len(text), end + rng.randrange(41))
    return text[:start] + text[end:after] + text[start:end] + text[after:]


def odd_character(rng, text):
    at = rng.randrange(len(text) + 1)
    return text[:at] + rng.choice(ODD_CHARACTERS) * rng.choice((1, 1, 3)) + text[at:]


def huge_number(rng, text):
    found = _numbers(text)
    if not found:
        return text
    match = rng.choice(found)
    number = "1" + "0" * rng.choice((6, 12, 20, 400, 5000)) + str(rng.randrange(7))
    return text[:match.start()] + number + text[match.end():]


def nested(rng, text):
    """A number replaced by a deeply nested expression: parentheses, or a long sum."""
    found = _numbers(text)
    if not found:
        return text
    match = rng.choice(found)
    depth = rng.choice((50, 500, 5000))
    shape = rng.choice(("parens", "sum", "product"))
    if shape == "parens":
        value = "(" * depth + match.group() + ")" * depth
    elif shape == "sum":
        value = "0 + " * depth + match.group()
    else:
        value = "1 * (" * depth + match.group() + ")" * depth
    return text[:match.start()] + value + text[match.end():]


def absurd_size(rng, text):
    """One count in a cell or network statement made absurd but valid."""
    keyword = rng.choice(("nodes", "inputs", "* ", "channels", "size=", "kernel=", "out="))
    at = text.find(keyword)
    if at < 0:
        return text
    match = _NUMBER.search(text, at)
    if match is None:
        return text
    value = str(rng.choice((100, 1000, 10_000, 10 ** 6, 10 ** 9 + 1)))
    return text[:match.start()] + value + text[match.end():]


def doubling_chains(rng, text):
    """Chains each calling the one before twice: a few hundred bytes that expand to 2^k
    modules."""
    levels = rng.choice((10, 20, 40))
    lines = ["chain fz0 = relu"] + [f"chain fz{k} = fz{k - 1} -> fz{k - 1}"
                                    for k in range(1, levels)]
    text = "\n".join(lines) + "\n" + text
    return text.replace("= relu ->", f"= fz{levels - 1} ->", 1)


MUTATIONS = (delete, delete, duplicate, swap, repeat, odd_character, odd_character, huge_number,
             nested, absurd_size, doubling_chains)


def mutate(rng: random.Random, text: str) -> bytes:
    """`text` after one to three mutations, as the bytes of a file; now and then with bytes
    that are not UTF-8 put in."""
    for _ in range(rng.randint(1, 3)):
        text = rng.choice(MUTATIONS)(rng, text)
    data = text.encode("utf-8")
    if rng.random() < 0.1:
        at = rng.randrange(len(data) + 1)
        data = data[:at] + rng.choice(ODD_BYTES) + data[at:]
    return data
