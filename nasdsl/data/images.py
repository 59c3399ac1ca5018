"""The one shape every dataset loads into: both splits as tensors in memory."""

from __future__ import annotations

import attrs
import torch

from nasdsl.errors import NasError


@attrs.frozen(eq=False)
class ImageData:
    """A labelled image dataset. Images are uint8 N x C x H x W (pixels 0..255, so a
    CIFAR-sized set stays small); labels are int64 in 0..classes-1. `mean` and `std` are per
    channel, of pixel / 255: what normalization subtracts and divides by."""

    name: str
    train_images: torch.Tensor = attrs.field(repr=False)
    train_labels: torch.Tensor = attrs.field(repr=False)
    test_images: torch.Tensor = attrs.field(repr=False)
    test_labels: torch.Tensor = attrs.field(repr=False)
    classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    # Whether a mirrored image keeps its class: true for photographs, false for digits.
    flips_keep_class: bool = True

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(channels, height, width)."""
        return tuple(self.train_images.shape[1:])

    @property
    def channels(self) -> int:
        return self.train_images.shape[1]


def build(name: str, train: tuple[torch.Tensor, torch.Tensor],
          test: tuple[torch.Tensor, torch.Tensor], classes: int,
          stats: tuple[tuple[float, ...], tuple[float, ...]] | None = None,
          flips_keep_class: bool = True) -> ImageData:
    """ImageData from (images, labels) pairs; mean and std from the training images unless
    the dataset has standard ones."""
    for split, (_, labels) in (("training", train), ("test", test)):
        check_labels(name, split, labels, classes)
    mean, std = stats or channel_stats(train[0])
    return ImageData(name, train[0].contiguous(), train[1].long(), test[0].contiguous(),
                     test[1].long(), classes, tuple(mean), tuple(std), flips_keep_class)


def check_labels(name: str, split: str, labels: torch.Tensor, classes: int) -> None:
    """A NasError unless every label lies in 0..classes-1."""
    if len(labels) and not 0 <= int(labels.min()) <= int(labels.max()) < classes:
        raise NasError(f"{name}: {split} labels run from {int(labels.min())} to "
                       f"{int(labels.max())}, outside 0..{classes - 1} for {classes} classes")


def channel_stats(images: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and standard deviation of uint8 images, as fractions of 255.

    From a 256-bin histogram per channel: exact, and without a float copy of the images."""
    channels = images.shape[1]
    values = torch.arange(256, dtype=torch.float64)
    means, stds = [], []
    for c in range(channels):
        counts = torch.bincount(images[:, c].reshape(-1), minlength=256).double()
        total = counts.sum()
        mean = (counts * values).sum() / total
        var = (counts * (values - mean) ** 2).sum() / total
        means.append(mean.item() / 255)
        stds.append(var.sqrt().item() / 255)
    return tuple(means), tuple(stds)
