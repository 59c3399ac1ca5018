"""Random streams derived from a run's seed, so each use of randomness is reproducible on
its own: the subset, the search split and every epoch's batches draw from separate
generators keyed by what they are for, never from torch's global state, which a resumed
run does not replay."""

from __future__ import annotations

import zlib

import numpy as np
import torch


def generator(seed: int, *keys: int | str) -> torch.Generator:
    """A torch generator seeded from the run's seed and the keys that name the stream."""
    words = [_word(seed)] + [_word(key) for key in keys]
    # SeedSequence mixes the words, so neighbouring seeds or epochs give unrelated streams.
    state = np.random.SeedSequence(words).generate_state(2, dtype=np.uint32)
    return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))


def _word(key: int | str) -> int:
    # crc32, not hash(): string hashes change between processes.
    return zlib.crc32(key.encode()) if isinstance(key, str) else key % 2**64
