"""One exception family for everything a user can get wrong.

Every error carries where it happened (file, line, column) and renders itself as a located
message with a caret excerpt, like a compiler. A run that finds several problems raises one
`NasErrors` holding all of them, so a user fixes a file in one pass, not one error per run.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

import attrs


EXCERPT_WIDTH = 120  # characters of a source line an error shows
ERRORS_SHOWN = 50  # a file with thousands of errors shows the first ones, then their count
# A message or hint quotes the user's names: a word of it, and a line, show at most these.
WORD_WIDTH = 160
LINE_WIDTH = 1000


@attrs.frozen
class Location:
    """A position in a source text; line and column count from 1."""

    file: str
    line: int
    column: int
    source_line: str = attrs.field(default="", eq=False, repr=False)

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"

    def excerpt(self, width: int = EXCERPT_WIDTH) -> str:
        """The line with a caret under the column. Every character shows as one column (a
        tab, a form feed or a line separator as a space, so the caret stays under its
        character), and a line wider than `width` is clipped around the column."""
        if not self.source_line:
            return ""
        text = self.source_line.rstrip("\r\n")
        caret = min(self.column - 1, len(text))
        if len(text) > width:
            start = max(0, min(caret - width // 2, len(text) - width))
            clipped = text[start:start + width]
            text = ("..." if start else "") + clipped + ("..." if start + width < len(text) else "")
            caret = caret - start + (3 if start else 0)
        text = "".join(ch if ch.isprintable() else " " for ch in text)
        return f"    {text}\n    {' ' * caret}^"


class NasError(Exception):
    """Base of every error caused by a user's input: never shown as a traceback."""

    def __init__(self, message: str, location: Location | None = None, hint: str = "",
                 severity: str = "error"):
        super().__init__(message)
        self.message = message
        self.location = location
        self.hint = hint
        self.severity = severity

    def render(self) -> str:
        where = f"{self.location}: " if self.location else ""
        lines = [f"{where}{self.severity}: {_clip(self.message)}"]
        if self.location and self.location.excerpt():
            lines.append(self.location.excerpt())
        if self.hint:
            lines.append(f"    hint: {_clip(self.hint)}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.render()


class NasSyntaxError(NasError):
    """The text does not follow the grammar."""


class NasCheckError(NasError):
    """The text parses but means nothing sensible (unknown name, bad value, cycle...)."""


class NasErrors(NasError):
    """Several errors found in one run, reported together in source order."""

    def __init__(self, errors: Iterable[NasError]):
        self.errors = sorted(errors, key=_source_order)
        first = self.errors[0]
        super().__init__(first.message, first.location, first.hint)

    def render(self) -> str:
        count = len(self.errors)
        shown = [e.render() for e in self.errors[:ERRORS_SHOWN]]
        more = f" ({count - ERRORS_SHOWN} more not shown)" if count > ERRORS_SHOWN else ""
        return "\n".join(shown + [f"{count} error{'s' if count != 1 else ''}{more}"])


def _clip(text: str) -> str:
    """`text` with every word (a run without spaces) over WORD_WIDTH characters and every line
    over LINE_WIDTH cut in its middle: a name of thousands of characters, quoted in a
    message, must not bury the message."""
    def middle(part: str, width: int) -> str:
        if len(part) <= width:
            return part
        half = (width - 3) // 2
        return part[:half] + "..." + part[-half:]
    return "\n".join(middle(" ".join(middle(word, WORD_WIDTH) for word in line.split(" ")),
                            LINE_WIDTH) for line in text.split("\n"))


def _source_order(error: NasError) -> tuple:
    loc = error.location
    return (loc.file, loc.line, loc.column) if loc else ("", 0, 0)


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """A hint naming the closest known spelling (the same letters in another case first), or
    an empty string."""
    known = sorted(set(known))
    same = [candidate for candidate in known if candidate.lower() == name.lower()]
    close = same or difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else ""
