"""The search's split of the training set (DARTS's train_portion): one part trains the
weights, the other the architecture parameters (seed 000 Eq. 1)."""

from __future__ import annotations

import math

import attrs
import torch

from nasdsl.data.images import ImageData
from nasdsl.data.seeding import generator
from nasdsl.errors import NasError


@attrs.frozen(eq=False)
class SearchSplit:
    """Indices into the training images: disjoint, together all of them."""

    weights: torch.Tensor
    arch: torch.Tensor


def split_train(data: ImageData, portion: float = 0.5, seed: int = 0) -> SearchSplit:
    """A seeded random `portion` of the training images for the weights, the rest for the
    architecture. Random rather than DARTS's first-half-in-file-order: a folder of images
    lists them class by class, and a subset is sorted the same way."""
    count = len(data.train_labels)
    if not 0 < portion < 1:
        raise NasError(f"--train-portion must be between 0 and 1 (exclusive), not {portion}",
                       hint="0.5: half the training images for the weights, half for the "
                            "architecture")
    # floor, as DARTS: below 1 the architecture keeps at least one image; the weights may not.
    weights = math.floor(portion * count)
    if weights == 0:
        raise NasError(f"--train-portion {portion} of {count} training images leaves the "
                       f"weights none", hint="use more images (--subset) or a portion nearer 0.5")
    order = torch.randperm(count, generator=generator(seed, "search split"))
    return SearchSplit(order[:weights].sort().values, order[weights:].sort().values)
