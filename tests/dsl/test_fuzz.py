"""The checker answers every input quickly, in bounded memory, with located errors only: a
corpus of inputs that once broke it (each file says what to expect in its first line), and
a seeded fuzz run of 10,000 mutated spaces under the slow marker."""

import contextlib
import random
import signal
import time
from pathlib import Path

import pytest

from nasdsl.dsl.elaborate import load
from nasdsl.dsl.summary import summarize
from nasdsl.errors import NasError
from tests.dsl.test_roundtrip import assert_located
from tests.fuzzer import mutate
from tests.paths import SPACES

CORPUS = sorted((Path(__file__).resolve().parent.parent / "corpus").glob("*.nas"))
SECONDS = 10  # a bound generous for a slow CI machine: the cases take well under one here


class Hung(Exception):
    """The checker took far past the bound on one input: stopped, so that the run fails
    naming the input instead of running until CI's own limit."""


@contextlib.contextmanager
def deadline(seconds: float):
    """Raise Hung in the main thread after `seconds` (where the platform has SIGALRM)."""
    if not hasattr(signal, "SIGALRM"):
        yield
        return
    def hung(signum, frame):
        raise Hung(f"still running after {seconds:.0f} s")
    previous = signal.signal(signal.SIGALRM, hung)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def checked(path: Path) -> tuple[list[str] | None, float]:
    """The errors' messages (None when the space loads and summarizes) and the time taken;
    every error located, and no exception outside NasError."""
    started = time.perf_counter()
    try:
        with deadline(3 * SECONDS):
            summarize(load(path))
        messages = None
    except NasError as raised:
        errors = getattr(raised, "errors", [raised])
        for error in errors:
            assert_located(error)
            assert len(error.render()) < 2_000, "an excerpt is clipped"
        messages = [error.message for error in errors]
    return messages, time.perf_counter() - started


@pytest.mark.parametrize("path", CORPUS, ids=[path.stem for path in CORPUS])
def test_corpus(path):
    """Each case loads (`# expect: ok`) or gives located errors, one saying what its first
    line expects, within the time bound."""
    expect = path.read_bytes().split(b"\n", 1)[0].decode().removeprefix("\ufeff")
    expected = expect.removeprefix("# expect: ")
    messages, seconds = checked(path)
    assert seconds < SECONDS
    if expected == "ok":
        assert messages is None
    else:
        assert messages is not None and any(expected in m for m in messages), messages


@pytest.mark.slow
def test_fuzz_ten_thousand_mutated_spaces(tmp_path):
    """10,000 mutations of the shipped spaces (seeded, tests/fuzzer.py): none raises outside
    the project's error family, none takes over 10 s, every error is located."""
    texts = [path.read_text() for path in sorted(SPACES.glob("*.nas"))]
    path = tmp_path / "space.nas"
    slowest = 0.0
    for seed in range(10_000):
        rng = random.Random(seed)
        path.write_bytes(mutate(rng, rng.choice(texts)))
        try:
            _, seconds = checked(path)
        except Exception as error:
            raise AssertionError(f"seed {seed}: {type(error).__name__}: {error}") from error
        assert seconds < SECONDS, f"seed {seed} took {seconds:.1f} s"
        slowest = max(slowest, seconds)
