"""`--subset N`: which training and test images a smaller run keeps.

Indices are chosen before anything is decoded, so a folder of JPEGs decodes only the kept
files. They come back sorted: the same images in the same order as the full set has them.
"""

from __future__ import annotations

import torch

from nasdsl.data.seeding import generator
from nasdsl.errors import NasError


def subset_indices(train_count: int, test_count: int, subset: int | None,
                   seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices of the kept training and test images: `subset` training images (all of them
    when None or at least the training set's size) and proportionally fewer test images,
    never more than `subset`."""
    if subset is None or subset >= train_count:
        return torch.arange(train_count), torch.arange(test_count)
    if subset < 1:
        raise NasError(f"--subset must be a positive number of images, not {subset}")
    test_keep = min(subset, test_count, max(1, round(subset * test_count / train_count)))
    return (_pick(train_count, subset, generator(seed, "subset", "train")),
            _pick(test_count, test_keep, generator(seed, "subset", "test")))


def _pick(count: int, keep: int, rng: torch.Generator) -> torch.Tensor:
    return torch.randperm(count, generator=rng)[:keep].sort().values
