"""Mini-batches for the search: shuffled and augmented for training, in order for evaluation.

An epoch's order and augmentation come from a generator seeded by (seed, stream, epoch)
alone, never from global random state, so a search resumed at any epoch sees exactly the
batches the uninterrupted run would have: there is no loader state to checkpoint.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import attrs
import torch

from nasdsl.data.augment import Augment, cutout, normalize, random_crop, random_flip
from nasdsl.data.images import ImageData
from nasdsl.data.seeding import generator
from nasdsl.errors import NasError

Batch = tuple[torch.Tensor, torch.Tensor]  # float32 N x C x H x W normalized, int64 labels


@attrs.frozen(eq=False)
class Batches:
    """Batches of `images[indices]`, normalized with mean and std; with `shuffle`, in a new
    order each epoch, with `augment`, randomly cropped and flipped."""

    images: torch.Tensor = attrs.field(repr=False)  # uint8 N x C x H x W
    labels: torch.Tensor = attrs.field(repr=False)
    indices: torch.Tensor = attrs.field(repr=False)  # the images batched, in unshuffled order
    batch_size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    augment: Augment | None = None
    shuffle: bool = False
    drop_last: bool = False
    seed: int = 0
    # Names the random stream, so that two Batches with one seed (the weight and the
    # architecture halves of a search) shuffle and augment independently.
    stream: str = "train"

    def __attrs_post_init__(self):
        if self.batch_size < 1:
            raise NasError(f"the batch size must be at least 1, not {self.batch_size}")
        if not len(self.indices) or (self.drop_last and len(self.indices) < self.batch_size):
            raise NasError(f"a batch of {self.batch_size} from {len(self.indices)} images "
                           f"leaves no batch", hint="use a smaller --batch or more images")

    @classmethod
    def training(cls, data: ImageData, indices: torch.Tensor, batch_size: int, seed: int,
                 stream: str = "train", augment: Augment | None = None,
                 drop_last: bool = False) -> Batches:
        """Shuffled, augmented batches of some training images (`Augment.standard` unless
        `augment` is given)."""
        return cls(data.train_images, data.train_labels, indices, batch_size, data.mean,
                   data.std, Augment.standard(data) if augment is None else augment,
                   shuffle=True, drop_last=drop_last, seed=seed, stream=stream)

    @classmethod
    def evaluation(cls, data: ImageData, batch_size: int, split: str = "test",
                   indices: torch.Tensor | None = None) -> Batches:
        """Batches in order without augmentation, of the 'test' or 'train' images (all of
        them, or those `indices` names)."""
        if split not in ("train", "test"):
            raise ValueError(f"split is 'train' or 'test', not {split!r}")
        images, labels = ((data.test_images, data.test_labels) if split == "test"
                          else (data.train_images, data.train_labels))
        return cls(images, labels, torch.arange(len(labels)) if indices is None else indices,
                   batch_size, data.mean, data.std)

    def __len__(self) -> int:
        count = len(self.indices) / self.batch_size
        return math.floor(count) if self.drop_last else math.ceil(count)

    def __iter__(self) -> Iterator[Batch]:
        """The batches of evaluation, which do not change from epoch to epoch."""
        if self.shuffle or self.augment is not None:
            raise TypeError("shuffled or augmented batches differ per epoch: use .epoch(n)")
        return self.epoch(0)

    def epoch(self, epoch: int) -> Iterator[Batch]:
        """The batches of one epoch: the same for the same (seed, stream, epoch)."""
        count = len(self.indices)
        rng = generator(self.seed, "batches", self.stream, epoch)
        # Every draw of the epoch up front, in a fixed order: a batch depends on its place
        # in the epoch, not on how many batches were consumed before it.
        order = self.indices[torch.randperm(count, generator=rng)] if self.shuffle \
            else self.indices
        if self.augment is not None:
            offsets = torch.randint(0, 2 * self.augment.padding + 1, (count, 2), generator=rng)
            flips = torch.rand(count, generator=rng) < 0.5
            if self.augment.cutout:  # drawn last: searches without cutout draw as before
                h, w = self.images.shape[2:]
                centers = torch.stack([torch.randint(0, h, (count,), generator=rng),
                                       torch.randint(0, w, (count,), generator=rng)], 1)
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            chosen = order[start:start + self.batch_size]
            images = self.images[chosen]
            if self.augment is not None:
                part = slice(start, start + len(chosen))
                images = random_crop(images, offsets[part], self.augment.padding)
                if self.augment.flip:
                    images = random_flip(images, flips[part])
            images = normalize(images, self.mean, self.std)
            if self.augment is not None and self.augment.cutout:
                images = cutout(images, centers[start:start + len(chosen)], self.augment.cutout)
            yield images, self.labels[chosen]
