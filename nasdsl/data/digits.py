"""scikit-learn's handwritten digits: 1,797 8x8 grayscale images of 10 classes, shipped
inside scikit-learn, so a search runs with no download and no data directory."""

from __future__ import annotations

from pathlib import Path

import torch

from nasdsl.data.images import ImageData, build
from nasdsl.data.seeding import generator
from nasdsl.data.subset import subset_indices
from nasdsl.errors import NasError

TRAIN = 1500  # of 1797; the remaining 297 are the test set
# The train/test split is the dataset's own, like CIFAR's, not the run's: a fixed seed, so
# runs with different seeds are scored on the same test images.
_SPLIT_SEED = 0


def load(name: str, data_dir: Path | None, subset: int | None, seed: int) -> ImageData:
    if data_dir is not None:
        raise NasError("the digits dataset is built in and reads no --data-dir",
                       hint="for files in a directory, also give --dataset (cifar10, cifar100, "
                            "imagefolder or imagenet16-120)")
    from sklearn.datasets import load_digits  # about a second to import: only when used

    digits = load_digits()
    # Pixels are counts 0..16 (of a 4x4 block of a 32x32 bitmap); to 0..255 like the others.
    pixels = torch.from_numpy(digits.images).mul(255 / 16).round().to(torch.uint8)
    images, labels = pixels.unsqueeze(1), torch.from_numpy(digits.target).long()
    order = torch.randperm(len(labels), generator=generator(_SPLIT_SEED, "digits"))
    train, test = order[:TRAIN], order[TRAIN:]
    train_keep, test_keep = subset_indices(len(train), len(test), subset, seed)
    train, test = train[train_keep], test[test_keep]
    return build(name, (images[train], labels[train]), (images[test], labels[test]), 10,
                 flips_keep_class=False)
